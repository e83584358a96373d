"""A one-layer GRU stepped by hand for decoding: nn.GRU's states within float rounding, in fewer operations.

PyTorch's gate order is r, z, n. The decoder's input is a word's embedding, so the input part of its gates
is a (V, 3H) table made once, and a step looks up its words' rows instead of an embedding lookup and an
(n, E) x (E, 3H) matmul. The r and z gates' hidden bias is added into the table, so their sum is the hidden
matmul's own accumulation; the n gate's hidden bias stays apart, as the reset gate multiplies it. Then four
elementwise operations; or, where s2s/fast/kernels.c is built (`native`), one (n, H) x (H, 3H) matmul and the gates in
one C pass (0.78 against 0.89 ms a step at 128 rows), and for up to FUSED_MAX_ROWS rows one C call for the whole
cell (`gru_cell_fused`: one row 31 against 54 us a step), which `read` also steps for decoding's encoder.

The table against the embedding and matmul, in one process, three rounds alternating: 64 x 26 words
3-4% faster greedy and 2-4% at beam width 2; one sentence at a time 14% and 9%; 31 MB at the shipped size. Alone
the lookup takes 10-45 us where the matmul took 76 at 128 rows; in the loop its rows, read at random from the
table, push some of the hidden weights out of the cache, and part of that gain goes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from . import native


@dataclass(frozen=True)
class CellWeights:
    gates_in: torch.Tensor  # (V, 3H): each word's embedding through the input weights, with the r/z biases
    w_hh: torch.Tensor  # (H, 3H): the hidden weights, transposed (the native cell's matmul, for many rows)
    # The same regrouped for the fused native cell (few rows), (H / B, H, 3, B): by blocks of B hidden units
    # (kernels.c's cell_block()), each block's r, z and n columns side by side. None where the kernels are not built.
    w_packed: torch.Tensor | None
    # Torch's way multiplies r/z and n apart: (H, 2H) those of r and z, (H, H) those of n (contiguous copies, not
    # column views of one matrix: a view's matmul is 4-10% slower).
    w_hh_rz: torch.Tensor
    w_hh_n: torch.Tensor
    b_hh_n: torch.Tensor  # (H,)

    @classmethod
    def of(cls, rnn: nn.GRU, embedding: torch.Tensor) -> CellWeights:
        """The layout of a one-layer `rnn` whose inputs are rows of `embedding` (V, E)."""
        h = rnn.hidden_size
        w_ih, w_hh, b_ih, b_hh = (
            t.detach() for t in (rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0)
        )
        gates_in = F.linear(embedding.detach(), w_ih, torch.cat([b_ih[: 2 * h] + b_hh[: 2 * h], b_ih[2 * h :]]))
        library, packed = native.library() if native.usable(w_hh) else None, None
        if library is not None and h % library.cell_block() == 0:
            block = library.cell_block()
            packed = w_hh.t().reshape(h, 3, h // block, block).permute(2, 0, 1, 3).contiguous()
        return cls(
            gates_in,
            w_hh.t().contiguous(),
            packed,
            w_hh[: 2 * h].t().contiguous(),
            w_hh[2 * h :].t().contiguous(),
            b_hh[2 * h :].contiguous(),
        )


# Up to this many rows the fused cell (kernels.c's gru_cell_fused: the sums in registers, each thread its own
# hidden units) is faster; past it, torch's matmul then the gates' pass. In the decoding loop: one row
# 31 against 54 us a step, 64 rows 338 against 412; at 128 rows the greedy 64 x 26 words case is 7-12% slower.
FUSED_MAX_ROWS = 64


def stepper(weights: CellWeights) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """`step` for a decoding loop, its way chosen once: a step of one sentence is mostly such per-call overhead.
    The native way: (n,) int64 word ids, read in place whatever their stride, and (n, H) float32 states."""
    if not native.usable(weights.gates_in, weights.w_hh):
        return partial(_torch_step, weights)
    # The closure holds `weights`, not only the addresses: a model may drop its layout while a loop runs.
    library, threads = native.library(), torch.get_num_threads()

    def native_step(words: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        hidden = hidden.contiguous()
        words = words if words.dtype == torch.long else words.long()  # the kernels read int64 ids
        out = torch.empty_like(hidden)
        _native_step_into(library, weights, words, hidden, out, threads)
        return out

    return native_step


def _native_step_into(
    library,
    weights: CellWeights,
    words: torch.Tensor,
    hidden: torch.Tensor,
    out: torch.Tensor,
    threads: int,
    hidden_gates: torch.Tensor | None = None,
) -> None:
    """One native step of the (n, H) contiguous states into `out`: the fused cell for up to FUSED_MAX_ROWS rows
    (where `w_packed` exists: None when H is not a multiple of a block), else torch's matmul (into `hidden_gates`,
    a buffer of at least n rows, when given) and the gates' pass. `words` (n,) int64, at any stride."""
    (rows, size), table, bias = hidden.shape, weights.gates_in.data_ptr(), weights.b_hh_n.data_ptr()
    if weights.w_packed is not None and rows <= FUSED_MAX_ROWS:
        library.gru_cell_fused(
            table,
            words.data_ptr(),
            words.stride(0),
            hidden.data_ptr(),
            weights.w_packed.data_ptr(),
            bias,
            rows,
            size,
            threads,
            out.data_ptr(),
        )
        return
    if hidden_gates is None:
        hidden_gates = hidden @ weights.w_hh  # (n, 3H)
    else:
        hidden_gates = torch.mm(hidden, weights.w_hh, out=hidden_gates[:rows])
    library.gru_cell(
        table,
        words.data_ptr(),
        words.stride(0),
        hidden.data_ptr(),
        hidden_gates.data_ptr(),
        bias,
        rows,
        size,
        threads,
        out.data_ptr(),
    )


def step(weights: CellWeights, words: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
    """(n,) word ids and (n, H) states -> the (n, H) states after reading those words."""
    return stepper(weights)(words, hidden)


def _torch_step(weights: CellWeights, words: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
    h = hidden.size(1)
    gi = weights.gates_in.index_select(0, words)  # (n, 3H)
    r, z = torch.addmm(gi[:, : 2 * h], hidden, weights.w_hh_rz).sigmoid_().chunk(2, dim=1)
    n = torch.addcmul(gi[:, 2 * h :], r, torch.addmm(weights.b_hh_n, hidden, weights.w_hh_n)).tanh_()
    return torch.lerp(n, hidden, z)  # (1 - z) * n + z * h


def read(weights: CellWeights, words: torch.Tensor, reading: list[int]) -> torch.Tensor:
    """The encoder's loop, where the native cell runs: (T, B) words, rows sorted longest first, `reading[t]` the
    rows still reading at step t (a prefix) -> the (B, H) states after each row's own last word. A step is one or
    two calls (a short sentence's encoder is mostly this loop's own overhead); the states alternate between two
    buffers (the fused cell reads all of one while it writes the other), and a row that has read its last word is
    copied out once."""
    words = words.contiguous()
    library, threads = native.library(), torch.get_num_threads()
    batch, size = words.size(1), weights.b_hh_n.numel()
    result, current, spare = torch.empty(batch, size), torch.zeros(batch, size), torch.empty(batch, size)
    hidden_gates = torch.zeros(batch, 3 * size)  # zeros: the first word's states are zeros, so are their gates
    for t, n in enumerate(reading):
        if t == 0:  # the gates' pass alone, from the zero buffer: no matmul
            library.gru_cell(
                weights.gates_in.data_ptr(),
                words[t].data_ptr(),
                1,
                current.data_ptr(),
                hidden_gates.data_ptr(),
                weights.b_hh_n.data_ptr(),
                n,
                size,
                threads,
                spare.data_ptr(),
            )
        else:
            if n < reading[t - 1]:
                result[n : reading[t - 1]] = current[n : reading[t - 1]]
            _native_step_into(library, weights, words[t, :n], current[:n], spare[:n], threads, hidden_gates)
        current, spare = spare, current
    last = reading[-1] if reading else 0
    result[:last] = current[:last]
    return result
