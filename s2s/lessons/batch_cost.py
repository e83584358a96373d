"""Sorted vs as-sent batching: the padding and decoder work of one request's rows, in one batch or in length buckets."""

from __future__ import annotations

from dataclasses import dataclass

from ..data import LENGTH_BUCKETS


@dataclass
class Batching:
    """One way of cutting a request's rows into padded batches, and what it costs. Counting only: no model runs."""

    name: str
    batches: list[list[int]]  # row indices of each batch
    lengths: list[int]  # (B,) words per row
    steps: list[int]  # (B,) decode steps each row needs: its doubling and <eos>
    beam_width: int  # decoder rows per row

    @property
    def encoder_cells(self) -> int:
        """Cells of the padded source batches: each batch is its rows x its longest row."""
        return sum(len(b) * max(self.lengths[i] for i in b) for b in self.batches)

    @property
    def pad_cells(self) -> int:
        return self.encoder_cells - sum(self.lengths)

    @property
    def pad_share(self) -> float:
        return self.pad_cells / max(self.encoder_cells, 1)

    @property
    def batch_steps(self) -> list[int]:
        """(B,) steps a decoder that keeps every row until its batch is done runs for each row."""
        out = [0] * len(self.lengths)
        for b in self.batches:
            longest = max(self.steps[i] for i in b)
            for i in b:
                out[i] = longest
        return out

    @property
    def kept_row_steps(self) -> int:
        """Decoder row-steps when every row stays in its batch to the end (the blog's and most tutorials' loop)."""
        return self.beam_width * sum(self.batch_steps)

    @property
    def own_row_steps(self) -> int:
        """Decoder row-steps when a finished row leaves its batch at once (what `Seq2Seq.generate` does)."""
        return self.beam_width * sum(self.steps)

    @property
    def wasted_share(self) -> float:
        """Of the kept-to-the-end decoder's work, the share spent on rows that had already finished."""
        return 1 - self.own_row_steps / max(self.kept_row_steps, 1)


def bucket_name(n: int) -> str:
    lo, hi = next(((lo, hi) for lo, hi in LENGTH_BUCKETS if lo <= n <= hi), (LENGTH_BUCKETS[-1][1] + 1, n))
    return f"{lo}-{hi}"


def as_sent(lengths: list[int], steps: list[int], beam_width: int = 1) -> Batching:
    """Every row in one batch, in the order sent: what the page's request did."""
    return Batching("as sent", [list(range(len(lengths)))] if lengths else [], list(lengths), list(steps), beam_width)


def length_buckets(lengths: list[int], steps: list[int], beam_width: int = 1) -> Batching:
    """Rows sorted into the length buckets of training and evaluation (1-5, 6-10, ... words), one batch each."""
    buckets: dict[str, list[int]] = {}
    for i in sorted(range(len(lengths)), key=lambda i: lengths[i]):
        buckets.setdefault(bucket_name(lengths[i]), []).append(i)
    return Batching("sorted into length buckets", list(buckets.values()), list(lengths), list(steps), beam_width)


def row_steps(results: list[dict]) -> list[int]:
    """(B,) decode steps of every row of a request, from its results (`to_dict()`), in the order rows_of makes them."""
    return [sum(1 for s in r["steps"] if s["chunk"] == c) for r in results for c in range(r["chunks"])]
