"""Sorted vs as-sent batching, counted by hand: encoder padding and decoder row-steps for both ways."""

import pytest

from s2s.lessons.batch_cost import as_sent, bucket_name, length_buckets, row_steps

LENGTHS = [3, 3, 12]  # words per row
STEPS = [7, 7, 25]  # each row's doubling and <eos>


def test_as_sent_is_one_batch_padded_to_the_longest():
    b = as_sent(LENGTHS, STEPS, beam_width=2)
    assert b.batches == [[0, 1, 2]]
    assert (b.encoder_cells, b.pad_cells, b.pad_share) == (36, 18, 0.5)
    assert b.batch_steps == [25, 25, 25]
    assert b.kept_row_steps == 2 * 75 and b.own_row_steps == 2 * 39
    assert b.wasted_share == pytest.approx(1 - 39 / 75)


def test_length_buckets_put_like_lengths_together():
    b = length_buckets(LENGTHS, STEPS, beam_width=2)
    assert b.batches == [[0, 1], [2]]
    assert (b.encoder_cells, b.pad_cells) == (18, 0)
    assert b.batch_steps == [7, 7, 25] and b.kept_row_steps == b.own_row_steps == 2 * 39 and b.wasted_share == 0


def test_a_row_that_stops_early_still_waits_in_its_bucket():
    b = length_buckets([4, 5], [3, 11], beam_width=1)  # one bucket (1-5); row 0 emitted <eos> early
    assert b.batch_steps == [11, 11] and b.kept_row_steps == 22 and b.own_row_steps == 14


def test_one_row():
    for b in (as_sent([5], [11]), length_buckets([5], [11])):
        assert b.pad_cells == 0 and b.wasted_share == 0 and len(b.batches) == 1


def test_bucket_names_are_the_evaluations():
    assert [bucket_name(n) for n in (1, 5, 6, 26, 27, 52)] == ["1-5", "1-5", "6-10", "21-26", "27-52", "27-52"]


def test_row_steps_follow_the_chunks():
    results = [
        {"chunks": 1, "steps": [{"chunk": 0}] * 7},
        {"chunks": 2, "steps": [{"chunk": 0}] * 5 + [{"chunk": 1}] * 6},
    ]
    assert row_steps(results) == [7, 5, 6]
