"""Measuring a model natively (one row per sentence, ids in): exact match by length, the native length,
and the chunk length to ship. Used by training, export and evaluation alike."""

from __future__ import annotations

import math

import torch

from ..data import collate, doubling
from ..doubler import split_into_chunks
from ..fast import generate


@torch.no_grad()
def native_exact_match(
    model, sources: list[list[int]], device="cpu", batch_size: int = 512, beam_width: int = 1
) -> dict[int, float]:
    """Decode id sentences in one row each (no chunking): exact match per source length."""
    hits: dict[int, list[int]] = {}
    for start in range(0, len(sources), batch_size):
        chunk = sources[start : start + batch_size]
        batch = collate(chunk)
        generation = generate(model, batch.src.to(device), batch.lengths, top_k=1, beam_width=beam_width)
        tokens = generation.tokens.cpu().tolist()
        for ids, out, steps in zip(chunk, tokens, generation.num_steps.tolist()):
            hits.setdefault(len(ids), []).append(int(out[:steps] == doubling(ids)))
    return {n: sum(h) / len(h) for n, h in sorted(hits.items())}


def native_length(by_length: dict[int, float], threshold: float = 0.99, window: int = 4) -> int:
    """Longest L such that every window of `window` consecutive lengths up to L averages >= threshold."""
    native = 0
    lengths = sorted(by_length)
    for n in lengths:
        recent = [by_length[m] for m in lengths if n - window < m <= n]
        if sum(recent) / len(recent) < threshold or by_length[n] < threshold - 0.05:
            break
        native = n
    return native


def _chunked_sentences(rates: dict[int, float], chunk_length: int, max_len: int):
    """For each sentence length 1..max_len: its chunks' lengths and the chance all of them come out right."""
    for n in range(1, max_len + 1):
        chunks = [len(c) for c in split_into_chunks(list(range(n)), chunk_length)]
        yield chunks, math.prod(rates[k] for k in chunks)


def predicted_exact_match(by_length: dict[int, float], chunk_length: int, max_len: int) -> float:
    """Expected exact match over sentences of 1..max_len words (each length equally likely) when they are
    doubled in chunks of at most chunk_length words, each chunk right at its length's measured rate."""
    return sum(right for _, right in _chunked_sentences(by_length, chunk_length, max_len)) / max_len


def _sensitivity(rates: dict[int, float], chunk_length: int, max_len: int) -> dict[int, float]:
    """How much predicted_exact_match moves per unit of each length's rate (its partial derivatives)."""
    grad = dict.fromkeys(rates, 0.0)
    for chunks, right in _chunked_sentences(rates, chunk_length, max_len):
        for k in chunks:
            grad[k] += right / rates[k] / max_len
    return grad


def best_chunk_length(by_length: dict[int, float], max_len: int, per_length: int) -> int:
    """The max_src_len to ship: the longest chunk length that no other chunk length beats by more than one
    standard error (after the one-standard-error rule of model selection, Breiman et al. 1984). Longer is
    the goal (the model's native length, fewer rows), but a long native row can lose to shorter chunks that
    are each surer. The standard error is that of the difference of two predictions (delta method; each length's rate
    is a binomial estimate from per_length sentences). Rates are taken as (hits + 1) / (per_length + 2)
    (Laplace's rule of succession): a length that never failed in 1,024 tries is not certain."""
    rates = {n: (rate * per_length + 1) / (per_length + 2) for n, rate in by_length.items()}
    predicted = {m: predicted_exact_match(rates, m, max_len) for m in rates}
    sensitivity = {m: _sensitivity(rates, m, max_len) for m in rates}

    def stderr_of_difference(m: int, other: int) -> float:
        return math.sqrt(
            sum((sensitivity[m][k] - sensitivity[other][k]) ** 2 * r * (1 - r) / per_length for k, r in rates.items())
        )

    def beaten(m: int) -> bool:
        return any(predicted[other] - predicted[m] > stderr_of_difference(m, other) for other in rates)

    return max(m for m in rates if not beaten(m))
