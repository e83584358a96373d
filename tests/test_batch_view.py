"""The padded-batch view: matrix, lengths, loss mask and losses against a hand computation, row by row."""

import math

import pytest
import torch

from s2s import Seq2Seq, Seq2SeqConfig, WordDoubler, WordTokenizer
from s2s.lessons.batch_view import batch_view, expected_per_step, expected_steps
from s2s.tokenizer import EOS_ID, PAD_ID, SOS_ID


@pytest.fixture(scope="module")
def wd():
    """An untrained tiny model: the numbers need not be good, only computed right."""
    torch.manual_seed(0)
    tokenizer = WordTokenizer(["I", "love", "CUDA", "is"], num_slots=4)  # ids: I=7 love=8 CUDA=9 is=10
    config = Seq2SeqConfig(vocab_size=tokenizer.vocab_size, embed_size=8, hidden_size=16, max_src_len=3)
    return WordDoubler(Seq2Seq(config).eval(), tokenizer, device="cpu")


SENTENCES = ["I love CUDA", "TF is Aww Aww"]  # the second has 4 words > max_src_len 3: chunks "TF is" + "Aww Aww"


def test_matrix_lengths_and_mask(wd):
    view = batch_view(wd, SENTENCES)
    assert view.row_sentence == [0, 1, 1] and view.row_chunk == [0, 0, 1]
    assert view.lengths == [3, 2, 2]
    # TF and Aww are outside the vocabulary: each row's first unknown word takes slot <w0> (id 3).
    assert view.src_ids == [[7, 8, 9], [3, 10, PAD_ID], [3, 3, PAD_ID]]
    assert view.shape == (3, 3) and view.pad_cells == 2
    assert view.src_tokens[1] == ["<w0>", "is", "<pad>"]
    assert view.src_words == [["I", "love", "CUDA"], ["TF", "is", "<pad>"], ["Aww", "Aww", "<pad>"]]
    assert view.target_ids == [
        [7, 7, 8, 8, 9, 9, EOS_ID],
        [3, 3, 10, 10, EOS_ID, PAD_ID, PAD_ID],
        [3, 3, 3, 3, EOS_ID, PAD_ID, PAD_ID],
    ]
    assert view.target_words[1] == ["TF", "TF", "is", "is", "<eos>", "<pad>", "<pad>"]
    assert view.loss_mask == [[True] * 7, [True] * 5 + [False] * 2, [True] * 5 + [False] * 2]
    assert view.masked_cells == 4 and view.sentence_targets == [7, 10]


def _row_nll(wd, src: list[int], target: list[int]) -> list[float]:
    """One row alone, unpadded source, by hand: -log softmax(logits)[target] at each step.
    The decoder is fed <sos> + the real target shifted right, then <pad> (as in training)."""
    real = [w for w in target if w != PAD_ID]
    tgt_in = [SOS_ID] + real[:-1] + [PAD_ID] * (len(target) - len(real))
    log_probs = wd.model(torch.tensor([src]), torch.tensor([len(src)]), torch.tensor([tgt_in]))[0]
    return [-float(log_probs[t, w]) for t, w in enumerate(target)]


def test_losses_match_a_hand_computation(wd):
    view = batch_view(wd, SENTENCES)
    rows = [
        ([7, 8, 9], [7, 7, 8, 8, 9, 9, EOS_ID]),
        ([3, 10], [3, 3, 10, 10, EOS_ID, PAD_ID, PAD_ID]),
        ([3, 3], [3, 3, 3, 3, EOS_ID, PAD_ID, PAD_ID]),
    ]
    with torch.no_grad():
        nll = [_row_nll(wd, src, target) for src, target in rows]
    real = [[x for x, w in zip(row, target) if w != PAD_ID] for row, (_, target) in zip(nll, rows)]
    assert sum(view.token_nll, []) == pytest.approx(sum(nll, []), abs=1e-5)  # pads too: packing keeps rows independent
    assert view.row_loss == pytest.approx([sum(r) / len(r) for r in real], abs=1e-5)
    assert view.sentence_loss == pytest.approx([sum(real[0]) / 7, (sum(real[1]) + sum(real[2])) / 10], abs=1e-5)
    masked = sum(map(sum, real)) / 17  # 7 + 5 + 5 real targets
    unmasked = sum(map(sum, nll)) / 21  # all 3 x 7 cells, the 4 <pad> targets included
    assert view.masked_loss == pytest.approx(masked, abs=1e-5)
    assert view.unmasked_loss == pytest.approx(unmasked, abs=1e-5)
    assert not math.isclose(view.masked_loss, view.unmasked_loss, rel_tol=1e-3)  # masking changes the number


def test_expected_steps_follow_the_chunks():
    assert expected_steps("TF is Aww Aww", 3) == [
        ["TF", "TF", "is", "is", "<eos>"],
        ["Aww", "Aww", "Aww", "Aww", "<eos>"],
    ]
    assert expected_steps("I love CUDA", 26) == [["I", "I", "love", "love", "CUDA", "CUDA", "<eos>"]]


def test_expected_words_line_up_with_the_steps_that_ran():
    # Chunk 0 ("TF is") ran one step past its <eos>; chunk 1 ("Aww Aww") stopped one step short.
    chunks = [0] * 6 + [1] * 4
    assert expected_per_step("TF is Aww Aww", chunks, 3) == [
        "TF",
        "TF",
        "is",
        "is",
        "<eos>",
        "—",
        "Aww",
        "Aww",
        "Aww",
        "Aww",
    ]


def test_bad_input_is_refused(wd):
    with pytest.raises(ValueError, match="empty"):
        batch_view(wd, ["I love", "   "])
