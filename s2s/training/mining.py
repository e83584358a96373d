"""Hard-example mining: batches whose half are the fresh sentences the model finds hardest (--mine-factor), over
the whole run or its last --mine-last steps."""

from __future__ import annotations

import torch

from ..data import TrainingBatch
from .recipe import in_last_steps
from .train_step import worst_token_nll


def rows_of(batch: TrainingBatch, rows: torch.Tensor) -> TrainingBatch:
    """The given rows of a batch, trimmed to their own longest sentence."""
    longest = int(batch.lengths[rows].max())
    return TrainingBatch(
        batch.src[rows, :longest],
        batch.lengths[rows],
        batch.tgt_in[rows, : 2 * longest + 1],
        batch.tgt_out[rows, : 2 * longest + 1],
    )


def mined_batch(model, sampler, lengths: list[int], device, args, at: float, bf16: bool = False) -> TrainingBatch:
    """A batch whose --mine-share are the hardest of --mine-factor times as many fresh sentences (by their
    least likely target token) and the rest plain fresh sentences. A model right on 99.9% of sentences
    learns almost nothing from a plain batch: nearly every row is already right. `at`: the schedule's position;
    `bf16`: rank the candidates in the training step's precision."""
    batch = sampler.batch(lengths)
    hard = hard_row_count(args, at)
    if not hard:
        return batch
    plain = torch.arange(args.batch_size - hard)
    candidates = torch.arange(len(plain), len(lengths))
    hardest = candidates[hardest_rows(model, rows_of(batch, candidates), hard, device, bf16)]
    return rows_of(batch, torch.cat([plain, hardest]))


def hardest_rows(model, batch: TrainingBatch, keep: int, device, bf16: bool = False) -> torch.Tensor:
    """Indices of the `keep` rows whose least likely target token (teacher-forced) is least likely: ranked by the
    training step's fused loss (train_step.py), with no (B, S, V) log-probabilities for the candidates."""
    model.eval()
    with torch.inference_mode():
        src, tgt_in, tgt_out = batch.src.to(device), batch.tgt_in.to(device), batch.tgt_out.to(device)
        return worst_token_nll(model, src, batch.lengths, tgt_in, tgt_out, bf16).topk(keep).indices.cpu()


def mining_at(at: float, args) -> bool:
    """Whether the step at schedule position `at` is mined: with --mine-factor > 1, every step, or with
    --mine-last only the last that many, where nearly every plain row is already right and the candidates'
    forward pass buys the most."""
    return args.mine_factor > 1 and (not args.mine_last or in_last_steps(at, args.mine_last, args))


def hard_row_count(args, at: float) -> int:
    """Rows of the batch at schedule position `at` that are mined (0 without mining)."""
    return round(args.mine_share * args.batch_size) if mining_at(at, args) else 0


def mined_rows(args, at: float) -> int:
    """Sentences drawn per step: the batch, or with mining its plain rows plus the candidates for the hard ones."""
    return args.batch_size + hard_row_count(args, at) * (args.mine_factor - 1)
