"""Words <-> ids: a fixed vocabulary, slot tokens for any other word, padding into a batch."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

PAD, SOS, EOS = "<pad>", "<sos>", "<eos>"
PAD_ID, SOS_ID, EOS_ID = 0, 1, 2
FIRST_SLOT_ID = 3


def slot_token(i: int) -> str:
    return f"<w{i}>"


@dataclass
class Batch:
    """Sentences padded on the right into one tensor."""

    src: torch.Tensor  # (B, T) token ids, PAD after each row's length
    lengths: torch.Tensor  # (B,) true number of words per row
    slots: list[list[str]]  # per row: the original word behind <w0>, <w1>, ...


class WordTokenizer:
    """Case-sensitive whole-word tokenizer.

    Ids: <pad>=0, <sos>=1, <eos>=2, then `num_slots` slot tokens <w0>..<w{K-1}>,
    then the vocabulary. A word outside the vocabulary takes the next free slot in
    order of first appearance in its sentence, so any word round-trips and the
    model only has to learn to copy slot ids, never to spell.
    """

    def __init__(self, words: list[str], num_slots: int):
        if len(set(words)) != len(words):
            raise ValueError("vocabulary words must be unique")
        self.words = list(words)
        self.num_slots = num_slots
        self.itos = [PAD, SOS, EOS] + [slot_token(i) for i in range(num_slots)] + self.words
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        self.first_word_id = FIRST_SLOT_ID + num_slots

    def __len__(self) -> int:
        return len(self.itos)

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def is_slot(self, token_id: int) -> bool:
        return FIRST_SLOT_ID <= token_id < self.first_word_id

    def encode(self, sentence: str) -> tuple[list[int], list[str]]:
        """One sentence -> (ids, slot words). Raises ValueError if it needs more slots than exist."""
        ids, slots, slot_of = [], [], {}
        for word in sentence.split():
            token_id = self.stoi.get(word)
            if token_id is None or token_id < self.first_word_id:  # unknown, or text like "<pad>"
                if word not in slot_of:
                    if len(slots) == self.num_slots:
                        raise ValueError(
                            f"a sentence may hold at most {self.num_slots} distinct words outside the vocabulary"
                        )
                    slot_of[word] = FIRST_SLOT_ID + len(slots)
                    slots.append(word)
                token_id = slot_of[word]
            ids.append(token_id)
        return ids, slots

    def encode_batch(self, sentences: list[str]) -> Batch:
        encoded = [self.encode(s) for s in sentences]
        width = max((len(ids) for ids, _ in encoded), default=0)
        # One tensor from padded lists: a copy per row cost 6 us each, 0.8 ms for a 128-row batch.
        src = torch.tensor([ids + [PAD_ID] * (width - len(ids)) for ids, _ in encoded], dtype=torch.long)
        lengths = torch.tensor([len(ids) for ids, _ in encoded], dtype=torch.long)
        # view: with no sentences the tensor is 1-d
        return Batch(src=src.view(len(encoded), width), lengths=lengths, slots=[slots for _, slots in encoded])

    def token(self, token_id: int, slots: list[str]) -> str:
        """The word an id stands for; a slot gives back its original word (or the slot name if unused)."""
        if self.is_slot(token_id):
            k = token_id - FIRST_SLOT_ID
            return slots[k] if k < len(slots) else slot_token(k)
        return self.itos[token_id]

    def id_of(self, word: str, slots: list[str]) -> int:
        """`token`'s inverse: the id that says `word` in a sentence with these slot words (a word of the sentence,
        <eos>, a vocabulary word or an unused slot's name). ValueError for a word the decoder cannot say."""
        if word in slots:
            return FIRST_SLOT_ID + slots.index(word)
        token_id = self.stoi.get(word)
        if token_id is None or token_id in (PAD_ID, SOS_ID):
            raise ValueError(
                f"{word!r} is not a word the decoder can say here: it says vocabulary words, this "
                "sentence's own words and <eos>"
            )
        return token_id

    def namer(self, slots: list[str]) -> Callable[[int], str]:
        """`token(i, slots)` as a function, for naming many ids of one sentence (a 64 x 26-word batch's top-k tables
        hold some 20,000): the vocabulary list's own lookup for a sentence without slots, most of them; with slots
        a check of the slot ids first. Never a copy of the vocabulary for a sentence: copying its 5,000 names took
        ~130 us a row on a server, longer than naming all of a row's ids (its names' counts, cold in the cache)."""
        if not slots:
            return self.itos.__getitem__
        return lambda token_id: self.token(token_id, slots)

    def decode(self, ids: list[int], slots: list[str]) -> str:
        """Ids -> text, stopping at <eos> and skipping <pad>/<sos>."""
        words = []
        for token_id in ids:
            if token_id == EOS_ID:
                break
            if token_id in (PAD_ID, SOS_ID):
                continue
            words.append(self.token(token_id, slots))
        return " ".join(words)

    def save(self, path: str | Path) -> None:
        data = {"num_slots": self.num_slots, "words": self.words}
        Path(path).write_text(json.dumps(data, ensure_ascii=False, indent=0), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> WordTokenizer:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(words=data["words"], num_slots=data["num_slots"])
