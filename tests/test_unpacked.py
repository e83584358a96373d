"""What if we forgot to pack: the unpacked encoder differs exactly where a row read <pad>, and nowhere else."""

import pytest
import torch
from helpers import tiny_model, tiny_tokenizer

from s2s import WordDoubler
from s2s.lessons.unpacked import ForgotToPack, unpacked_view

SENTENCES = ["I love CUDA", "the cat sat on the mat", "Bob", "my name is Sunil and the cat sat on the mat too"]


@pytest.fixture(scope="module")
def wd():
    tok = tiny_tokenizer()
    return WordDoubler(tiny_model(tok, seed=4, max_src_len=8), tok, device="cpu")


def test_the_longest_row_keeps_its_state_and_padded_rows_lose_theirs(wd):
    view = unpacked_view(wd, SENTENCES, beam_width=1)
    # The 12-word sentence is two chunks of 6 (max_src_len 8): rows of 3, 6, 1, 6, 6 words, padded to 6.
    assert (
        view.lengths == [3, 6, 1, 6, 6] and view.row_sentence == [0, 1, 2, 3, 3] and view.row_chunk == [0, 0, 0, 0, 1]
    )
    assert view.pads_read == [3, 0, 5, 0, 0]
    for row, pads in enumerate(view.pads_read):
        if pads:
            assert view.distance[row] > 1e-2, f"row {row} read {pads} <pad> and its state should have moved"
        else:
            assert view.distance[row] < 1e-5, f"row {row} read no <pad>: its state must equal the packed one"


def test_without_padding_the_unpacked_model_decodes_exactly_like_the_real_one(wd):
    """Rows that read no <pad> come out as the library's own results; a padded row's output is what the
    same row gives alone with that many <pad> appended by hand."""
    view = unpacked_view(wd, SENTENCES, beam_width=2)
    packed = wd.double_batch(SENTENCES, 1, 2)
    assert view.outputs[1] == packed[1].output  # 6 words, the longest: no <pad> read
    by_hand = wd.tokenizer.encode_batch(["I love CUDA"])
    src = torch.cat([by_hand.src, torch.zeros(1, 3, dtype=torch.long)], dim=1)  # the 3 <pad> of the batch
    tokens = ForgotToPack(wd.model).generate(src, by_hand.lengths, top_k=1, beam_width=2)
    n = int(tokens.num_steps[0])
    assert view.outputs[0] == wd.tokenizer.decode(tokens.tokens[0, :n].tolist(), by_hand.slots[0])
    assert view.sentence_outputs[3] == f"{view.outputs[3]} {view.outputs[4]}".strip()  # chunks joined in order


def test_a_sentences_unpacked_output_depends_on_its_companions(wd):
    alone = unpacked_view(wd, ["I love CUDA"], beam_width=1)
    together = unpacked_view(wd, ["I love CUDA", "the cat sat on the mat"], beam_width=1)
    assert alone.distance[0] < 1e-5 and together.distance[0] > 1e-2


def test_the_twin_shares_the_weights_and_leaves_the_model_alone(wd):
    twin = ForgotToPack(wd.model)
    assert twin.embedding.weight is wd.model.embedding.weight and twin.encoder.rnn is wd.model.encoder.rnn
    assert type(wd.model.encoder).__name__ == "Encoder"  # the real model still packs


def test_bad_input_is_refused(wd):
    with pytest.raises(ValueError, match="empty"):
        unpacked_view(wd, ["I love", " "])
    with pytest.raises(ValueError, match="beam_width"):
        unpacked_view(wd, ["I love"], beam_width=0)


def test_the_twin_decodes_from_the_unpacked_states_not_the_packed_ones(wd):
    """The twin's search (the lesson's, which encodes with the twin's own encoder) starts from the states that
    read the padding: greedy decoding written out from those states gives its words."""
    batch = wd.tokenizer.encode_batch(["I love CUDA", "the cat sat on the mat"])
    twin = ForgotToPack(wd.model)
    with torch.inference_mode():
        unpacked, packed = twin.encode(batch.src, batch.lengths), wd.model.encode(batch.src, batch.lengths)
        got = twin.generate(batch.src, batch.lengths, top_k=1, beam_width=1)
        hidden, token, words = unpacked[:, :1], torch.tensor([[1]]), []  # the short row, from <sos>
        for _ in range(2 * int(batch.lengths[0]) + 1):
            log_probs, hidden = wd.model.decode(token, hidden)
            token = log_probs[:, -1].argmax(-1, keepdim=True)
            words.append(int(token))
            if words[-1] == 2:  # <eos>
                break
    assert not torch.allclose(unpacked[:, 0], packed[:, 0], atol=1e-3)
    assert got.tokens[0, : int(got.num_steps[0])].tolist() == words


def test_the_fast_search_decodes_the_twin_from_its_own_unpacked_states(wd):
    """fast.generate steps its own packed encoder only for the packed Encoder: given the twin, it encodes unpacked,
    so the fast search and the lesson's give the twin the same words."""
    from s2s.fast import generate

    batch = wd.tokenizer.encode_batch(["I love CUDA", "the cat sat on the mat"])
    twin = ForgotToPack(wd.model)
    fast = generate(twin, batch.src, batch.lengths, top_k=1, beam_width=2)
    plain = twin.generate(batch.src, batch.lengths, top_k=1, beam_width=2)
    assert torch.equal(fast.tokens, plain.tokens) and torch.equal(fast.num_steps, plain.num_steps)
