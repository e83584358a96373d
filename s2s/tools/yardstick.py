"""The yardstick of `python -m s2s.bench`: how much work a decode is, counted from the model's shapes, and how
fast this machine multiplies matrices of the decoder's own shape, timed the same way as every case."""

from __future__ import annotations

import time

import torch

from ..limits import DEFAULT_BATCH_SIZE
from ..results import DoubleResult


def best_ms(fn, repeat: int):
    """(value of the last run, the fastest run's milliseconds): the fastest is the least disturbed."""
    times, value = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        times.append(1000 * (time.perf_counter() - start))
    return value, min(times)


def gru_step_flops(config) -> float:
    """One GRU step of one row: its three gates' input and hidden matmuls (the elementwise rest is small)."""
    return 2 * 3 * config.hidden_size * (config.embed_size + config.hidden_size) * config.num_layers


def decode_gflop(config, results: list[DoubleResult], beam_width: int) -> float:
    """Encoder steps (one per word) plus decoder steps (each beam of each row, until its row is done),
    each decoder step a GRU step, the projection to the embedding and the tied output layer."""
    encoder = sum(len(r.input.split()) for r in results) * gru_step_flops(config)
    per_decoder_step = (
        gru_step_flops(config) + 2 * config.hidden_size * config.embed_size + 2 * config.embed_size * config.vocab_size
    )
    decoder = sum(len(r.steps) for r in results) * beam_width * per_decoder_step
    return (encoder + decoder) / 1e9


def decoder_rows(results: list[DoubleResult], beam_width: int) -> int:
    """The rows of the decoder's batch, as the library cuts it: a sentence longer than the model's rows is
    several rows (26 words: two of 13), each with beam_width beams, at most DEFAULT_BATCH_SIZE rows at once."""
    return min(sum(r.chunks for r in results), DEFAULT_BATCH_SIZE) * beam_width


def matmul_gflops(rows: int, config, device, repeat: int = 200, dtype=torch.float32) -> float:
    """A plain matmul (fp32 unless told) of the decoder's main shape, (rows, H) x (H, 3H), as fast as this machine
    does it: the best of many runs after a warm-up (the first runs after other work can be half as fast)."""
    a = torch.randn(max(rows, 1), config.hidden_size, device=device, dtype=dtype)
    b = torch.randn(config.hidden_size, 3 * config.hidden_size, device=device, dtype=dtype)
    for _ in range(20):
        a @ b
    sync(device)
    _, ms = best_ms(lambda: (a @ b, sync(device)), repeat)
    return 2 * a.size(0) * a.size(1) * b.size(1) / 1e9 / (ms / 1000)


def sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()
