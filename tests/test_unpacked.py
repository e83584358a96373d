"""What if we forgot to pack: the unpacked encoder differs exactly where a row read <pad>, and nowhere else."""

import pytest
import torch

from s2s import WordDoubler
from s2s.unpacked import ForgotToPack, unpacked_view

from helpers import tiny_model, tiny_tokenizer

SENTENCES = ["I love CUDA", "the cat sat on the mat", "Bob", "my name is Sunil and the cat sat on the mat too"]


@pytest.fixture(scope="module")
def wd():
    tok = tiny_tokenizer()
    return WordDoubler(tiny_model(tok, seed=4, max_src_len=8), tok, device="cpu")


def test_the_longest_row_keeps_its_state_and_padded_rows_lose_theirs(wd):
    view = unpacked_view(wd, SENTENCES, beam_width=1)
    # The 12-word sentence is two chunks of 6 (max_src_len 8): rows of 3, 6, 1, 6, 6 words, padded to 6.
    assert view.lengths == [3, 6, 1, 6, 6] and view.row_sentence == [0, 1, 2, 3, 3] and view.row_chunk == [0, 0, 0, 0, 1]
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
    """Decoding's own encoder (the native cell, which stops each row at its last word) would pack again: the
    twin must decode from the states its unpacked encoder gives."""
    batch = wd.tokenizer.encode_batch(["I love CUDA", "the cat sat on the mat"])
    twin = ForgotToPack(wd.model)
    with torch.inference_mode():
        decoding = twin._encode_for_decoding(batch.src, batch.lengths)
        unpacked, packed = twin.encode(batch.src, batch.lengths), wd.model.encode(batch.src, batch.lengths)
    assert torch.equal(decoding, unpacked) and not torch.allclose(unpacked[:, 0], packed[:, 0], atol=1e-3)
