"""The training step's forward, fast: the same loss as `masked_nll(model(...))`, a few times sooner.

Three changes from the lesson's `Seq2Seq.forward` + `masked_nll`, none to the model or to what it learns:
- the loss from the decoder's features through `fused_masked_nll`, with no (B, S, V) tensor (fused_loss.py);
- a one-layer encoder reads the padded batch to its end and each row's state is taken at its own last word
  (the GRU is causal: that state has seen no <pad>, as with packing). nn.GRU's backward over a packed
  sequence zero-fills the whole (B x T, 3H) input-gate gradient once per step: 45% of a step on this CPU;
- bf16 autocast where the hardware multiplies bf16 fast (AMX on this CPU, any recent GPU): the GRUs' and the
  output layer's matmuls in bf16, the weights, the optimizer and the loss's softmax in fp32.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ..model import Seq2Seq, reverse_padded
from .fused_loss import CHUNK_ROWS, fused_masked_nll_and_accuracy, fused_worst_token_nll

# With bf16 the output layer's matmuls run in bf16 too (the softmax stays fp32), in chunks of 256 rows: about 6%
# a step faster than fp32 matmuls in chunks of 128 (AVX-512 BF16 CPU, batch 256 x 26 words).
BF16_CHUNK_ROWS = 256


def bf16_is_fast(device: torch.device) -> bool:
    """Whether bf16 autocast is worth taking: CUDA with bf16, or a CPU with AMX or AVX-512 BF16 (oneDNN says)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return (
        device.type == "cpu" and torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    )


def encode_to_last_word(model: Seq2Seq, src: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """`model.encode`: (L, B, H), each row's state after its own last word; one layer read unpacked (see above)."""
    if model.config.num_layers != 1:
        return model.encode(src, lengths)
    if model.config.reverse_source:
        src = reverse_padded(src, lengths, model.config.pad_id)
    outputs, _ = model.encoder.rnn(model.embedding(src))  # (B, T, H): the state after each word
    last = (lengths.to(src.device) - 1).clamp(min=0)
    return outputs[torch.arange(src.size(0), device=src.device), last][None]  # (1, B, H)


def decoder_features(
    model: Seq2Seq, src: torch.Tensor, lengths: torch.Tensor, tgt_in: torch.Tensor, bf16: bool = False
) -> torch.Tensor:
    """(B, S, E): the decoder's projection of the teacher-forced target, before the tied output layer."""
    with torch.autocast(src.device.type, dtype=torch.bfloat16, enabled=bf16):
        hidden = encode_to_last_word(model, src, lengths)  # (L, B, H)
        features, _ = model.decoder(model.embedding(tgt_in), hidden)  # (B, S, E)
    return features


def training_loss(
    model: Seq2Seq,
    src: torch.Tensor,
    lengths: torch.Tensor,
    tgt_in: torch.Tensor,
    tgt_out: torch.Tensor,
    bf16: bool = False,
) -> tuple[torch.Tensor, float]:
    """(masked NLL of the teacher-forced batch, token accuracy): `masked_nll(model(src, lengths, tgt_in), tgt_out)`."""
    return _through_output_layer(fused_masked_nll_and_accuracy, model, src, lengths, tgt_in, tgt_out, bf16)


class TrainingLoss(nn.Module):
    """`training_loss` as a module around the model, so DistributedDataParallel (which syncs gradients of what
    runs through its wrapped module's forward) can wrap it."""

    def __init__(self, model: Seq2Seq, bf16: bool):
        super().__init__()
        self.model, self.bf16 = model, bf16

    def forward(self, src, lengths, tgt_in, tgt_out) -> tuple[torch.Tensor, float]:
        return training_loss(self.model, src, lengths, tgt_in, tgt_out, self.bf16)


def worst_token_nll(
    model: Seq2Seq,
    src: torch.Tensor,
    lengths: torch.Tensor,
    tgt_in: torch.Tensor,
    tgt_out: torch.Tensor,
    bf16: bool = False,
) -> torch.Tensor:
    """(B,): `s2s.loss.worst_token_nll(model(src, lengths, tgt_in), tgt_out)`, no (B, S, V) tensor, no gradient."""
    return _through_output_layer(fused_worst_token_nll, model, src, lengths, tgt_in, tgt_out, bf16)


def _through_output_layer(fused, model: Seq2Seq, src, lengths, tgt_in, tgt_out, bf16: bool):
    """`fused` (a function of fused_loss.py) of the decoder's features and the tied output layer, in the precision
    of the step: with bf16 the output layer's matmuls too, in chunks of BF16_CHUNK_ROWS."""
    return fused(
        decoder_features(model, src, lengths, tgt_in, bf16),
        model.embedding.weight,
        model.out_bias,
        tgt_out,
        model.config.pad_id,
        chunk_rows=BF16_CHUNK_ROWS if bf16 else CHUNK_ROWS,
        matmul_dtype=torch.bfloat16 if bf16 else None,
    )
