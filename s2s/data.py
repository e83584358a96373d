"""Synthetic word-doubling data, generated on the fly in id space, with a length curriculum."""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

from .tokenizer import EOS_ID, FIRST_SLOT_ID, PAD_ID, SOS_ID, WordTokenizer

# Length buckets for reporting (1-5, 6-10, ..., 21-26); 27-52 and 53-120 words go through chunking.
LENGTH_BUCKETS = [(1, 5), (6, 10), (11, 15), (16, 20), (21, 26), (27, 52), (53, 120)]


def build_vocabulary(size: int, capitalised: int = 300) -> list[str]:
    """The most frequent English words (wordfreq, offline), plus the capitalised forms of the
    `capitalised` commonest ("I", "The", "My") that begin sentences. Training time only."""
    from wordfreq import top_n_list  # a training-time dependency: the vocabulary ships in tokenizer.json

    frequent = [w for w in top_n_list("en", size * 2) if w.split() == [w] and not w.startswith("<")]
    capitals = [w[0].upper() + w[1:] for w in frequent[:capitalised]]
    words = list(dict.fromkeys(capitals + frequent))  # unique, in order
    return words[:size]


def doubling(ids: list[int]) -> list[int]:
    """[a, b] -> [a, a, b, b, <eos>]: the target the decoder must emit."""
    return [i for i in ids for _ in (0, 1)] + [EOS_ID]


def doubling_text(sentence: str) -> str:
    """ "I love CUDA" -> "I I love love CUDA CUDA": the task itself, on text."""
    return " ".join(w for w in sentence.split() for _ in (0, 1))


@dataclass
class TrainingBatch:
    src: torch.Tensor  # (B, T)
    lengths: torch.Tensor  # (B,)
    tgt_in: torch.Tensor  # (B, 2T+1): <sos> + target without its last token
    tgt_out: torch.Tensor  # (B, 2T+1): doubled source + <eos>, PAD after


def collate(sources: list[list[int]]) -> TrainingBatch:
    """Pad id sequences and their doublings on the right."""
    lengths = torch.tensor([len(s) for s in sources])
    src = torch.full((len(sources), int(lengths.max())), PAD_ID, dtype=torch.long)
    tgt_out = torch.full((len(sources), 2 * src.size(1) + 1), PAD_ID, dtype=torch.long)
    tgt_in = tgt_out.clone()
    for row, ids in enumerate(sources):
        target = doubling(ids)
        src[row, : len(ids)] = torch.tensor(ids)
        tgt_out[row, : len(target)] = torch.tensor(target)
        tgt_in[row, : len(target)] = torch.tensor([SOS_ID] + target[:-1])
    return TrainingBatch(src, lengths, tgt_in, tgt_out)


class SentenceSampler:
    """Random sentences as ids, the way the tokenizer would encode them.

    A sentence's words are drawn uniformly from the vocabulary (so every embedding is
    trained; `s2s.evaluate` draws this way) with probability `uniform_share`, and by a
    Zipf-like rank law otherwise (so common words repeat, as in English). About one word
    in five is outside the vocabulary: it takes the next slot in order of first
    appearance, and sometimes repeats an earlier unknown word. A `run_share` of sentences
    say one word 2-5 times in a row ("no no no"): without them the decoder never learns
    to count copies of the same word and says "no no no no".
    """

    def __init__(
        self,
        tokenizer: WordTokenizer,
        seed: int,
        oov_rate: float = 0.2,
        uniform_share: float = 0.5,
        run_share: float = 0.25,
    ):
        self.rng = random.Random(seed)
        self.uniform_share = uniform_share
        self.run_share = run_share
        self.first_word_id = tokenizer.first_word_id
        self.vocab_size = tokenizer.vocab_size
        self.num_slots = tokenizer.num_slots
        self.oov_rate = oov_rate
        n_words = self.vocab_size - self.first_word_id
        self.zipf_weights = [1.0 / (rank + 10) for rank in range(n_words)]
        self.word_ids = list(range(self.first_word_id, self.vocab_size))

    def sentence(self, length: int) -> list[int]:
        rng = self.rng
        if rng.random() < self.uniform_share:
            words = [rng.randrange(self.first_word_id, self.vocab_size) for _ in range(length)]
        else:
            words = rng.choices(self.word_ids, weights=self.zipf_weights, k=length)
        run = pick_run(rng, length) if length >= 2 and rng.random() < self.run_share else range(0)
        ids, slots_used = [], 0
        for i, word in enumerate(words):
            if i in run[1:]:
                ids.append(ids[-1])  # the run's word again (slots keep their order of first appearance)
                continue
            if rng.random() < self.oov_rate:
                if slots_used and (slots_used == self.num_slots or rng.random() < 0.25):
                    word = FIRST_SLOT_ID + rng.randrange(slots_used)  # an unknown word seen before
                else:
                    word = FIRST_SLOT_ID + slots_used
                    slots_used += 1
            ids.append(word)
        return ids

    def batch(self, lengths: list[int]) -> TrainingBatch:
        return collate([self.sentence(n) for n in lengths])


class Curriculum:
    """Combined curriculum (Zaremba & Sutskever 2014): most batches at the current length level,
    the rest uniform over all lengths learned so far, so short sentences are not forgotten.

    Level batches draw their rows from one narrow length bucket, wasting little padding.
    The uniform share stops at the level: sentences far beyond it cost the most compute
    (the decoder runs 2N + 1 steps) and teach the least.
    """

    def __init__(self, max_len: int, start_level: int, step: int = 2, uniform_share: float = 0.2):
        self.max_len = max_len
        self.level = min(start_level, max_len)
        self.step = step
        self.uniform_share = uniform_share

    def raise_level(self) -> None:
        self.level = min(self.level + self.step, self.max_len)

    def lengths(self, rng: random.Random, batch_size: int) -> list[int]:
        if rng.random() < self.uniform_share:
            return [rng.randint(1, self.level) for _ in range(batch_size)]
        top = rng.randint(max(1, self.level - self.step - 1), self.level)
        return [rng.randint(max(1, top - 3), top) for _ in range(batch_size)]


# --- text sentences, for evaluation through the whole pipeline ---

_EMOJI = ["🙂", "🚀", "🔥", "🎉", "👍", "🐍", "❤️", "🤖", "🌍", "☕"]
_SCRIPTS = ["абвгдежзиклмнопрст", "αβγδεζηθικλμνξπρσ", "अआइईउऊएऐओकखगघचछज", "日本語中文字漢明月山川", "ابتثجحخدذرزسش"]


def random_unknown_word(rng: random.Random) -> str:
    """A word a vocabulary of English words would not have: a name, a number, an emoji, another script, punctuation."""
    kind = rng.randrange(6)
    letters = "abcdefghijklmnopqrstuvwxyz"
    if kind == 0:  # a name
        return rng.choice(letters).upper() + "".join(rng.choices(letters, k=rng.randint(2, 8)))
    if kind == 1:  # a number
        return str(rng.randint(10, 10 ** rng.randint(2, 7)))
    if kind == 2:
        return "".join(rng.choices(_EMOJI, k=rng.randint(1, 2)))
    if kind == 3:  # a word in another script
        return "".join(rng.choices(rng.choice(_SCRIPTS), k=rng.randint(1, 6)))
    if kind == 4:  # an acronym
        return "".join(rng.choices(letters.upper(), k=rng.randint(2, 5)))
    return "".join(rng.choices(letters, k=rng.randint(2, 7))) + rng.choice(".,!?;:")


def random_text_sentence(rng: random.Random, tokenizer: WordTokenizer, length: int, oov_rate: float = 0.2) -> str:
    """A sentence of `length` words: vocabulary words with some unknown ones (sometimes repeated)."""
    words, unknown = [], []
    for _ in range(length):
        if rng.random() < oov_rate:
            if unknown and rng.random() < 0.25:
                words.append(rng.choice(unknown))
            else:
                word = random_unknown_word(rng)
                unknown.append(word)
                words.append(word)
        else:
            words.append(rng.choice(tokenizer.words))
    return " ".join(words)


def pick_run(rng: random.Random, length: int) -> range:
    """Positions of a sentence of `length` >= 2 words where one word is said 2-5 times in a row."""
    run_length = rng.randint(2, min(5, length))
    start = rng.randrange(length - run_length + 1)
    return range(start, start + run_length)


def with_repeated_word(rng: random.Random, sentence: str) -> str:
    """The sentence with one of its words said 2-5 times in a row ("no no no"), over the words after it."""
    words = sentence.split()
    run = pick_run(rng, len(words))
    words[run.start : run.stop] = [words[run.start]] * len(run)
    return " ".join(words)
