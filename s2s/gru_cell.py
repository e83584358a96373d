"""A one-layer GRU stepped by hand for decoding: nn.GRU's states within float rounding, in fewer operations.

PyTorch's gate order is r, z, n. The decoder's input is a word's embedding, so the input part of its gates
is a (V, 3H) table made once, and a step looks up its words' rows instead of an embedding lookup and an
(n, E) x (E, 3H) matmul. The r and z gates' hidden bias is added into the table, so their sum is the hidden
matmul's own accumulation; the n gate's hidden bias stays apart, as the reset gate multiplies it. Then four
elementwise operations; or, where s2s/kernels.c is built (`native`), one (n, H) x (H, 3H) matmul and the gates in
one C pass (0.78 against 0.89 ms a step at 128 rows), which `read` also steps for decoding's encoder.

The table against the embedding and matmul, in one process, three rounds alternating (2026-12-01): 64 x 26 words
3-4% faster greedy and 2-4% at beam width 2; one sentence at a time 14% and 9%; 31 MB at the shipped size. Alone
the lookup takes 10-45 us where the matmul took 76 at 128 rows; in the loop its rows, read at random from the
table, push some of the hidden weights out of the cache, and part of that gain goes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from . import native


@dataclass(frozen=True)
class CellWeights:
    gates_in: torch.Tensor  # (V, 3H): each word's embedding through the input weights, with the r/z biases
    w_hh: torch.Tensor  # (H, 3H): the hidden weights, transposed (the native cell's one matmul)
    # Torch's way multiplies r/z and n apart. Contiguous copies, not column views of w_hh: a view's matmul is 4-10%
    # slower (400 against 416-445 us at 128 rows); 3 MB more at the shipped size.
    w_hh_rz: torch.Tensor  # (H, 2H): those of r and z
    w_hh_n: torch.Tensor  # (H, H): those of n
    b_hh_n: torch.Tensor  # (H,)

    @classmethod
    def of(cls, rnn: nn.GRU, embedding: torch.Tensor) -> "CellWeights":
        """The layout of a one-layer `rnn` whose inputs are rows of `embedding` (V, E)."""
        h = rnn.hidden_size
        w_ih, w_hh, b_ih, b_hh = (t.detach() for t in (rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0))
        gates_in = F.linear(embedding.detach(), w_ih, torch.cat([b_ih[:2 * h] + b_hh[:2 * h], b_ih[2 * h:]]))
        return cls(gates_in, w_hh.t().contiguous(), w_hh[:2 * h].t().contiguous(), w_hh[2 * h:].t().contiguous(),
                   b_hh[2 * h:].contiguous())


def stepper(weights: CellWeights) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """`step` for a decoding loop, its way chosen once: a step of one sentence is mostly such per-call overhead.
    The native way: (n,) int64 word ids, read in place whatever their stride, and (n, H) float32 states."""
    if not native.usable(weights.gates_in, weights.w_hh):
        return partial(_torch_step, weights)
    cell, threads, size = native.library().gru_cell, torch.get_num_threads(), weights.b_hh_n.numel()
    table, bias, w_hh = weights.gates_in.data_ptr(), weights.b_hh_n.data_ptr(), weights.w_hh

    def native_step(words: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        hidden = hidden.contiguous()
        hidden_gates, out = hidden @ w_hh, torch.empty_like(hidden)  # (n, 3H): a matmul, then the gates in one pass
        cell(table, words.data_ptr(), words.stride(0), hidden.data_ptr(), hidden_gates.data_ptr(), bias,
             hidden.size(0), size, threads, out.data_ptr())
        return out
    return native_step


def step(weights: CellWeights, words: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
    """(n,) word ids and (n, H) states -> the (n, H) states after reading those words."""
    return stepper(weights)(words, hidden)


def _torch_step(weights: CellWeights, words: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
    h = hidden.size(1)
    gi = weights.gates_in.index_select(0, words)  # (n, 3H)
    r, z = torch.addmm(gi[:, :2 * h], hidden, weights.w_hh_rz).sigmoid_().chunk(2, dim=1)
    n = torch.addcmul(gi[:, 2 * h:], r, torch.addmm(weights.b_hh_n, hidden, weights.w_hh_n)).tanh_()
    return torch.lerp(n, hidden, z)  # (1 - z) * n + z * h


def read(weights: CellWeights, words: torch.Tensor, reading: list[int]) -> torch.Tensor:
    """The encoder's loop, where the native cell runs: (T, B) words, rows sorted longest first, `reading[t]` the
    rows still reading at step t (a prefix) -> the (B, H) states after each row's own last word. The matmul
    writes into one buffer and the cell into the states, so a step is two calls (a short sentence's encoder is
    mostly this loop's own overhead)."""
    words = words.contiguous()
    batch, size = words.size(1), weights.b_hh_n.numel()
    hidden, hidden_gates = torch.zeros(batch, size), torch.zeros(batch, 3 * size)
    cell, threads = native.library().gru_cell, torch.get_num_threads()
    table, bias, states, gates = (t.data_ptr() for t in (weights.gates_in, weights.b_hh_n, hidden, hidden_gates))
    for t, n in enumerate(reading):
        if t:  # the first step's states are zeros, and so are their gates: no matmul (one in 13 at 13 words)
            torch.mm(hidden[:n], weights.w_hh, out=hidden_gates[:n])
        cell(table, words[t].data_ptr(), 1, states, gates, bias, n, size, threads, states)
    return hidden
