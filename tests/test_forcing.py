"""Forcing the decoder ("what if it had said..."): a forced prefix is the teacher-forced prefix, then the model's own
free decoding; a forced row decodes the same alone as inside any batch; bad prefixes are refused clearly."""

import pytest
import torch
from helpers import tiny_model, tiny_tokenizer

from s2s.data import collate
from s2s.tokenizer import EOS_ID, PAD_ID, SOS_ID

TOK = tiny_tokenizer()


def prefix_tensor(rows: list[list[int]]) -> torch.Tensor:
    width = max(map(len, rows), default=0)
    return torch.tensor([r + [PAD_ID] * (width - len(r)) for r in rows], dtype=torch.long).view(len(rows), width)


def by_hand(model, ids: list[int], forced: list[int]) -> tuple[list[int], list[float]]:
    """Greedy decoding written out: the forced words fed one at a time, then the argmax, until <eos> or the limit."""
    src = torch.tensor([ids])
    hidden = model.encode(src, torch.tensor([len(ids)]))
    token, out, probs = SOS_ID, [], []
    for t in range(2 * len(ids) + 1):
        log_probs, hidden = model.decode(torch.tensor([[token]]), hidden)
        token = forced[t] if t < len(forced) else int(log_probs[0, -1].argmax())
        out.append(token)
        probs.append(float(log_probs[0, -1, token].exp()))
        if token == EOS_ID:
            break
    return out, probs


@torch.no_grad()
@pytest.mark.parametrize("forced", [[], [5], [5, 9], [4, 4, 5, 6, 6]])
def test_a_forced_prefix_is_teacher_forcing_then_free_greedy_decoding(forced):
    model = tiny_model(TOK, seed=2)
    ids = [4, 5, 6]
    g = model.generate(torch.tensor([ids]), torch.tensor([3]), top_k=3, beam_width=1, prefix=prefix_tensor([forced]))
    tokens, probs = by_hand(model, ids, forced)
    steps = int(g.num_steps[0])
    assert g.tokens[0, :steps].tolist() == tokens
    assert torch.allclose(g.probs[0, :steps], torch.tensor(probs), atol=1e-5)
    # The top-k tables still say what the decoder believed, forced or not.
    assert (g.top_probs[0, :steps, 0] >= g.probs[0, :steps] - 1e-6).all()


@torch.no_grad()
@pytest.mark.parametrize("width", [1, 2, 3])
def test_a_forced_row_decodes_the_same_alone_and_inside_a_batch(width):
    model = tiny_model(TOK, seed=3)
    sources = [[4, 5, 6, 7], [8], [9, 10, 11], [4, 4, 4, 4, 4, 4]]
    forced = [[4, 4, 9], [], [EOS_ID], [4, 4, 4]]
    batch = collate(sources)
    together = model.generate(batch.src, batch.lengths, top_k=2, beam_width=width, prefix=prefix_tensor(forced))
    for row, (ids, f) in enumerate(zip(sources, forced)):
        alone = model.generate(
            torch.tensor([ids]), torch.tensor([len(ids)]), top_k=2, beam_width=width, prefix=prefix_tensor([f])
        )
        steps = int(alone.num_steps[0])
        assert int(together.num_steps[row]) == steps
        assert together.tokens[row, :steps].tolist() == alone.tokens[0, :steps].tolist()
        assert torch.allclose(together.probs[row, :steps], alone.probs[0, :steps], atol=1e-5)
        assert together.tokens[row, : len(f)].tolist() == f  # said exactly what it was told
    assert int(together.num_steps[2]) == 1  # forcing <eos> first ends the row there


@torch.no_grad()
def test_without_a_prefix_the_forced_route_gives_the_usual_answers():
    model = tiny_model(TOK, seed=4)
    batch = collate([[4, 5, 6], [7, 8]])
    usual = model.generate(batch.src, batch.lengths, top_k=2, beam_width=2)
    empty = model.generate(batch.src, batch.lengths, top_k=2, beam_width=2, prefix=prefix_tensor([[], []]))
    assert torch.equal(usual.tokens, empty.tokens) and torch.allclose(usual.probs, empty.probs, atol=1e-5)


@pytest.mark.parametrize(
    "rows, message",
    [
        ([[4, PAD_ID, 5]], "no <pad> within it"),
        ([[SOS_ID]], "not <sos>"),
        ([[10_000]], "ids of words the decoder can say"),
        ([[EOS_ID, 4]], "<eos> may only be a prefix's last word"),
        ([[4] * 8], "longer than its row's 7 steps"),
    ],
)
def test_bad_prefixes_are_refused_with_a_clear_message(rows, message):
    model = tiny_model(TOK, seed=5)
    with pytest.raises(ValueError, match=message):
        model.generate(torch.tensor([[4, 5, 6]]), torch.tensor([3]), prefix=prefix_tensor(rows))


# --- through WordDoubler: words in, a DoubleResult out, chunks and limits ---


@pytest.fixture(scope="module")
def wd():
    from s2s import WordDoubler

    model = tiny_model(TOK, seed=6, max_src_len=4)
    return WordDoubler(model, TOK, device="cpu")


def test_forcing_words_gives_a_result_whose_chunk_starts_with_them(wd):
    sentence = "I love CUDA Zorblax the cat sat"  # two chunks of at most 4 words; Zorblax is unknown
    usual = wd.double([sentence], top_k=3, beam_width=2)[0]
    forced = wd.force(sentence, ["love", "Zorblax"], chunk=0, top_k=3, beam_width=2)
    assert [s.token for s in forced.steps if s.chunk == 0][:2] == ["love", "Zorblax"]
    # The other chunk ("the cat sat") decodes freely, as in double().
    assert [s.token for s in forced.steps if s.chunk == 1] == [s.token for s in usual.steps if s.chunk == 1]
    assert wd.force(sentence, ["sat"], chunk=1).steps[[s.chunk for s in usual.steps].index(1)].token == "sat"
    assert forced.chunks == usual.chunks == 2


@pytest.mark.parametrize(
    "prefix, chunk, message",
    [
        (["Qwerty"], 0, "'Qwerty' is not a word the decoder can say here"),
        (["<pad>"], 0, "is not a word the decoder can say"),
        (["I"] * 10, 0, "a prefix of 10 words is longer than its row's 9 steps"),
        (["I"], 2, "doubled in 2 chunk"),
    ],
)
def test_what_cannot_be_forced_is_refused_by_name(wd, prefix, chunk, message):
    with pytest.raises(ValueError, match=message):
        wd.force("I love CUDA Zorblax the cat sat", prefix, chunk=chunk)


@torch.no_grad()
def test_a_forced_row_continues_the_same_inside_a_batch_of_64():
    model = tiny_model(TOK, seed=8)
    words = list(range(4, 19))
    sources = [[words[(i * 7 + j) % len(words)] for j in range(1 + i % 8)] for i in range(64)]
    forced = [[sources[i][0], sources[i][0], 9][: 1 + i % 3] if i % 4 else [] for i in range(64)]
    batch = collate(sources)
    together = model.generate(batch.src, batch.lengths, top_k=3, beam_width=2, prefix=prefix_tensor(forced))
    for row in (1, 2, 3, 5, 30, 63):
        alone = model.generate(
            torch.tensor([sources[row]]),
            torch.tensor([len(sources[row])]),
            top_k=3,
            beam_width=2,
            prefix=prefix_tensor([forced[row]]),
        )
        steps = int(alone.num_steps[0])
        assert int(together.num_steps[row]) == steps
        assert together.tokens[row, :steps].tolist() == alone.tokens[0, :steps].tolist()
        assert torch.allclose(together.probs[row, :steps], alone.probs[0, :steps], atol=1e-5)
