"""The decoder's ranking step: torch's operations against plain torch, the native kernel against torch's operations."""

import shutil

import pytest
import torch

from s2s import native_ranking
from s2s.ranking import EXP_FLOOR, TOPK_CHUNK, chunked_topk, log_normalizer_, ranked_log_probs

from helpers import tiny_model, tiny_tokenizer


def padded_logits(rows: int, vocab: int = 5029, scale: float = 5.0, seed: int = 0) -> torch.Tensor:
    """Logits shaped as the decoder makes them: the vocabulary padded with -inf to a multiple of TOPK_CHUNK."""
    generator = torch.Generator().manual_seed(seed)
    logits = torch.full((rows, vocab + -vocab % TOPK_CHUNK), float("-inf"))
    logits[:, :vocab] = torch.randn(rows, vocab, generator=generator) * scale
    return logits


def torch_ranking(logits: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    values, ids = chunked_topk(logits.clone(), k)
    return values - log_normalizer_(logits.clone(), values[:, :1]), ids


@pytest.fixture(scope="module")
def native():
    if shutil.which("cc") is None:
        pytest.skip("no C compiler: decoding ranks with torch's operations")
    ranked = native_ranking.kernel()
    assert ranked is not None, native_ranking.status()  # a compiler that cannot build it is a failure
    return ranked


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


def test_the_native_kernel_is_what_decoding_uses_where_it_builds(native):
    assert native_ranking.status().startswith("native kernel")
    logits = padded_logits(3)
    log_probs, ids = ranked_log_probs(logits.clone(), 5)
    assert torch.equal(log_probs, native(logits, 5)[0]) and torch.equal(ids, native(logits, 5)[1])


@pytest.mark.parametrize("scale", [1.0, 5.0, 60.0])
def test_the_native_kernel_ranks_as_torch_does(native, scale):
    """The same ids; probabilities as close to float64's as torch's own (both within 1e-5: float32 rounding of
    log-probabilities near 0 and of the normaliser)."""
    logits = padded_logits(300, scale=scale)
    logits[0, :5029] = -1e4 + torch.randn(5029)  # a row with its best ids all in one block
    logits[0, 70:75] = torch.tensor([5.0, 4.0, 3.0, 2.0, 1.0])
    exact = torch.log_softmax(logits.double(), dim=-1)
    for k in (1, 2, 5, 10):
        log_probs, ids = native(logits, k)
        torch_log_probs, torch_ids = torch_ranking(logits, k)
        assert torch.equal(ids, torch_ids)
        exact_probs = exact.gather(1, ids).exp()
        assert (log_probs.double().exp() - exact_probs).abs().max() < 1e-5
        assert (torch_log_probs.double().exp() - exact_probs).abs().max() < 1e-5
    assert native(logits, 5)[1][0].tolist() == [70, 71, 72, 73, 74]


def test_the_native_kernel_gives_a_row_the_same_bits_alone_in_any_batch_and_thread_count(native):
    logits = padded_logits(64, scale=20.0)
    together = native(logits, 5)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one_thread = native(logits, 5)
    finally:
        torch.set_num_threads(threads)
    for row in (0, 17, 63):
        alone = native(logits[row:row + 1].clone(), 5)
        for whole, single in zip(together, alone):
            assert torch.equal(whole[row], single[0])
    assert all(torch.equal(a, b) for a, b in zip(together, one_thread))


def test_the_native_kernel_takes_any_width_and_no_rows(native):
    logits = torch.randn(4, 7)  # not a multiple of anything: the last block is short
    log_probs, ids = native(logits, 7)  # k = the whole vocabulary
    assert torch.equal(ids, logits.argsort(dim=-1, descending=True))
    assert torch.allclose(log_probs, torch.log_softmax(logits, -1).gather(1, ids), atol=1e-6)
    empty = native(torch.empty(0, 64), 3)
    assert empty[0].shape == (0, 3) and empty[1].shape == (0, 3)


@pytest.mark.parametrize("beam_width", [1, 2])
def test_decoding_gives_the_same_words_with_either_ranking(native, monkeypatch, beam_width):
    tok = tiny_tokenizer()
    model = tiny_model(tok, seed=3)
    batch = tok.encode_batch(["I love CUDA", "the cat sat on the mat", "Bob", "my name is my name"])
    natively = model.generate(batch.src, batch.lengths, top_k=4, beam_width=beam_width)
    monkeypatch.setattr(native_ranking, "kernel", lambda: None)
    with_torch = model.generate(batch.src, batch.lengths, top_k=4, beam_width=beam_width)
    assert torch.equal(natively.tokens, with_torch.tokens) and torch.equal(natively.top_ids, with_torch.top_ids)
    assert torch.allclose(natively.top_probs, with_torch.top_probs, atol=1e-6)
    assert torch.allclose(natively.log_prob, with_torch.log_prob, atol=1e-5)


def test_without_a_compiler_decoding_ranks_with_torch(monkeypatch):
    monkeypatch.setattr(native_ranking, "_state", {})
    monkeypatch.setenv("CC", "no-such-compiler-here")
    assert native_ranking.kernel() is None
    assert native_ranking.status() == "torch operations (no C compiler found to build s2s/ranking.c)"
    logits = padded_logits(2)
    assert torch.equal(ranked_log_probs(logits.clone(), 3)[1], logits.topk(3).indices)
