"""The training loss, fast: `masked_nll` of the tied output layer without a (B, S, V) tensor.

`masked_nll(model(...), target)` writes the (B, S, V) log-probabilities (128 x 53 x 5,029 floats: 136 MB),
zero-fills a tensor of the same size for their gradient and reads both back: a training step spent most of its
time on that memory traffic, not on arithmetic. Here only the non-pad target positions are taken, in chunks
small enough to stay in the cache; each chunk's logits, their log-normaliser and the gradient of the loss with
respect to the chunk's features and the output layer are computed at once in the forward pass (the gradient of
cross-entropy is softmax minus one-hot, known before backward is called), so nothing of size V outlives its
chunk and backward only scales what forward left. The value equals `masked_nll` to float rounding
(tests/test_fused_loss.py).
"""

from __future__ import annotations

import torch

# Target positions per chunk: 128 rows of logits (2.6 MB) stay in the cache between the passes over them;
# 32-512 measured 26-40% slower on this CPU (2 MB L2 a core).
CHUNK_ROWS = 128


class _LinearCrossEntropy(torch.autograd.Function):
    """Sum over rows of -log softmax(features @ weight.T + bias)[target]; the gradients computed in forward.

    The bias rides as one more column of the weight (and a column of ones beside the features), so one
    matmul gives the logits and one gives the gradients of both: a separate bias add cost more than the matmul.
    """

    @staticmethod
    def forward(ctx, features, weight, bias, target, chunk_rows: int, matmul_dtype):
        # features (N, E), weight (V, E), bias (V,), target (N,). The softmax and the sums are in fp32 (fp64 for
        # fp64 inputs) even under autocast; the matmuls are in matmul_dtype (bf16 runs them on AMX), else the same.
        with torch.autocast(features.device.type, enabled=False):
            n, size = features.size(0), features.size(1)
            work = torch.promote_types(torch.promote_types(features.dtype, weight.dtype), torch.float32)
            matmul_dtype = matmul_dtype or work
            table = torch.cat([weight, bias[:, None]], dim=1).to(matmul_dtype)  # (V, E + 1)
            table_t = table.t().contiguous()  # (E + 1, V)
            rows = torch.cat([features, features.new_ones(n, 1)], dim=1).to(matmul_dtype)  # (N, E + 1)
            total = torch.zeros((), dtype=work, device=features.device)
            hits = torch.zeros((), dtype=torch.long, device=features.device)
            grad_rows = torch.empty(n, size + 1, dtype=work, device=features.device)
            grad_table = torch.zeros(table.shape, dtype=work, device=features.device)
            for start in range(0, n, chunk_rows):
                f, t = rows[start : start + chunk_rows], target[start : start + chunk_rows]
                logits = torch.mm(f, table_t).to(work)  # (n, V)
                picked = logits.gather(1, t[:, None])[:, 0]  # (n,) the target's logit
                top, best = logits.max(dim=1, keepdim=True)  # (n, 1): for a safe exp, and the accuracy
                hits += (best[:, 0] == t).sum()
                exps = logits.sub_(top).exp_()  # over the logits: no second (n, V) tensor
                sums = exps.sum(dim=1)  # (n,)
                total += (top[:, 0] + sums.log() - picked).sum()
                # d(loss)/d(logits) = softmax - one-hot, still in the same memory.
                grad = exps.div_(sums[:, None])
                grad[torch.arange(t.numel(), device=t.device), t] -= 1.0
                grad = grad.to(matmul_dtype)
                grad_rows[start : start + chunk_rows] = torch.mm(grad, table)
                grad_table += torch.mm(grad.t(), f).to(work)
        ctx.save_for_backward(
            grad_rows[:, :size].to(features.dtype),
            grad_table[:, :size].to(weight.dtype),
            grad_table[:, size].to(bias.dtype),
        )
        ctx.mark_non_differentiable(hits)
        return total, hits

    @staticmethod
    def backward(ctx, grad_total, _grad_hits):
        grad_features, grad_weight, grad_bias = ctx.saved_tensors
        return grad_features * grad_total, grad_weight * grad_total, grad_bias * grad_total, None, None, None


def fused_masked_nll(
    features: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    target: torch.Tensor,
    pad_id: int,
    chunk_rows: int = CHUNK_ROWS,
    matmul_dtype=None,
) -> torch.Tensor:
    """`masked_nll(log_softmax(features @ weight.T + bias), target, pad_id)` without the (B, S, V) tensor.

    features: (B, S, E), the decoder's projection; weight (V, E) and bias (V,) the tied output layer;
    target (B, S). Pad positions are dropped before any work, so padding costs nothing. matmul_dtype=bfloat16
    runs the three matmuls in bf16 (the softmax stays fp32), for training on AMX or a GPU.
    """
    return fused_masked_nll_and_accuracy(features, weight, bias, target, pad_id, chunk_rows, matmul_dtype)[0]


def fused_masked_nll_and_accuracy(
    features: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    target: torch.Tensor,
    pad_id: int,
    chunk_rows: int = CHUNK_ROWS,
    matmul_dtype=None,
) -> tuple[torch.Tensor, float]:
    """`fused_masked_nll`, and the share of the non-pad positions whose most likely id is the target."""
    keep = target != pad_id  # (B, S)
    count = keep.sum().clamp(min=1)
    total, hits = _LinearCrossEntropy.apply(features[keep], weight, bias, target[keep], chunk_rows, matmul_dtype)
    return total / count, hits.item() / count.item()


@torch.no_grad()
def fused_worst_token_nll(
    features: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    target: torch.Tensor,
    pad_id: int,
    chunk_rows: int = CHUNK_ROWS,
    matmul_dtype=None,
) -> torch.Tensor:
    """`worst_token_nll(log_softmax(features @ weight.T + bias), target, pad_id)`: each row's largest NLL over its
    non-pad targets, (B,), without the (B, S, V) tensor: hard-example mining ranks many candidates a step by it."""
    keep = target != pad_id  # (B, S)
    work = torch.promote_types(features.dtype, torch.float32)
    table_t = weight.t().to(matmul_dtype or work)  # (E, V)
    rows, picked_ids = features[keep].to(table_t.dtype), target[keep]  # (N, E), (N,)
    nll = torch.empty(rows.size(0), dtype=work, device=features.device)
    for start in range(0, rows.size(0), chunk_rows):
        logits = torch.mm(rows[start : start + chunk_rows], table_t).to(work).add_(bias)  # (n, V)
        picked = logits.gather(1, picked_ids[start : start + chunk_rows, None])[:, 0]
        nll[start : start + chunk_rows] = logits.logsumexp(dim=1) - picked
    worst = torch.zeros(target.shape, dtype=work, device=features.device)  # (B, S), 0 at <pad>
    worst[keep] = nll
    return worst.max(dim=1).values
