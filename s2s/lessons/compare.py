"""Batched against one at a time: the same sentences both ways, timed, and whether each came out the same."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..doubler import WordDoubler
from ..limits import DEFAULT_BEAM_WIDTH, DEFAULT_TOP_K
from ..results import DoubleResult

# Probabilities of a sentence decoded alone and inside a batch agree to this (DESIGN: batch invariance). Not 1e-5:
# float32 matmuls block differently for 1 row and for 64 (encoder states differ by 7e-7), and at a step the
# model is unsure of (p = 0.58) that moved a probability by 1.5e-5 for the plain beam search as for the fast
# one (measured on the shipped weights, 64 x 26 words). The words are identical either way.
PROB_TOLERANCE = 5e-5


@dataclass
class Comparison:
    sentences: int
    batched_ms: float  # one padded batch for all sentences
    one_at_a_time_ms: float  # a batch of one per sentence, in turn
    speedup: float  # one_at_a_time_ms / batched_ms
    identical: bool  # every sentence: same words, same steps, probabilities within PROB_TOLERANCE
    mismatches: list[int]  # indices of sentences that came out differently


def same_result(a: DoubleResult, b: DoubleResult, tolerance: float = PROB_TOLERANCE) -> bool:
    """Same output, same emitted word at every step, and the same probabilities within `tolerance`."""
    return (
        a.output == b.output
        and [s.token for s in a.steps] == [s.token for s in b.steps]
        and all(abs(x.prob - y.prob) <= tolerance for x, y in zip(a.steps, b.steps))
    )


def compare(
    wd: WordDoubler, sentences: list[str], top_k: int = DEFAULT_TOP_K, beam_width: int = DEFAULT_BEAM_WIDTH
) -> Comparison:
    """Decode `sentences` as one batch and then one by one; time both and check they agree."""
    start = time.perf_counter()
    batched = wd.double_batch(sentences, top_k, beam_width)
    batched_ms = 1000 * (time.perf_counter() - start)
    start = time.perf_counter()
    alone = [wd.double_batch([s], top_k, beam_width)[0] for s in sentences]
    one_ms = 1000 * (time.perf_counter() - start)
    mismatches = [i for i, (a, b) in enumerate(zip(batched, alone)) if not same_result(a, b)]
    return Comparison(len(sentences), batched_ms, one_ms, one_ms / max(batched_ms, 1e-9), not mismatches, mismatches)
