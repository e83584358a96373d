"""The fast search (s2s.fast: kernels.c's beam_step, the stepped cell, the ranking) gives the lesson's search's words
(Seq2Seq.generate), ties included, probabilities within 1e-5: the contract between the two."""

import pytest
import torch
from helpers import tiny_model, tiny_tokenizer

from s2s.fast import beam_step, generate

SENTENCES = [
    "I love CUDA",
    "the cat sat on the mat",
    "my name is TF",
    "a",
    "dog is my name",
    "I",
    "the cat sat on the mat is my",
    "Aww",
]


def _decode_both_ways(model, tok, sentences, width, monkeypatch, top_k=4):
    """(the fast search, the lesson's plain one) on the same batch."""
    batch = tok.encode_batch(sentences)
    fast = generate(model, batch.src, batch.lengths, top_k=top_k, beam_width=width)
    plain = model.generate(batch.src, batch.lengths, top_k=top_k, beam_width=width)
    return fast, plain


def _assert_same(natively, with_torch):
    for name in ("tokens", "top_ids", "num_steps"):
        assert torch.equal(getattr(natively, name), getattr(with_torch, name)), name
    for name in ("probs", "top_probs", "log_prob"):
        assert torch.allclose(getattr(natively, name), getattr(with_torch, name), atol=1e-5), name


@pytest.mark.parametrize("width, layers", [(1, 1), (2, 1), (3, 1), (8, 1), (1, 2), (2, 2)])
def test_the_fast_search_decodes_as_the_lesson(kernels, monkeypatch, width, layers):
    tok = tiny_tokenizer()
    model = tiny_model(tok, seed=3, layers=layers)
    _assert_same(*_decode_both_ways(model, tok, SENTENCES, width, monkeypatch))


def _twins(tok, seed=4):
    """A model in which "cat" and "dog" are the same word (embedding, tied output row, bias), and likely: every
    step ties them, and beams that differ only by one of them have the same state, so their candidates tie too."""
    model = tiny_model(tok, seed=seed)
    cat, dog = tok.encode_batch(["cat dog"]).src[0, :2].tolist()
    with torch.no_grad():
        model.embedding.weight[dog] = model.embedding.weight[cat]
        model.out_bias[cat] += 4.0
        model.out_bias[dog] = model.out_bias[cat]
    return model, cat, dog


@pytest.mark.parametrize("width", [2, 3, 8])
def test_ties_go_to_the_first_candidate_both_ways(kernels, monkeypatch, width):
    tok = tiny_tokenizer()
    model, cat, dog = _twins(tok)
    natively, with_torch = _decode_both_ways(model, tok, SENTENCES, width, monkeypatch)
    _assert_same(natively, with_torch)
    twins = {cat, dog}
    tied = [ids for ids in natively.top_ids.flatten(0, 1).tolist() if set(ids[:2]) == twins]
    assert len(tied) > 20  # the twins were each other's runner-up at many steps: the ties were there to break


def test_the_native_search_runs_where_the_kernels_are_built_and_not_for_a_history(kernels, monkeypatch):
    tok = tiny_tokenizer()
    model = tiny_model(tok, seed=3)
    batch = tok.encode_batch(SENTENCES)
    calls = []
    search = beam_step.search
    monkeypatch.setattr(beam_step, "search", lambda *args: calls.append(args[4]) or search(*args))
    for width in (1, 2):
        generate(model, batch.src, batch.lengths, top_k=3, beam_width=width)
    assert calls == [1, 2]
    kept = model.generate(batch.src, batch.lengths, top_k=3, beam_width=2, keep_history=True)
    assert calls == [1, 2] and kept.history  # the tree view's history comes from the lesson's search


def test_rows_that_finish_at_different_steps_leave_and_keep_their_records(kernels, monkeypatch):
    # Many rows of every length, in a mixed order: rows leave at many different steps, the live ones move up.
    tok = tiny_tokenizer()
    model = tiny_model(tok, seed=7)
    words = "the cat sat on the mat is my".split()
    sentences = [" ".join(words[: 1 + (i * 5) % 8]) for i in range(40)]
    natively, with_torch = _decode_both_ways(model, tok, sentences, 3, monkeypatch)
    assert len(set(natively.num_steps.tolist())) > 3
    _assert_same(natively, with_torch)
