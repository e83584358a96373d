"""The micro-batcher: concurrent callers share forward passes, get exactly their own results, and fail alone."""

import threading
import time

import pytest
import torch

from s2s import Seq2Seq, Seq2SeqConfig, WordDoubler, WordTokenizer
from s2s.limits import DEFAULT_BEAM_WIDTH, MAX_SENTENCES
from s2s.serve.batcher import MicroBatcher


@pytest.fixture(scope="module")
def wd():
    torch.manual_seed(0)
    tokenizer = WordTokenizer(["I", "love", "CUDA", "TF", "is", "Aww", "My", "name"], num_slots=4)
    config = Seq2SeqConfig(vocab_size=tokenizer.vocab_size, embed_size=8, hidden_size=16, max_src_len=6)
    return WordDoubler(Seq2Seq(config).eval(), tokenizer, device="cpu")


class CountingDoubler:
    """The real WordDoubler.double, recording the size of every forward pass it is asked for."""

    def __init__(self, wd):
        self.wd = wd
        self.calls: list[int] = []

    def __call__(self, sentences, top_k, beam_width):
        self.calls.append(len(sentences))
        return self.wd.double(sentences, top_k, beam_width)


def run_concurrently(batcher, requests):
    """Submit every (sentences, top_k[, beam_width]) from its own thread at the same moment; collect
    results or errors."""
    barrier = threading.Barrier(len(requests))
    outcomes = [None] * len(requests)

    def worker(i, sentences, top_k, beam_width=DEFAULT_BEAM_WIDTH):
        barrier.wait()
        try:
            outcomes[i] = batcher.double(sentences, top_k, beam_width)
        except Exception as error:
            outcomes[i] = error

    threads = [threading.Thread(target=worker, args=(i, *r)) for i, r in enumerate(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


def request(i: int) -> list[str]:
    return [f"I love U{i}", f"My name is N{i} V{i}", "TF is Aww"][: 1 + i % 3]


def test_no_thread_until_first_use(wd):
    batcher = MicroBatcher(wd.double_batch)
    assert batcher._worker is None
    batcher.double(["I love CUDA"], 3)
    assert batcher._worker is not None and batcher._worker.daemon


def test_concurrent_callers_share_passes_and_get_their_own_results(wd):
    counting = CountingDoubler(wd)
    # A generous window, so that threads started on a busy machine still meet in one batch.
    batcher = MicroBatcher(counting, max_wait_s=0.25)
    requests = [(request(i), 1 + i % 5) for i in range(8)]
    outcomes = run_concurrently(batcher, requests)
    assert sum(counting.calls) == sum(len(s) for s, _ in requests)  # every sentence ran exactly once
    assert len(counting.calls) < len(requests), f"no merging: passes of {counting.calls}"
    for (sentences, top_k), results in zip(requests, outcomes):
        alone = wd.double(sentences, top_k)
        assert [r.input for r in results] == sentences
        assert [r.output for r in results] == [r.output for r in alone]  # batch invariance: same as run alone
        assert all(len(step.top_k) == top_k for r in results for step in r.steps)  # its own k, not the batch's


def test_bad_request_fails_only_itself(wd):
    counting = CountingDoubler(wd)
    batcher = MicroBatcher(counting, max_wait_s=0.25)
    requests = [(request(0), 3), (["I love", "   "], 3), (request(1), 11), (request(2), 5)]
    outcomes = run_concurrently(batcher, requests)
    assert isinstance(outcomes[1], ValueError) and "sentence 2 is empty" in str(outcomes[1])
    assert isinstance(outcomes[2], ValueError) and "top_k" in str(outcomes[2])
    for i in (0, 3):
        assert [r.input for r in outcomes[i]] == requests[i][0]
    assert sum(counting.calls) == len(request(0)) + len(request(2))  # the bad ones never reached the model


def test_error_inside_the_merged_pass_is_returned_to_its_own_caller(wd):
    # Five distinct unknown words in one row: it passes the request limits, but the tokenizer (4 slots)
    # refuses it inside the merged pass. The batcher re-runs each request alone: only that one fails.
    counting = CountingDoubler(wd)
    batcher = MicroBatcher(counting, max_wait_s=0.25)
    requests = [(request(0), 3), (["a b c d e"], 3), (request(2), 3)]
    outcomes = run_concurrently(batcher, requests)
    assert isinstance(outcomes[1], ValueError) and "at most 4 distinct words" in str(outcomes[1])
    assert [r.input for r in outcomes[0]] == request(0)
    assert [r.input for r in outcomes[2]] == request(2)


@pytest.mark.parametrize("beam_width, requests, most_sentences", [(2, 5, 4), (4, 4, 2)])
def test_batches_are_capped_by_sentence_beams(wd, beam_width, requests, most_sentences):
    """A cap of 8 beams: 4 sentences per pass at width 2, only 2 at width 4."""
    counting = CountingDoubler(wd)
    batcher = MicroBatcher(counting, max_batch_beams=8, max_wait_s=0.25)
    outcomes = run_concurrently(batcher, [(["I love CUDA", "TF is Aww"], 3, beam_width)] * requests)
    assert all(not isinstance(o, Exception) for o in outcomes)
    assert max(counting.calls) <= most_sentences and sum(counting.calls) == 2 * requests


def test_requests_that_together_exceed_one_requests_limit_still_share_a_pass(wd):
    passes = []

    def counting(sentences, top_k, beam_width):
        passes.append(len(sentences))
        return wd.double_batch(sentences, top_k, beam_width)

    batcher = MicroBatcher(counting, max_wait_s=0.25)
    requests = [([f"I love U{i}"] * MAX_SENTENCES, 1) for i in range(3)]
    outcomes = run_concurrently(batcher, requests)
    for i, results in enumerate(outcomes):
        assert not isinstance(results, Exception), results
        assert [r.input for r in results] == [f"I love U{i}"] * MAX_SENTENCES
    assert max(passes) > MAX_SENTENCES and sum(passes) == 3 * MAX_SENTENCES


def test_requests_with_different_beam_widths_never_share_a_pass(wd):
    counting = CountingDoubler(wd)
    batcher = MicroBatcher(counting, max_wait_s=0.25)
    widths = [1, 3, 1, 3, 2]
    requests = [([f"I love U{i}", "TF is Aww"], 2, width) for i, width in enumerate(widths)]
    outcomes = run_concurrently(batcher, requests)
    assert len(counting.calls) >= len(set(widths))  # one pass per width at least
    for (sentences, top_k, width), results in zip(requests, outcomes):
        assert not isinstance(results, Exception), results
        alone = wd.double(sentences, top_k, width)
        assert [r.output for r in results] == [r.output for r in alone]
        assert [[s.token for s in r.steps] for r in results] == [[s.token for s in r.steps] for r in alone]


def test_a_bad_beam_width_is_refused_in_the_callers_thread(wd):
    batcher = MicroBatcher(CountingDoubler(wd))
    with pytest.raises(ValueError, match="beam_width must be a whole number from 1 to 8"):
        batcher.double(["I love CUDA"], 2, 0)
    assert batcher.passes == 0


def test_steps_are_built_in_the_callers_thread_unless_cut_to_a_smaller_k(wd):
    # A first request holds the worker until two more wait in the queue, so those two share the next pass (run at
    # k = 5). The k = 5 request's steps stay unbuilt until its caller reads them (its own thread); the k = 3
    # request's are built in the worker, to cut them.
    release, calls = threading.Event(), []

    def held_double(sentences, top_k, beam_width):
        calls.append(len(sentences))
        if len(calls) == 1:
            release.wait(30)
        return wd.double_batch(sentences, top_k, beam_width)

    batcher = MicroBatcher(held_double)
    first = threading.Thread(target=batcher.double, args=(["I love CUDA"], 1))
    first.start()
    while not calls:
        time.sleep(0.01)
    outcomes = {}
    waiting = [
        threading.Thread(target=lambda k=k: outcomes.__setitem__(k, batcher.double(request(k), k))) for k in (5, 3)
    ]
    for thread in waiting:
        thread.start()
    while batcher._queue.qsize() < 2:
        time.sleep(0.01)
    release.set()
    for thread in (first, *waiting):
        thread.join(60)
    assert calls == [1, len(request(5)) + len(request(3))]  # the two shared one pass
    assert all(r.__dict__["_pending"] for r in outcomes[5]) and not any(r.__dict__["_pending"] for r in outcomes[3])
    assert all(len(step.top_k) == k for k in (5, 3) for r in outcomes[k] for step in r.steps)
