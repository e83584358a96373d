"""The model: packing, batch invariance, decoding's stopping rules, serialization."""

import random

import pytest
import torch
from helpers import tiny_model, tiny_tokenizer
from safetensors.torch import load_file

from s2s.fast import generate
from s2s.model import Seq2Seq, reverse_padded
from s2s.tokenizer import EOS_ID, PAD_ID, SOS_ID

SENTENCES = ["I love CUDA", "TF is Aww", "the cat sat on the mat", "Bob", "my name is Sunil and Sunil is my name"[:40]]


def test_reverse_padded_reverses_only_the_words():
    src = torch.tensor([[5, 6, 7], [8, 9, PAD_ID]])
    assert reverse_padded(src, torch.tensor([3, 2]), PAD_ID).tolist() == [[7, 6, 5], [9, 8, PAD_ID]]


def test_encoder_state_of_a_padded_row_equals_the_row_alone():
    tok = tiny_tokenizer()
    model = tiny_model(tok)
    batch = tok.encode_batch(["I love CUDA", "the cat sat on the mat too"])
    alone = tok.encode_batch(["I love CUDA"])
    with torch.no_grad():
        padded_state = model.encode(batch.src, batch.lengths)[:, 0]
        own_state = model.encode(alone.src, alone.lengths)[:, 0]
        # Without packing the GRU would read the pads: the state would differ.
        unpacked = model.encoder.rnn(model.embedding(batch.src))[1][:, 0]
    assert torch.allclose(padded_state, own_state, atol=1e-6)
    assert not torch.allclose(unpacked, own_state, atol=1e-3)


@pytest.fixture(scope="module")
def model_and_tokenizer():
    tok = tiny_tokenizer()
    return tiny_model(tok, seed=3), tok


WAYS = {"lesson": lambda model, *args, **kwargs: model.generate(*args, **kwargs), "fast": generate}


@pytest.mark.parametrize("way", list(WAYS))
@pytest.mark.parametrize("beam_width", [1, 3])
def test_batch_invariance(model_and_tokenizer, beam_width, way):
    """Each sentence decodes to the same tokens alone, in the batch, and in a shuffled batch: both searches."""
    model, tok = model_and_tokenizer
    decode = WAYS[way]
    order = list(range(len(SENTENCES)))
    random.Random(0).shuffle(order)
    together = decode(model, *_src(tok, SENTENCES), top_k=3, beam_width=beam_width)
    shuffled = decode(model, *_src(tok, [SENTENCES[i] for i in order]), top_k=3, beam_width=beam_width)
    for i, sentence in enumerate(SENTENCES):
        alone = decode(model, *_src(tok, [sentence]), top_k=3, beam_width=beam_width)
        n = int(alone.num_steps[0])
        j = order.index(i)
        for gen, row in ((together, i), (shuffled, j)):
            assert int(gen.num_steps[row]) == n
            assert torch.equal(gen.tokens[row, :n], alone.tokens[0, :n])
            assert torch.equal(gen.top_ids[row, :n], alone.top_ids[0, :n])
            assert torch.allclose(gen.probs[row, :n], alone.probs[0, :n], atol=1e-5)
            assert torch.allclose(gen.top_probs[row, :n], alone.top_probs[0, :n], atol=1e-5)


def test_generation_records_topk_in_order(model_and_tokenizer):
    model, tok = model_and_tokenizer
    gen = model.generate(*_src(tok, SENTENCES), top_k=4)
    assert gen.top_ids.shape[-1] == 4
    for row in range(len(SENTENCES)):
        n = int(gen.num_steps[row])
        assert torch.equal(gen.tokens[row, :n], gen.top_ids[row, :n, 0])
        assert torch.equal(gen.probs[row, :n], gen.top_probs[row, :n, 0])
        assert (gen.top_probs[row, :n, :-1] >= gen.top_probs[row, :n, 1:]).all()


@pytest.mark.parametrize("beam_width", [1, 3])
def test_recorded_tables_are_the_decoders_beliefs_along_the_chosen_words(model_and_tokenizer, beam_width):
    """Teacher-forcing each row's chosen words gives back exactly the probabilities and top-k recorded
    while searching, and the row's log_prob is the sum over its steps."""
    model, tok = model_and_tokenizer
    src, lengths = _src(tok, SENTENCES)
    gen = model.generate(src, lengths, top_k=4, beam_width=beam_width)
    tgt_in = torch.cat([torch.full((len(SENTENCES), 1), SOS_ID), gen.tokens[:, :-1]], dim=1)
    with torch.no_grad():
        probs = model(src, lengths, tgt_in).exp()  # (B, S, V)
    for row in range(len(SENTENCES)):
        n = int(gen.num_steps[row])
        forced = probs[row, :n]
        assert torch.allclose(forced.gather(1, gen.tokens[row, :n, None])[:, 0], gen.probs[row, :n], atol=1e-5)
        top_probs, top_ids = forced.topk(4, dim=-1)
        assert torch.equal(top_ids, gen.top_ids[row, :n])
        assert torch.allclose(top_probs, gen.top_probs[row, :n], atol=1e-5)
        assert gen.log_prob[row].item() == pytest.approx(gen.probs[row, :n].log().sum().item(), abs=1e-4)


def _most_probable_doubling_of_one_word(model, src, lengths) -> float:
    """Brute force: the best log-probability over every output a one-word row may take (<= 3 steps)."""
    vocab = model.config.vocab_size
    best = float("-inf")
    with torch.no_grad():
        frontier = [(SOS_ID, 0.0, model.encode(src, lengths))]  # (last token, log-prob so far, hidden)
        for step in range(3):
            grown = []
            for last, score, hidden in frontier:
                log_probs, hidden = model.decode(torch.tensor([[last]]), hidden)
                for token in range(vocab):
                    total = score + log_probs[0, 0, token].item()
                    if token == EOS_ID or step == 2:
                        best = max(best, total)
                    else:
                        grown.append((token, total, hidden))
            frontier = grown
    return best


def test_a_beam_as_wide_as_every_prefix_finds_the_most_probable_output():
    """With vocab**2 beams nothing is ever pruned from a one-word row's 3 steps, so the search must
    find the brute-force optimum; greedy decoding, on an untrained model, does not always."""
    tok = tiny_tokenizer()
    model = tiny_model(tok, seed=5)
    greedy_missed = 0
    for word in ["cat", "Bob"]:
        src, lengths = _src(tok, [word])
        optimum = _most_probable_doubling_of_one_word(model, src, lengths)
        exhaustive = model.generate(src, lengths, top_k=1, beam_width=tok.vocab_size**2)
        assert exhaustive.log_prob[0].item() == pytest.approx(optimum, abs=1e-4)
        greedy = model.generate(src, lengths, top_k=1)
        assert greedy.log_prob[0].item() <= optimum + 1e-4
        greedy_missed += greedy.log_prob[0].item() < optimum - 1e-3
    assert greedy_missed  # else this test could not tell a beam search from greedy decoding


def test_a_row_that_emits_eos_stays_finished_and_the_loop_ends_when_all_are_done():
    tok = tiny_tokenizer()
    model = tiny_model(tok, seed=1)
    src, lengths = _src(tok, ["I", "the cat sat on the mat"])
    free = model.generate(src, lengths, top_k=1)
    with torch.no_grad():  # the first row ends at once: <eos> is its only plausible first word
        model.out_bias[EOS_ID] = 50.0
    gen = model.generate(src, lengths, top_k=1)
    assert gen.num_steps.tolist() == [1, 1]
    assert gen.tokens.shape[1] == 1  # the loop stopped as soon as every row was done
    assert gen.tokens[:, 0].tolist() == [EOS_ID, EOS_ID]
    assert free.tokens.shape[1] > 1  # without the bias they would have run on


@pytest.mark.parametrize("beam_width", [1, 3])
def test_each_row_stops_at_its_own_step_limit(beam_width):
    tok = tiny_tokenizer()
    model = tiny_model(tok, seed=2)
    with torch.no_grad():
        model.out_bias[EOS_ID] = -1e4  # never emit <eos>
    src, lengths = _src(tok, ["I love", "the cat sat on the mat"])
    gen = model.generate(src, lengths, top_k=1, beam_width=beam_width)
    assert gen.num_steps.tolist() == [5, 13]  # 2 * length + 1
    assert (gen.tokens[0, 5:] == PAD_ID).all() and (gen.probs[0, 5:] == 0).all()


def test_save_load_round_trip(tmp_path, model_and_tokenizer):
    model, tok = model_and_tokenizer
    model.save_pretrained(tmp_path)
    assert {"config.json", "model.safetensors"} <= {p.name for p in tmp_path.iterdir()}
    assert all(t.dtype == torch.float16 for t in load_file(tmp_path / "model.safetensors").values())
    loaded = Seq2Seq.from_pretrained(tmp_path)
    assert not loaded.training
    assert loaded.config == model.config
    # fp16 storage: the reloaded model equals the original rounded to fp16.
    rounded = tiny_model(tok, seed=3)
    rounded.load_state_dict({k: v.half().float() for k, v in model.state_dict().items()})
    src, lengths = _src(tok, SENTENCES)
    a, b = loaded.generate(src, lengths, top_k=3), rounded.generate(src, lengths, top_k=3)
    assert torch.equal(a.tokens, b.tokens) and torch.equal(a.probs, b.probs)
    again = tmp_path / "again"
    loaded.save_pretrained(again)
    assert load_file(again / "model.safetensors").keys() == load_file(tmp_path / "model.safetensors").keys()


def test_loaded_model_is_in_eval_mode_even_with_dropout(tmp_path):
    tok = tiny_tokenizer()
    model = tiny_model(tok)
    model.config.dropout = 0.5
    model.train().save_pretrained(tmp_path)
    loaded = Seq2Seq.from_pretrained(tmp_path)
    assert not loaded.training and not loaded.decoder.dropout.training


def _src(tok, sentences):
    batch = tok.encode_batch(sentences)
    return batch.src, batch.lengths


@pytest.mark.parametrize("beam_width, layers", [(1, 1), (2, 1), (3, 1), (1, 2), (2, 2)])
def test_the_fast_decoder_agrees_with_the_lessons_beam_search(model_and_tokenizer, beam_width, layers):
    # The lesson's search takes a full log-softmax each step and steps nn.GRU itself; the fast one (s2s.fast)
    # steps a cell of its own and ranks without the softmax (two layers: it falls back to the lesson's).
    model, tok = model_and_tokenizer
    if layers > 1:
        model = tiny_model(tok, seed=5, layers=layers)
    sentences = SENTENCES + ["a", "dog is my name", "I"]
    src, lengths = _src(tok, sentences)
    fast = generate(model, src, lengths, top_k=4, beam_width=beam_width)
    slow = model.generate(src, lengths, top_k=4, beam_width=beam_width)
    assert torch.equal(fast.tokens, slow.tokens) and torch.equal(fast.num_steps, slow.num_steps)
    assert torch.equal(fast.top_ids, slow.top_ids)
    for a, b in [(fast.probs, slow.probs), (fast.top_probs, slow.top_probs), (fast.log_prob, slow.log_prob)]:
        assert torch.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("top_k", [1, 4])
def test_greedy_decoding_is_the_beam_search_at_width_one(model_and_tokenizer, top_k):
    # The fast generate at width 1 (native bookkeeping, or the greedy loop); the lesson's search keeps its history.
    model, tok = model_and_tokenizer
    src, lengths = _src(tok, SENTENCES + ["a", "dog is my name", "I"])
    greedy = generate(model, src, lengths, top_k=top_k)
    beam = model.generate(src, lengths, top_k=top_k, keep_history=True)
    assert greedy.history is None and beam.history is not None
    for name in ("tokens", "top_ids", "num_steps"):
        assert torch.equal(getattr(greedy, name), getattr(beam, name)), name
    for name in ("probs", "top_probs", "log_prob"):
        assert torch.allclose(getattr(greedy, name), getattr(beam, name), atol=1e-6), name


def test_greedy_follows_weights_changed_in_place(model_and_tokenizer):
    # The greedy loop keeps its layout of the weights until a parameter changes (as a training step changes them).
    model, tok = model_and_tokenizer
    src, lengths = _src(tok, SENTENCES)
    before = generate(model, src, lengths, top_k=3)
    saved = {name: p.detach().clone() for name, p in model.named_parameters()}
    try:
        with torch.no_grad():
            for p in model.parameters():
                p.mul_(-1.5)
        greedy = generate(model, src, lengths, top_k=3)
        beam = model.generate(src, lengths, top_k=3, keep_history=True)
        assert torch.equal(greedy.top_ids, beam.top_ids) and torch.allclose(greedy.top_probs, beam.top_probs, atol=1e-6)
        assert not torch.allclose(greedy.top_probs, before.top_probs)
    finally:
        with torch.no_grad():
            for name, p in model.named_parameters():
                p.copy_(saved[name])
    assert torch.equal(generate(model, src, lengths, top_k=3).top_ids, before.top_ids)
