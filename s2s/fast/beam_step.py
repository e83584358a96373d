"""The beam search's bookkeeping in one native call a step (kernels.c's `beam_step`), and its backtrack in one more.

Seq2Seq.generate's loop does a step's bookkeeping in about thirty small torch operations: each row's candidates,
the best `width` of them, the parents' records (the tables the page shows), the new beams' states, the rows that
are done. For one sentence that is most of a step (a GRU cell and an output layer over two rows take ~60 us), and
then its backtrack takes ten more operations a step. Here the decoder step and the ranking stay as the loop has
them (`gru_cell`, `ranking`), and the rest is one C call over the rows, which records each step at its rows of the
batch, so that following each row's best beam back is one more call. The same words as the torch loop, ties
included (both take a row's best candidates by a stable sort), probabilities within float rounding (its exp is
the C library's): tests/test_beam_step.py.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from . import native

# (token (n * W,), hidden (L, n * W, H)) -> (new hidden (L, n * W, H), the last layer's (n * W, H))
Step = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
# (n * W, H) -> each beam's best log-probabilities and ids, (n * W, ranked)
Rank = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def usable(hidden: torch.Tensor) -> bool:
    """True where the kernels are built and the encoder's states are float32 on the CPU."""
    return hidden.dtype == torch.float32 and native.usable(hidden)


def search(
    step: Step,
    rank: Rank,
    hidden: torch.Tensor,
    lengths: torch.Tensor,
    width: int,
    per_beam: int,
    k: int,
    ids: tuple[int, int, int],
) -> tuple[torch.Tensor, ...]:
    """Beam search from the encoder's states (L, B, H) at `width` beams a row, each row's `per_beam` best words a
    beam as candidates, top-`k` records; ids = (<sos>, <eos>, <pad>). Returns Generation's first six fields:
    tokens, probs, top_ids, top_probs (B, S[, k]), num_steps and log_prob (B,) of each row's best beam."""
    library = native.library()
    sos_id, eos_id, pad_id = ids
    layers, batch, size = hidden.shape
    hidden = hidden.repeat_interleave(width, dim=1).contiguous()  # (L, B * W, H), row-major
    # The search's state for the rows still decoding, the first n of each (beam_step moves the live rows up).
    rows, step_limit = torch.arange(batch), (2 * lengths + 1).to(torch.long).contiguous()  # a row's most steps
    capacity = int(step_limit.max()) if batch else 0
    score = torch.full((batch, width), float("-inf"))
    score[:, 0] = 0.0  # all beams start as the same <sos>: only the first is live, so the first step fans out from it
    token = torch.full((batch * width,), sos_id, dtype=torch.long)
    finished = torch.zeros(batch, width, dtype=torch.bool)
    num_steps = torch.zeros(batch, width, dtype=torch.long)
    # What each step's beams' parents believed, at their row of the batch: (capacity, B, W[, k]).
    records = (
        torch.empty(capacity, batch, width, dtype=torch.long),  # parent beam
        torch.empty(capacity, batch, width, dtype=torch.long),  # word
        torch.empty(capacity, batch, width),  # its probability
        torch.empty(capacity, batch, width, k, dtype=torch.long),
        torch.empty(capacity, batch, width, k),
    )
    last_step = torch.full((batch,), -1, dtype=torch.long)
    final_steps, final_score = torch.zeros(batch, dtype=torch.long), torch.zeros(batch)
    state = [t.data_ptr() for t in (score, finished, num_steps, step_limit, rows, token)]
    kept = [t.data_ptr() for t in (*records, last_step, final_steps, final_score)]
    n, steps = batch, 0
    while n and steps < capacity:
        new_hidden, top = step(token[: n * width], hidden)
        new_hidden = new_hidden.contiguous()
        log_probs, best = (t.contiguous() for t in rank(top))
        moved = torch.empty(layers, n * width, size)
        tensors = (log_probs, best, hidden, new_hidden, moved)
        shape = (n, width, per_beam, log_probs.size(1), k, layers, size)
        n = library.beam_step(*shape, *(t.data_ptr() for t in tensors), *state, steps, batch, pad_id, eos_id, *kept)
        hidden = moved.view(-1)[: layers * n * width * size].view(layers, n * width, size)
        steps += 1
    return (*backtrack(records, last_step, batch, width, k, steps, pad_id), final_steps, final_score)


def backtrack(records, last_step: torch.Tensor, batch: int, width: int, k: int, steps: int, pad_id: int):
    """Each row's best beam followed back from its last step, in one native call: (tokens, probs, top_ids,
    top_probs), (B, S[, k]), <pad> and 0 where a row had finished."""
    tokens = torch.full((batch, steps), pad_id, dtype=torch.long)
    probs = torch.zeros(batch, steps)
    top_ids, top_probs = torch.full((batch, steps, k), pad_id, dtype=torch.long), torch.zeros(batch, steps, k)
    out = (tokens, probs, top_ids, top_probs)
    native.library().beam_backtrack(
        batch, width, k, steps, last_step.data_ptr(), *(t.data_ptr() for t in (*records, *out))
    )
    return out
