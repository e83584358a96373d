"""The decoder's ranking step: each row's k best words and their log-probabilities, without a (N, V) log-softmax.

Ranking logits ranks log-probabilities, and one log-normaliser turns the few kept into them. Two ways give the
same words and the same probabilities within float rounding: `s2s/fast/kernels.c`, compiled on this machine at first
use (`s2s/fast/native.py`), and torch's operations (`chunked_topk`, then `log_normalizer_`), where that cannot be built
(no C compiler, S2S_NATIVE=0) or the tensors are not float32 on the CPU. Decoding calls `ranker`: from the
decoder's states, natively one call (`output_ranked`) that makes a tile of rows' features and logits in the
core's cache and ranks them there, so the (N, V') logits never go to memory; `ranked_log_probs` ranks logits
already made.

Where a greedy step's ranking went at 128 rows of the shipped model, top-k 5 (in the decoding loop,
two threads): torch's nine operations 0.50 ms a step (block maxima 0.12, two small `topk`s 0.15, gather and ids
0.08, normaliser 0.16); the C function 0.22 ms. Outside the loop torch's operations take 0.30 ms on the same
logits: in it, each reads the (128, 5056) logits from wherever the last one left them, where the C function
reads a row, 20 KB, and finds it in the core's own cache for its second pass. Since then: the row's sum
in 16 lanes (one horizontal sum a row, where each part of 256 took one) and a vector test before each group's
insertions, 2.1 -> 1.6 us a row alone; then the projection and output layer in the same call (one row: 28
against 44 us a step for the projection, output matmul and ranking).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from . import native

_scratch = threading.local()  # each decoding thread's buffer for the native output layer's tiles


def ranked_log_probs(logits: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, V') logits, V' a multiple of TOPK_CHUNK padded with -inf -> the (N, k) log-probabilities and ids of each
    row's k best words, best first. torch's way consumes the logits (normalised in place)."""
    if 1 <= k <= logits.size(-1) and native.usable(logits):
        logits = logits.contiguous()
        log_probs, ids = torch.empty(logits.size(0), k), torch.empty(logits.size(0), k, dtype=torch.long)
        native.library().ranked_log_probs(
            logits.data_ptr(), *logits.shape, k, torch.get_num_threads(), log_probs.data_ptr(), ids.data_ptr()
        )
        return log_probs, ids
    values, ids = chunked_topk(logits, k)
    return values - log_normalizer_(logits, values[:, :1]), ids


# The projection's features are padded to a multiple of this for ranked_output (a vector of floats, or several).
FEATURE_BLOCK = 16


@dataclass(frozen=True)
class OutputLayer:
    """The decoder's states -> logits, laid out for `ranked_output`: the projection transposed with a constant-1
    feature that picks up the output layer's bias, padded with zero features to a multiple of FEATURE_BLOCK."""

    proj_t: torch.Tensor  # (H, P): the projection's weights, then zero columns
    proj_bias: torch.Tensor  # (P,): its bias, 1, zeros
    weight_t: torch.Tensor  # (F, V'): F = E + 1 <= P; the tied output layer, its bias as the last row

    @classmethod
    def of(
        cls, proj_weight: torch.Tensor, proj_bias: torch.Tensor, out_weight: torch.Tensor, out_bias: torch.Tensor
    ) -> OutputLayer:
        """From the projection (E, H), (E,) and the output layer (V', E), (V',)."""
        width = proj_weight.size(0) + 1
        pad = -width % FEATURE_BLOCK
        proj_t = F.pad(proj_weight.detach().t(), (0, 1 + pad))  # (H, P)
        bias = F.pad(F.pad(proj_bias.detach(), (0, 1), value=1.0), (0, pad))  # (P,)
        weight_t = torch.cat([out_weight.detach(), out_bias.detach()[:, None]], dim=1).t().contiguous()  # (F, V')
        return cls(proj_t.contiguous(), bias.contiguous(), weight_t)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """(N, H) states -> the (N, V') logits, torch's way."""
        return torch.addmm(self.proj_bias, hidden, self.proj_t)[:, : self.weight_t.size(0)] @ self.weight_t


def ranker(layer: OutputLayer, k: int) -> Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """`ranked_output(hidden, layer, k)` for a decoding loop, its way chosen once (a step of one sentence is
    mostly such per-call overhead). Natively the (N, V') logits are never written out: each tile of rows'
    features and logits is made and ranked in the core's cache."""
    library = native.library() if native.usable(layer.proj_t, layer.weight_t) else None
    (size, padded), (width, vocab) = layer.proj_t.shape, layer.weight_t.shape
    if library is None or not 1 <= k <= vocab or vocab % library.output_tile_ids():
        return lambda hidden: ranked_log_probs(layer.logits(hidden), k)
    threads = torch.get_num_threads()
    scratch = _scratch_of(library.output_scratch(size, padded, vocab, threads))
    # The closure holds the tensors, not only their addresses: a model may drop its layout while a loop runs.
    weights = (layer.proj_t, layer.proj_bias, layer.weight_t)

    def native_ranking(hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden, rows = hidden.contiguous(), hidden.size(0)
        log_probs, ids = torch.empty(rows, k), torch.empty(rows, k, dtype=torch.long)
        library.output_ranked(
            hidden.data_ptr(),
            *(t.data_ptr() for t in weights),
            rows,
            size,
            padded,
            width,
            vocab,
            k,
            threads,
            scratch.data_ptr(),
            log_probs.data_ptr(),
            ids.data_ptr(),
        )
        return log_probs, ids

    return native_ranking


def ranked_output(hidden: torch.Tensor, layer: OutputLayer, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`ranked_log_probs(layer.logits(hidden), k)`: (N, H) decoder states -> each row's k best words'
    log-probabilities and ids (see `ranker`)."""
    return ranker(layer, k)(hidden)


def _scratch_of(size: int) -> torch.Tensor:
    """This thread's buffer for the native output layer, at least `size` floats: kept, as a fresh one each step
    would be mapped each step."""
    if getattr(_scratch, "buffer", None) is None or _scratch.buffer.numel() < size:
        _scratch.buffer = torch.empty(size)
    return _scratch.buffer


# The decoder's top-k over the vocabulary runs in two stages: the k chunks of this many ids with the
# highest maxima, then the k best ids among those chunks' (the k best ids lie in the k best chunks).
# One max-reduction of the logits instead of a partial sort of every row: several times faster on a CPU.
TOPK_CHUNK = 64


def chunked_topk(logits: torch.Tensor, k: int, chunk: int = TOPK_CHUNK) -> tuple[torch.Tensor, torch.Tensor]:
    """logits (N, V') with V' a multiple of `chunk` (pad with -inf) -> the same (values, ids) as logits.topk(k)."""
    n, width = logits.shape
    if k * chunk >= width or width % chunk:
        return logits.topk(k, dim=-1)
    blocks = logits.view(n, -1, chunk)  # (N, V'/chunk, chunk)
    if k == 1:  # greedy at top_k 1: the best chunk, then its best id (50 us at (64, 5056), where max with ids is 68)
        values, best = blocks.amax(dim=-1).max(dim=-1, keepdim=True)  # (N, 1)
        within = blocks.gather(1, best[..., None].expand(-1, -1, chunk))[:, 0].argmax(dim=-1, keepdim=True)
        return values, best * chunk + within
    best = blocks.amax(dim=-1).topk(k, dim=-1).indices  # (N, k) chunks
    candidates = blocks.gather(1, best[..., None].expand(-1, -1, chunk)).view(n, -1)  # (N, k*chunk)
    values, position = candidates.topk(k, dim=-1)
    return values, best.gather(1, position // chunk) * chunk + position % chunk


# The vectorized exp of this torch build takes a slow path for a value below a float's smallest normal
# result, e^-87.3: 100x slower per element (10.8 ms against 0.09 for (128, 5056) such values). Below their row's
# max, a decoder's far-off logits and the -inf padding are such values, so they are first raised to this floor.
EXP_FLOOR = -87.0


def log_normalizer_(logits: torch.Tensor, max_logit: torch.Tensor) -> torch.Tensor:
    """log(sum(exp(logits))) per row, given each row's max (N, 1), as logsumexp computes it, but in place: the
    logits are consumed. Three passes over (N, V) and no allocation of its size, where logsumexp makes four and
    allocates twice; at a decoder step that is a third of the work outside the GRU.

    Shifted logits below EXP_FLOOR are raised to it: each then adds e^-87 (1.6e-38) instead of less, and the
    sum, at least 1 (the max's own term), cannot hold either (a test checks it bit for bit). The clamp's pass
    costs ~30 us at (128, 5056). `python -m s2s.bench`, two runs each way: 64 runs of one word,
    where 12% of the shifted logits fall below the floor, 68 -> 45 ms greedy and 121-125 -> 74-76 ms at beam
    width 2; 64 real-text lines 46-47 -> 42-44 and 78-79 -> 71-72 ms; random text (0.5% below) the same within
    noise."""
    return logits.sub_(max_logit).clamp_(min=EXP_FLOOR).exp_().sum(dim=-1, keepdim=True).log_().add_(max_logit)
