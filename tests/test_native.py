"""s2s/fast/native.py and kernels.c's GRU cell: built once, torch's operations where they cannot be, the same decoding
either
way."""

import pytest
import torch
from helpers import tiny_model, tiny_tokenizer

from s2s.fast import decode, generate, gru_cell, native


def test_the_kernels_are_built_once_and_reported(kernels):
    assert native.library() is kernels
    assert native.status().startswith("native kernels (")


@pytest.mark.parametrize(
    "cause, environment",
    [("S2S_NATIVE=0", {"S2S_NATIVE": "0"}), ("no C compiler found", {"CC": "no-such-compiler-here"})],
)
def test_without_the_kernels_decoding_uses_torch(monkeypatch, cause, environment):
    monkeypatch.setattr(native, "_state", {})
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert native.library() is None and not native.usable(torch.zeros(1))
    assert native.status().startswith("torch operations (") and cause in native.status()
    tok = tiny_tokenizer()
    batch = tok.encode_batch(["I love CUDA", "Bob"])
    assert generate(tiny_model(tok), batch.src, batch.lengths, top_k=3).tokens.shape[0] == 2


def test_a_compiler_that_fails_leaves_decoding_to_torch(monkeypatch, tmp_path):
    failing = tmp_path / "cc"
    failing.write_text("#!/bin/sh\necho 'cc: out of luck' >&2\nexit 1\n")
    failing.chmod(0o755)
    monkeypatch.setattr(native, "_state", {})
    monkeypatch.setenv("CC", str(failing))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert native.library() is None
    assert native.status() == "torch operations (building s2s/fast/kernels.c failed: cc: out of luck)"


@pytest.mark.parametrize("fused_max_rows", [0, 1000])  # the matmul then the gates; the fused cell
def test_the_native_gru_cell_steps_as_nn_gru_does(kernels, monkeypatch, fused_max_rows):
    monkeypatch.setattr(gru_cell, "FUSED_MAX_ROWS", fused_max_rows)
    torch.manual_seed(0)
    rnn = torch.nn.GRU(16, 64, batch_first=True)
    embedding = torch.randn(50, 16)
    weights = gru_cell.CellWeights.of(rnn, embedding)
    words, hidden = torch.randint(0, 50, (21,)), torch.randn(21, 64) * 2  # full tiles of rows and a last one
    with torch.no_grad():
        expected = rnn(embedding[words][:, None], hidden[None])[1][0]
    stepped = gru_cell.step(weights, words, hidden)
    assert torch.allclose(stepped, expected, atol=1e-6)
    for rows in (slice(4, 5), slice(3, 5), slice(16, 21)):  # alone, two and five rows (a last tile's two ways)
        apart = gru_cell.step(weights, words[rows], hidden[rows])
        if fused_max_rows:  # each state a chain of its own: the same bits in any batch
            assert torch.equal(apart, stepped[rows])
        else:  # the matmul may round differently for other row counts
            assert torch.allclose(apart, stepped[rows], atol=1e-6)
    column = torch.stack([words, words], dim=1)[:, 0]  # ids read in place at a stride, as the ranking leaves them
    assert column.stride(0) == 2 and torch.equal(gru_cell.step(weights, column, hidden), stepped)


@pytest.mark.parametrize("beam_width, hidden", [(1, 32), (2, 32), (1, 40)])  # 40: no block of the fused cell fits
def test_decoding_gives_the_same_words_natively_and_with_torch(kernels, monkeypatch, beam_width, hidden):
    tok = tiny_tokenizer()
    model = tiny_model(tok, seed=3, hidden=hidden)
    batch = tok.encode_batch(["I love CUDA", "the cat sat on the mat", "Bob", "my name is my name"])
    natively = generate(model, batch.src, batch.lengths, top_k=4, beam_width=beam_width)
    monkeypatch.setattr(native, "usable", lambda *tensors: False)
    with_torch = generate(model, batch.src, batch.lengths, top_k=4, beam_width=beam_width)
    assert torch.equal(natively.tokens, with_torch.tokens) and torch.equal(natively.top_ids, with_torch.top_ids)
    assert torch.allclose(natively.top_probs, with_torch.top_probs, atol=1e-5)
    assert torch.allclose(natively.log_prob, with_torch.log_prob, atol=1e-5)


@pytest.mark.parametrize("fused_max_rows", [0, 3, 1000])  # the matmul's way, both ways as rows finish, fused
def test_the_stepped_encoder_reads_as_the_packed_gru(kernels, monkeypatch, fused_max_rows):
    """Decoding's encoder steps the native cell over rows sorted longest first; each row stops at its own last word."""
    monkeypatch.setattr(gru_cell, "FUSED_MAX_ROWS", fused_max_rows)
    tok = tiny_tokenizer()
    model = tiny_model(tok, seed=5)
    batch = tok.encode_batch(["the cat sat on the mat", "Bob", "I love CUDA", "a dog", "my name is my name"])
    with torch.inference_mode():
        stepped = decode.encode(model, batch.src, batch.lengths)
        packed = model.encode(batch.src, batch.lengths)
    assert "encoder" in model._kept_layouts  # it stepped, not fell back to nn.GRU
    assert stepped.shape == packed.shape and torch.allclose(stepped, packed, atol=1e-6)


def test_a_decoding_loops_native_pieces_keep_their_weights_alive(kernels):
    """The loops call the kernels with the weights' addresses: the step and the ranking must hold the tensors
    themselves, or a layout the model drops (rebuilt by another thread, or after training) is freed under them."""
    import gc
    import weakref

    from s2s.fast.ranking import ranker

    model = tiny_model(tiny_tokenizer(), seed=4)
    cell, output = decode.step_weights(model), decode.output_layer(model)
    step, rank = gru_cell.stepper(cell), ranker(output, 3)
    held = [weakref.ref(t) for t in (cell.gates_in, cell.w_packed, cell.w_hh, output.proj_t, output.weight_t)]
    del cell, output
    model._kept_layouts.clear()
    gc.collect()
    assert all(ref() is not None for ref in held)
    assert rank(step(torch.tensor([5, 6]), torch.zeros(2, 32)))[1].shape == (2, 3)


def test_threads_decoding_at_once_share_one_layout_of_the_weights(kernels, monkeypatch):
    """The first calls of a server's batcher and of a program's own thread can come together: one build of each
    layout, the same object for both, and each thread's words as decoding alone gives them."""
    import threading

    from s2s.fast import ranking

    tok = tiny_tokenizer()
    batch = tok.encode_batch(["I love CUDA", "the cat sat on the mat", "Bob"])
    expected = tiny_model(tok, seed=3).generate(batch.src, batch.lengths, top_k=3, beam_width=2)
    model = tiny_model(tok, seed=3)
    builds, of = [], ranking.OutputLayer.of

    def slow_build(*args):
        builds.append(1)
        threading.Event().wait(0.05)  # long enough for the other threads to arrive
        return of(*args)

    monkeypatch.setattr(ranking.OutputLayer, "of", staticmethod(slow_build))
    start, results = threading.Barrier(3), []

    def decode():
        start.wait()
        results.append(generate(model, batch.src, batch.lengths, top_k=3, beam_width=2))

    threads = [threading.Thread(target=decode) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(builds) == 1 and len(results) == 3
    assert all(torch.equal(r.tokens, expected.tokens) and torch.equal(r.top_ids, expected.top_ids) for r in results)
