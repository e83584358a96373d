"""What doubling a sentence gives: its output and, step by step, what the decoder emitted and believed."""

from __future__ import annotations

from dataclasses import dataclass

from .data import doubling_text
from .model import Generation
from .tokenizer import WordTokenizer


@dataclass
class Step:
    """One decoder step: the word it emitted, that word's probability, and its best k candidates."""

    token: str
    prob: float
    top_k: list[tuple[str, float]]
    chunk: int = 0  # which chunk of a long sentence this step belongs to


@dataclass
class RowRecords:
    """What the decoder recorded for one row: its emitted ids, and its row of the batch's probability and
    top-k tensors, turned into Python lists and Steps only when they are read (for 10,000 sentences, the
    lists alone took a sixth of the call)."""

    tokenizer: WordTokenizer
    slots: list[str]  # the row's unknown words, for naming slot ids
    tokens: list[int]
    generation: Generation  # the whole batch's, on the CPU
    row: int

    def steps(self, chunk: int) -> list[Step]:
        name = self.tokenizer.namer(self.slots)
        n, g = len(self.tokens), self.generation
        probs, top_ids, top_probs = (t[self.row, :n].tolist() for t in (g.probs, g.top_ids, g.top_probs))
        return [
            Step(name(token), prob, list(zip(map(name, ids), ps)), chunk)
            for token, prob, ids, ps in zip(self.tokens, probs, top_ids, top_probs)
        ]


class LazySteps:
    """DoubleResult's `steps` field, built from its rows' records on first read. A program doubling 10,000
    sentences mostly wants the outputs; building their ~270,000 Step objects up front took a sixth of the
    call. A dataclass field whose default is a descriptor is read and written through it, so `steps=` in
    the constructor and in `dataclasses.replace` work as for a plain field."""

    def __get__(self, result, owner=None):
        if result is None:
            return None  # the field's default: no steps
        built, pending = result.__dict__["_steps"], result.__dict__["_pending"]
        while pending:
            records, chunk = pending.pop(0)
            built.extend(records.steps(chunk))
        return built

    def __set__(self, result, steps) -> None:
        result.__dict__["_steps"] = list(steps or [])
        result.__dict__["_pending"] = []

    @staticmethod
    def defer(result, records: RowRecords, chunk: int) -> None:
        """Steps of one more row, appended to `result`'s when they are first read."""
        result.__dict__["_pending"].append((records, chunk))


@dataclass
class DoubleResult:
    input: str
    output: str
    steps: list[Step] = LazySteps()
    chunks: int = 1

    def add_chunk(self, words: str, records: RowRecords) -> None:
        """Append one decoded row (the whole sentence, or its next chunk); its steps are built when read."""
        self.output = f"{self.output} {words}".strip()
        LazySteps.defer(self, records, self.chunks)
        self.chunks += 1

    @property
    def expected(self) -> str:
        """The exact doubling of the input."""
        return doubling_text(self.input)

    @property
    def is_exact(self) -> bool:
        return self.output == self.expected

    @property
    def min_prob(self) -> float:
        return min((s.prob for s in self.steps), default=1.0)

    def to_dict(self) -> dict:
        """JSON-ready; the same shape the /double API returns."""
        return {
            "input": self.input,
            "output": self.output,
            "is_exact": self.is_exact,
            "min_prob": self.min_prob,
            "chunks": self.chunks,
            "steps": [
                {"token": s.token, "prob": s.prob, "top_k": [[w, p] for w, p in s.top_k], "chunk": s.chunk}
                for s in self.steps
            ],
        }
