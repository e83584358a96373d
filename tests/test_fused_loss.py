"""The fast training loss equals the lesson's: fused_masked_nll against masked_nll, and training_loss against
masked_nll(model(...)), in value and in every gradient, on padded batches."""

import pytest
import torch
import torch.nn.functional as F
from helpers import tiny_model, tiny_tokenizer

from s2s.data import collate
from s2s.loss import masked_nll, worst_token_nll
from s2s.training.fused_loss import fused_masked_nll, fused_masked_nll_and_accuracy, fused_worst_token_nll
from s2s.training.train_step import encode_to_last_word, training_loss
from s2s.training.train_step import worst_token_nll as fast_worst_token_nll

PAD = 0


def padded_batch(seed: int, rows: int = 6, steps: int = 9, vocab: int = 37, size: int = 8):
    """Features, a tied output layer and targets whose rows end at different lengths (PAD after)."""
    g = torch.Generator().manual_seed(seed)
    features = torch.randn(rows, steps, size, generator=g, dtype=torch.float64)
    weight = torch.randn(vocab, size, generator=g, dtype=torch.float64)
    bias = torch.randn(vocab, generator=g, dtype=torch.float64)
    target = torch.randint(1, vocab, (rows, steps), generator=g)
    lengths = torch.randint(1, steps + 1, (rows,), generator=g)
    target[torch.arange(steps)[None, :] >= lengths[:, None]] = PAD
    return features, weight, bias, target


def loss_and_grads(loss_of, features, weight, bias, target):
    leaves = [t.clone().requires_grad_() for t in (features, weight, bias)]
    loss = loss_of(*leaves, target)
    loss.backward()
    return loss.detach(), [t.grad for t in leaves]


def plain(features, weight, bias, target):
    return masked_nll(F.log_softmax(features @ weight.t() + bias, dim=-1), target, PAD)


@pytest.mark.parametrize("chunk_rows", [1, 5, 128])  # chunks of one row, chunks that do not divide the rows
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fused_loss_equals_masked_nll_in_value_and_gradients(seed, chunk_rows):
    batch = padded_batch(seed)
    expected, expected_grads = loss_and_grads(plain, *batch)
    fused, grads = loss_and_grads(lambda f, w, b, t: fused_masked_nll(f, w, b, t, PAD, chunk_rows), *batch)
    assert fused.dtype == torch.float64
    assert torch.allclose(fused, expected, rtol=1e-10, atol=1e-12)
    for got, want in zip(grads, expected_grads):
        assert torch.allclose(got, want, rtol=1e-9, atol=1e-12)


def test_padding_counts_nothing_in_the_fused_loss():
    features, weight, bias, target = padded_batch(3)
    changed = features.clone()
    changed[target == PAD] = 1e3  # what the decoder says at a padded position must not matter
    assert torch.equal(
        fused_masked_nll(changed, weight, bias, target, PAD), fused_masked_nll(features, weight, bias, target, PAD)
    )


def test_bf16_matmuls_stay_close_and_the_accuracy_is_the_argmax_share():
    features, weight, bias, target = (t.float() if t.is_floating_point() else t for t in padded_batch(4, rows=32))
    expected = plain(features, weight, bias, target)
    assert torch.allclose(
        fused_masked_nll(features, weight, bias, target, PAD, matmul_dtype=torch.bfloat16), expected, rtol=2e-2
    )
    _, accuracy = fused_masked_nll_and_accuracy(features, weight, bias, target, PAD)
    keep = target != PAD
    best = (features @ weight.t() + bias).argmax(-1)
    assert accuracy == pytest.approx(((best == target) & keep).sum().item() / keep.sum().item())


@pytest.mark.parametrize("layers", [1, 2])
def test_the_training_loss_equals_masked_nll_of_the_model(layers):
    tok = tiny_tokenizer()
    model = tiny_model(tok, seed=5, layers=layers).double().train()
    batch = collate([[4, 5, 6], [7], [8, 9, 10, 11, 12], [5, 5]])  # padded sources and targets
    expected = masked_nll(model(batch.src, batch.lengths, batch.tgt_in), batch.tgt_out, PAD)
    expected.backward()
    expected_grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad()
    loss, _ = training_loss(model, batch.src, batch.lengths, batch.tgt_in, batch.tgt_out)
    loss.backward()
    assert torch.allclose(loss, expected, rtol=1e-10)
    for name, p in model.named_parameters():
        assert torch.allclose(p.grad, expected_grads[name], rtol=1e-8, atol=1e-12), name


def test_the_encoder_read_to_each_rows_last_word_is_the_packed_one():
    tok = tiny_tokenizer()
    model = tiny_model(tok, seed=6)
    batch = collate([[4, 5, 6, 7, 8, 9], [7], [8, 9, 10]])
    with torch.no_grad():
        assert torch.allclose(
            encode_to_last_word(model, batch.src, batch.lengths), model.encode(batch.src, batch.lengths), atol=1e-6
        )


@pytest.mark.parametrize("chunk_rows", [1, 5, 128])
def test_the_fused_worst_token_nll_is_each_rows_largest_nll(chunk_rows):
    features, weight, bias, target = padded_batch(7)
    expected = worst_token_nll(F.log_softmax(features @ weight.t() + bias, dim=-1), target, PAD)
    got = fused_worst_token_nll(features, weight, bias, target, PAD, chunk_rows)
    assert torch.allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_mining_ranks_rows_by_the_models_worst_token_without_the_full_log_probs():
    tok = tiny_tokenizer()
    model = tiny_model(tok, seed=8).double().eval()
    batch = collate([[4, 5, 6], [7], [8, 9, 10, 11, 12], [5, 5], [12, 4, 9, 9]])
    with torch.no_grad():
        expected = worst_token_nll(model(batch.src, batch.lengths, batch.tgt_in), batch.tgt_out, PAD)
        got = fast_worst_token_nll(model, batch.src, batch.lengths, batch.tgt_in, batch.tgt_out)
        assert torch.allclose(got, expected, rtol=1e-10)
        in_bf16 = fast_worst_token_nll(model.float(), batch.src, batch.lengths, batch.tgt_in, batch.tgt_out, bf16=True)
    assert torch.allclose(in_bf16.double(), expected, rtol=5e-2)
