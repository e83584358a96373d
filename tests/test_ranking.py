"""The decoder's ranking step: torch's operations against plain torch, kernels.c's against torch's operations."""

import pytest
import torch

from s2s.fast.ranking import (
    EXP_FLOOR,
    TOPK_CHUNK,
    OutputLayer,
    chunked_topk,
    log_normalizer_,
    ranked_log_probs,
    ranked_output,
)


def padded_logits(rows: int, vocab: int = 5029, scale: float = 5.0, seed: int = 0) -> torch.Tensor:
    """Logits shaped as the decoder makes them: the vocabulary padded with -inf to a multiple of TOPK_CHUNK."""
    generator = torch.Generator().manual_seed(seed)
    logits = torch.full((rows, vocab + -vocab % TOPK_CHUNK), float("-inf"))
    logits[:, :vocab] = torch.randn(rows, vocab, generator=generator) * scale
    return logits


def torch_ranking(logits: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    values, ids = chunked_topk(logits.clone(), k)
    return values - log_normalizer_(logits.clone(), values[:, :1]), ids


def test_the_in_place_log_normalizer_is_logsumexp():
    torch.manual_seed(0)
    logits = torch.randn(7, 300) * 30
    logits[:, 290:] = float("-inf")  # the output layer's padding
    expected = logits.logsumexp(dim=-1, keepdim=True)
    assert torch.allclose(log_normalizer_(logits.clone(), logits.amax(dim=-1, keepdim=True)), expected, atol=1e-5)


def test_the_log_normalizers_floor_changes_no_bit():
    """Logits far below their row's max are raised to EXP_FLOOR (a slow path of exp avoids them): the sum,
    at least 1, cannot hold what that adds, so the result is the unclamped one bit for bit."""
    torch.manual_seed(0)
    logits = torch.randn(64, 5056) * 60
    logits[:, 5000:] = float("-inf")
    top = logits.amax(dim=-1, keepdim=True)
    assert ((logits - top) < EXP_FLOOR).float().mean() > 0.05  # the floor is reached, often
    unclamped = (logits - top).exp().sum(dim=-1, keepdim=True).log() + top
    assert torch.equal(log_normalizer_(logits.clone(), top), unclamped)


def test_chunked_topk_equals_topk_on_a_padded_vocabulary():
    torch.manual_seed(0)
    vocab = 5029
    padded = -vocab % TOPK_CHUNK + vocab
    logits = torch.full((64, padded), float("-inf"))
    logits[:, :vocab] = torch.randn(64, vocab) * 3
    logits[0, :vocab] = -1e4 + torch.randn(vocab)  # a row with its best ids all in one chunk
    logits[0, 70:75] = torch.tensor([5.0, 4.0, 3.0, 2.0, 1.0])
    for k in (1, 2, 5, 10):
        values, ids = chunked_topk(logits, k)
        expected = logits.topk(k, dim=-1)
        assert torch.equal(values, expected.values) and torch.equal(ids, expected.indices)
    assert chunked_topk(logits, 5)[1][0].tolist() == [70, 71, 72, 73, 74]


@pytest.mark.parametrize("scale", [1.0, 5.0, 60.0])
def test_the_native_ranking_ranks_as_torch_does(kernels, scale):
    """The same ids; probabilities as close to float64's as torch's own (both within 1e-5: float32 rounding of
    log-probabilities near 0 and of the normaliser)."""
    logits = padded_logits(300, scale=scale)
    logits[0, :5029] = -1e4 + torch.randn(5029)  # a row with its best ids all in one block
    logits[0, 70:75] = torch.tensor([5.0, 4.0, 3.0, 2.0, 1.0])
    exact = torch.log_softmax(logits.double(), dim=-1)
    for k in (1, 2, 5, 10):
        log_probs, ids = ranked_log_probs(logits.clone(), k)
        torch_log_probs, torch_ids = torch_ranking(logits, k)
        assert torch.equal(ids, torch_ids)
        exact_probs = exact.gather(1, ids).exp()
        assert (log_probs.double().exp() - exact_probs).abs().max() < 1e-5
        assert (torch_log_probs.double().exp() - exact_probs).abs().max() < 1e-5
    assert ranked_log_probs(logits.clone(), 5)[1][0].tolist() == [70, 71, 72, 73, 74]


def test_the_native_ranking_leaves_the_logits_as_they_were(kernels):
    logits = padded_logits(4)
    kept = logits.clone()
    ranked_log_probs(logits, 5)
    assert torch.equal(logits, kept)


def test_the_native_ranking_gives_a_row_the_same_bits_alone_in_any_batch_and_thread_count(kernels):
    logits = padded_logits(64, scale=20.0)
    together = ranked_log_probs(logits.clone(), 5)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one_thread = ranked_log_probs(logits.clone(), 5)
    finally:
        torch.set_num_threads(threads)
    for row in (0, 17, 63):
        alone = ranked_log_probs(logits[row : row + 1].clone(), 5)
        assert all(torch.equal(whole[row], single[0]) for whole, single in zip(together, alone))
    assert all(torch.equal(a, b) for a, b in zip(together, one_thread))


def test_the_native_ranking_takes_any_width_and_no_rows(kernels):
    logits = torch.randn(4, 7)  # not a multiple of a block: the last block is short
    log_probs, ids = ranked_log_probs(logits.clone(), 7)  # k = the whole vocabulary
    assert torch.equal(ids, logits.argsort(dim=-1, descending=True))
    assert torch.allclose(log_probs, torch.log_softmax(logits, -1).gather(1, ids), atol=1e-6)
    log_probs, ids = ranked_log_probs(torch.empty(0, 64), 3)
    assert log_probs.shape == ids.shape == (0, 3)


def output_layer(rows: int, size: int = 48, embed: int = 32, vocab: int = 5029, seed: int = 0):
    """Decoder states, and the projection and output layer as Seq2Seq lays them out (the output layer's rows
    padded to a multiple of TOPK_CHUNK, a padding id's bias -inf) -> (states, OutputLayer, float64 logits)."""
    generator = torch.Generator().manual_seed(seed)
    hidden = torch.randn(rows, size, generator=generator)
    proj_weight, proj_bias = torch.randn(embed, size, generator=generator) / 4, torch.randn(embed, generator=generator)
    padded = vocab + -vocab % TOPK_CHUNK
    out_weight = torch.zeros(padded, embed)
    out_weight[:vocab] = torch.randn(vocab, embed, generator=generator) * 0.7
    out_bias = torch.full((padded,), float("-inf"))
    out_bias[:vocab] = torch.randn(vocab, generator=generator)
    exact = (
        hidden.double() @ proj_weight.double().t() + proj_bias.double()
    ) @ out_weight.double().t() + out_bias.double()
    return hidden, OutputLayer.of(proj_weight, proj_bias, out_weight, out_bias), exact


@pytest.mark.parametrize("rows", [1, 7, 8, 9, 130])  # around the native tile of rows (8 or 4)
def test_the_native_output_layer_ranks_as_the_product_then_the_ranking(kernels, rows):
    """Without the (N, V') logits: the same ids as torch's products then ranking, probabilities within 1e-5 of
    float64's (the products' rounding differs from torch's matmuls by float rounding only)."""
    hidden, layer, exact = output_layer(rows)
    exact = torch.log_softmax(exact, dim=-1)
    for k in (1, 5, 10):
        log_probs, ids = ranked_output(hidden, layer, k)
        assert torch.equal(ids, torch_ranking(layer.logits(hidden), k)[1])
        assert (log_probs.double().exp() - exact.gather(1, ids).exp()).abs().max() < 1e-5


def test_the_native_output_layer_gives_a_row_the_same_bits_alone_in_any_batch_and_thread_count(kernels):
    hidden, layer, _ = output_layer(37)  # tiles of 8 (or 4) rows and a short last one
    together = ranked_output(hidden, layer, 5)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one_thread = ranked_output(hidden, layer, 5)
    finally:
        torch.set_num_threads(threads)
    for row in (0, 5, 8, 36):
        alone = ranked_output(hidden[row : row + 1], layer, 5)
        shifted = ranked_output(hidden[row:], layer, 5)  # the row first in its tile, not at its old place
        assert all(torch.equal(whole[row], single[0]) for whole, single in zip(together, alone))
        assert all(torch.equal(whole[row], first[0]) for whole, first in zip(together, shifted))
    assert all(torch.equal(a, b) for a, b in zip(together, one_thread))


def test_the_output_layer_takes_any_width_and_no_rows(kernels):
    # A state smaller than a tile of features; k: every id.
    hidden, layer, exact = output_layer(3, size=8, embed=4, vocab=40)
    log_probs, ids = ranked_output(hidden, layer, 40)
    assert torch.equal(ids, exact.float().argsort(dim=-1, descending=True)[:, :40])
    hidden, layer, _ = output_layer(0)
    log_probs, ids = ranked_output(hidden, layer, 3)
    assert log_probs.shape == ids.shape == (0, 3)
