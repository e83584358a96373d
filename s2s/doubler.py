"""WordDoubler: the high-level API, text in, per-step results out."""

from __future__ import annotations

import logging
import math
import os
from dataclasses import asdict, replace

import torch
from tqdm import tqdm

from . import hub
from .fast import generate
from .limits import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_BEAM_WIDTH,
    DEFAULT_MAX_BATCH_TOKENS,
    DEFAULT_TOP_K,
    as_sentences,
    check_beam_width,
    check_top_k,
)
from .model import Generation, Seq2Seq
from .results import DoubleResult, RowRecords
from .tokenizer import WordTokenizer
from .weights import load_checked

log = logging.getLogger(__name__)


def split_into_chunks(words: list[str], max_len: int) -> list[list[str]]:
    """Split words into the fewest chunks of at most max_len, as even as possible (shorter is easier)."""
    count = max(1, math.ceil(len(words) / max_len))
    size, extra = divmod(len(words), count)
    chunks, start = [], 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        chunks.append(words[start:end])
        start = end
    return chunks


def rows_of(sentences: list[str], max_src_len: int) -> tuple[list[str], list[int], list[int]]:
    """Sentences -> batch rows: each sentence, or each chunk of a long one, is one row of the same
    batch. Returns the rows, each row's sentence index and each row's chunk index."""
    rows, row_sentence, row_chunk = [], [], []
    for index, sentence in enumerate(sentences):
        for chunk_index, chunk in enumerate(split_into_chunks(sentence.split(), max_src_len)):
            rows.append(" ".join(chunk))
            row_sentence.append(index)
            row_chunk.append(chunk_index)
    return rows, row_sentence, row_chunk


def length_sorted_batches(lengths: list[int], max_rows: int, max_tokens: int) -> list[list[int]]:
    """Row indices, longest first, cut into batches of at most max_rows rows and max_tokens padded words
    (rows x the batch's longest row): rows of like length share a batch, so padding is small."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    for index in order:
        batch = batches[-1] if batches else None
        if batch is None or len(batch) == max_rows or (len(batch) + 1) * lengths[batch[0]] > max_tokens:
            batches.append([index])
        else:
            batch.append(index)
    return batches


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class WordDoubler:
    """Doubles every word of each sentence with a batched GRU encoder-decoder.

    All sentences of a call (and all chunks of long sentences) run as one padded batch.
    """

    def __init__(
        self,
        model: Seq2Seq,
        tokenizer: WordTokenizer,
        device=None,
        source: str = "",
        loaded_from: hub.ModelSource | None = None,
    ):
        self.device = torch.device(device) if device is not None else default_device()
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.source = source
        self.loaded_from = loaded_from  # where the files came from and at which Hub commit, for describe()

    @classmethod
    def from_pretrained(
        cls, source: str | os.PathLike | None = None, revision: str | None = None, device=None
    ) -> WordDoubler:
        """Load from a local directory or a Hub repo id ("owner/name", optional revision); None: the bundled model."""
        return cls._load(hub.resolve(source, revision), device)

    @classmethod
    def _load(cls, found: hub.ModelSource, device) -> WordDoubler:
        model, tokenizer = load_checked(found.path)
        return cls(model, tokenizer, device=device, source=found.description, loaded_from=found)

    @classmethod
    def from_pretrained_or_bundled(cls, source=None, revision=None, device=None) -> tuple[WordDoubler, str | None]:
        """For a server: the configured model, or, if it cannot be fetched or loaded, the bundled one
        and a warning saying why. A page must come up even when the Hub is out of reach."""
        warning = None
        if source:
            try:
                return cls.from_pretrained(source, revision=revision, device=device), None
            except Exception as error:  # network down, repo missing, bad id, broken files
                warning = (
                    f"could not load model {str(source)!r} ({type(error).__name__}: {error}); "
                    "serving the bundled weights instead"
                )
                log.warning(warning)
        found = hub.resolve(hub.BUNDLED)
        return cls._load(replace(found, origin=hub.FROM_FALLBACK) if warning else found, device), warning

    @property
    def max_src_len(self) -> int:
        return self.model.config.max_src_len

    def double(
        self,
        sentences: list[str] | str,
        top_k: int = DEFAULT_TOP_K,
        beam_width: int = DEFAULT_BEAM_WIDTH,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_batch_tokens: int = DEFAULT_MAX_BATCH_TOKENS,
        progress: bool = False,
    ) -> list[DoubleResult]:
        """Double each of any number of sentences; raises ValueError (with a message for people) on bad input.

        Rows (sentences, or chunks of long ones) are sorted by length and run in batches of at most
        `batch_size` rows and `max_batch_tokens` row-words x beams, so little work goes to padding and
        memory stays flat; results come back in the caller's order, each exactly as it would alone.
        beam_width 1 is greedy decoding; wider beams keep that many candidate doublings per sentence.
        """
        sentences = as_sentences(sentences)
        top_k, beam_width = check_top_k(top_k), check_beam_width(beam_width)
        rows, owner, _ = rows_of(sentences, self.max_src_len)
        decoded: list = [None] * len(rows)
        with tqdm(total=len(rows), unit="row", disable=not progress) as bar:
            for batch in length_sorted_batches(
                [len(row.split()) for row in rows], batch_size, max_batch_tokens // beam_width
            ):
                for index, row in zip(batch, self._double_rows([rows[i] for i in batch], top_k, beam_width)):
                    decoded[index] = row
                bar.update(len(batch))
        return self._assemble(sentences, owner, decoded)

    def double_batch(
        self, sentences: list[str], top_k: int, beam_width: int = DEFAULT_BEAM_WIDTH
    ) -> list[DoubleResult]:
        """One forward pass over sentences that `check_request` has already passed, perhaps in several
        requests: the micro-batcher merges them and bounds the pass, so no size limit applies here."""
        rows, owner, _ = rows_of(sentences, self.max_src_len)
        return self._assemble(sentences, owner, self._double_rows(rows, top_k, beam_width))

    def force(
        self,
        sentence: str,
        prefix: list[str],
        chunk: int = 0,
        top_k: int = DEFAULT_TOP_K,
        beam_width: int = DEFAULT_BEAM_WIDTH,
    ) -> DoubleResult:
        """Double one sentence with the decoder told to say `prefix` first in chunk `chunk` (0 for a sentence of
        one row), then left to itself: "what if it had said...". Every chunk runs in one batch, as in `double`,
        the others freely (so they come out as `double` gives them). ValueError names what cannot be forced."""
        (sentence,) = as_sentences([sentence])
        top_k, beam_width = check_top_k(top_k), check_beam_width(beam_width)
        rows, _, _ = rows_of([sentence], self.max_src_len)
        if not isinstance(chunk, int) or not 0 <= chunk < len(rows):
            raise ValueError(f"chunk {chunk!r}: this sentence is doubled in {len(rows)} chunk(s), numbered from 0")
        batch = self.tokenizer.encode_batch(rows)
        forced = [self.tokenizer.id_of(word, batch.slots[chunk]) for word in prefix]  # the model checks the rest
        ids = torch.full((len(rows), len(forced)), self.model.config.pad_id, dtype=torch.long)
        ids[chunk] = torch.tensor(forced, dtype=torch.long)
        generation = self.model.generate(
            batch.src.to(self.device), batch.lengths, top_k=top_k, beam_width=beam_width, prefix=ids.to(self.device)
        )
        return self._assemble([sentence], [0] * len(rows), self._decode_rows(generation, batch.slots))[0]

    def _double_rows(self, rows: list[str], top_k: int, beam_width: int) -> list[tuple[str, RowRecords]]:
        """One padded batch through encoder and decoder: each row's doubled words and steps."""
        batch = self.tokenizer.encode_batch(rows)
        generation = generate(self.model, batch.src.to(self.device), batch.lengths, top_k=top_k, beam_width=beam_width)
        return self._decode_rows(generation, batch.slots)

    @staticmethod
    def _assemble(sentences: list[str], owner: list[int], decoded: list[tuple[str, RowRecords]]) -> list[DoubleResult]:
        """Rows back into sentences: a long sentence's chunks are joined in order."""
        results = [DoubleResult(input=" ".join(s.split()), output="", chunks=0) for s in sentences]
        for index, (words, records) in zip(owner, decoded):
            results[index].add_chunk(words, records)
        return results

    def _decode_rows(self, generation: Generation, slots: list[list[str]]) -> list[tuple[str, RowRecords]]:
        on_cpu = Generation(
            *(
                t.cpu()
                for t in (
                    generation.tokens,
                    generation.probs,
                    generation.top_ids,
                    generation.top_probs,
                    generation.num_steps,
                    generation.log_prob,
                )
            )
        )
        tokens, num_steps = on_cpu.tokens.tolist(), on_cpu.num_steps.tolist()
        rows = []
        for row, row_slots in enumerate(slots):
            records = RowRecords(self.tokenizer, row_slots, tokens[row][: num_steps[row]], on_cpu, row)
            rows.append((self.tokenizer.decode(records.tokens, row_slots), records))
        return rows

    def describe(self) -> dict:
        """What is serving: for a page footer or a log line."""
        config = self.model.config
        found = self.loaded_from
        return {
            "source": self.source,
            "origin": found.origin if found else "",
            "commit": found.commit if found else None,
            "sha256": found.sha256 if found else None,
            "device": str(self.device),
            "parameters": self.model.num_parameters(),
            "vocabulary_words": len(self.tokenizer.words),
            "max_src_len": config.max_src_len,
            "config": asdict(config),
        }
