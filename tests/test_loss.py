"""Masked NLL against a hand computation on a padded batch."""

import math

import torch

from s2s.loss import masked_nll, per_sentence_nll, unmasked_nll, worst_token_nll

PAD = 0


def padded_example():
    # Two rows over a vocabulary of 3; row 1 has one real target and two pads.
    probs = torch.tensor(
        [
            [[0.1, 0.7, 0.2], [0.2, 0.2, 0.6], [0.5, 0.25, 0.25]],
            [[0.3, 0.3, 0.4], [0.9, 0.05, 0.05], [0.8, 0.1, 0.1]],
        ]
    )
    target = torch.tensor([[1, 2, 2], [2, PAD, PAD]])
    return probs.log(), target


def test_masked_nll_is_sum_over_real_targets_divided_by_their_count():
    log_probs, target = padded_example()
    by_hand = -(math.log(0.7) + math.log(0.6) + math.log(0.25) + math.log(0.4)) / 4
    assert torch.allclose(masked_nll(log_probs, target, PAD), torch.tensor(by_hand))


def test_masked_nll_differs_from_dividing_by_the_batch_length():
    log_probs, target = padded_example()
    real_sum = -(math.log(0.7) + math.log(0.6) + math.log(0.25) + math.log(0.4))
    blog = real_sum / target.size(1)  # the blog's bug: divide by the padded length
    assert not math.isclose(masked_nll(log_probs, target, PAD).item(), blog, rel_tol=1e-3)


def test_pad_positions_do_not_change_the_loss():
    log_probs, target = padded_example()
    changed = log_probs.clone()
    changed[1, 1:] = torch.tensor([0.01, 0.01, 0.98]).log()  # anything at the pad positions
    assert torch.equal(masked_nll(log_probs, target, PAD), masked_nll(changed, target, PAD))
    assert not torch.equal(unmasked_nll(log_probs, target), unmasked_nll(changed, target))


def test_eos_is_a_real_target_not_masked():
    # Masking every id <= pad would drop nothing here, but "<= eos" would: only PAD is masked.
    log_probs, target = padded_example()
    eos_target = target.clone()
    eos_target[0, 2] = 2
    assert masked_nll(log_probs, eos_target, PAD) > 0


def test_per_sentence_and_unmasked_means():
    log_probs, target = padded_example()
    rows = per_sentence_nll(log_probs, target, PAD)
    assert torch.allclose(rows, torch.tensor([-(math.log(0.7) + math.log(0.6) + math.log(0.25)) / 3, -math.log(0.4)]))
    everything = -(math.log(0.7) + math.log(0.6) + math.log(0.25) + math.log(0.4) + math.log(0.9) + math.log(0.8)) / 6
    assert torch.allclose(unmasked_nll(log_probs, target), torch.tensor(everything))


def test_worst_token_nll_is_each_rows_least_likely_real_target():
    log_probs, target = padded_example()
    assert torch.allclose(worst_token_nll(log_probs, target, PAD), torch.tensor([-math.log(0.25), -math.log(0.4)]))
    # A pad position, however unlikely its pad, is no target: it cannot make a row look hard.
    log_probs[1, 1:, PAD] = math.log(1e-6)
    assert torch.allclose(worst_token_nll(log_probs, target, PAD), torch.tensor([-math.log(0.25), -math.log(0.4)]))
