"""The beam search's history: optional, free when not asked for, and its kept path is exactly the returned result."""

import pytest
import torch
from helpers import tiny_model, tiny_tokenizer

from s2s import WordDoubler
from s2s.lessons.beam_tree import beam_trees
from s2s.tokenizer import PAD_ID

SENTENCES = ["I love CUDA", "the cat sat on the mat", "Bob", "my name is Sunil and the cat sat on the mat too"]


@pytest.fixture(scope="module")
def wd():
    tok = tiny_tokenizer()
    return WordDoubler(tiny_model(tok, seed=3, max_src_len=8), tok, device="cpu")


@pytest.mark.parametrize("beam_width", [1, 2, 4])
def test_history_is_optional_and_changes_nothing(wd, beam_width):
    batch = wd.tokenizer.encode_batch(SENTENCES[:3])
    plain = wd.model.generate(batch.src, batch.lengths, top_k=3, beam_width=beam_width)
    kept = wd.model.generate(batch.src, batch.lengths, top_k=3, beam_width=beam_width, keep_history=True)
    assert plain.history is None and kept.history
    for a, b in [(plain.tokens, kept.tokens), (plain.top_ids, kept.top_ids), (plain.num_steps, kept.num_steps)]:
        assert torch.equal(a, b)
    # At width 1 the plain call takes the greedy loop and the history the search's loop: the same words, and
    # probabilities within float rounding (the greedy loop computes the GRU's gates in another order; a whole
    # sentence's log-probability, a sum of float32 terms, to a relative 1e-6).
    same = torch.equal if beam_width > 1 else lambda a, b: torch.allclose(a, b, rtol=1e-6, atol=1e-6)
    for a, b in [(plain.probs, kept.probs), (plain.top_probs, kept.top_probs), (plain.log_prob, kept.log_prob)]:
        assert same(a, b)
    assert all(step.score.shape == step.token.shape for step in kept.history)


@pytest.mark.parametrize("beam_width", [1, 2, 3, 5])
@pytest.mark.parametrize("sentence", SENTENCES)
def test_the_kept_path_is_the_result(wd, sentence, beam_width):
    trees = beam_trees(wd, sentence, beam_width)
    result = wd.double([sentence], top_k=1, beam_width=beam_width)[0]
    assert len(trees) == result.chunks and [t.chunk for t in trees] == list(range(result.chunks))
    assert sum((t.kept_words for t in trees), []) == [step.token for step in result.steps]
    for tree in trees:
        assert all(len(step) == beam_width for step in tree.steps)
        assert [node.beam for node in tree.steps[-1]] == list(range(beam_width))
        assert all(node.parent == 0 for node in tree.steps[0])  # every first beam extends the one <sos>
        assert all(sum(node.kept for node in step) == 1 for step in tree.steps)  # one path
        assert all(node.alive for step in tree.steps for node in step if node.kept)
        for before, after in zip(tree.steps, tree.steps[1:]):  # the kept path is connected
            (kept,) = [node for node in after if node.kept]
            assert before[kept.parent].kept
            assert all(a.score <= before[a.parent].score + 1e-5 for a in after)  # scores only fall


def test_kept_score_is_the_generations_log_prob(wd):
    batch = wd.tokenizer.encode_batch(["the cat sat on the mat"])
    generation = wd.model.generate(batch.src, batch.lengths, top_k=1, beam_width=3)
    (tree,) = beam_trees(wd, "the cat sat on the mat", 3)
    assert tree.kept_score == pytest.approx(generation.log_prob[0].item(), abs=1e-5)
    n = int(generation.num_steps[0])
    assert (generation.tokens[0, n:] == PAD_ID).all()


def test_greedy_is_one_line_with_nothing_pruned(wd):
    (tree,) = beam_trees(wd, "I love CUDA", 1)
    assert all(node.kept and node.alive for step in tree.steps for node in step)
    assert tree.overtakes == 0


def test_a_wide_beam_prunes(wd):
    trees = beam_trees(wd, "my name is Sunil and the cat sat", 4)
    assert any(not node.alive for tree in trees for step in tree.steps for node in step)
