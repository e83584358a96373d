"""WordDoubler: the public API, chunking of long sentences, limits, results."""

import json
import random

import numpy as np
import pytest
import torch
from helpers import save_tiny_doubler

from s2s import WordDoubler
from s2s.doubler import length_sorted_batches, split_into_chunks
from s2s.lessons.compare import same_result
from s2s.limits import MAX_CHARS, MAX_SENTENCES, MAX_TOP_K, MAX_WORDS_PER_SENTENCE


@pytest.fixture(scope="module")
def doubler(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tiny")
    save_tiny_doubler(directory, max_src_len=4)
    return WordDoubler.from_pretrained(str(directory), device="cpu")


def test_results_have_the_documented_shape(doubler):
    results = doubler.double(["I love CUDA", "TF is Aww"], top_k=3)
    assert [r.input for r in results] == ["I love CUDA", "TF is Aww"]
    for r in results:
        assert isinstance(r.output, str)
        assert r.steps and all(len(s.top_k) == 3 for s in r.steps)
        # The search keeps each beam's best `beam_width` words, so with top_k >= beam_width the
        # emitted word is always among the candidates shown.
        assert all((s.token, s.prob) in s.top_k for s in r.steps)
        d = json.loads(json.dumps(r.to_dict()))
        assert d["input"] == r.input and d["output"] == r.output and len(d["steps"]) == len(r.steps)
        assert [r.steps[0].token, r.steps[0].prob] in d["steps"][0]["top_k"]
    assert doubler.device == torch.device("cpu")


def test_greedy_emits_the_best_candidate_at_every_step(doubler):
    for r in doubler.double(["I love CUDA", "TF is Aww"], top_k=3, beam_width=1):
        assert all(s.top_k[0] == (s.token, s.prob) for s in r.steps)


def test_a_sentence_gets_the_same_answer_alone_and_in_any_batch(doubler):
    sentences = ["I love CUDA", "the cat sat on the mat and the dog", "Bob", "my name is Sunil"]
    together = doubler.double(sentences, top_k=2)
    backwards = doubler.double(sentences[::-1], top_k=2)[::-1]
    for sentence, a, b in zip(sentences, together, backwards):
        alone = doubler.double([sentence], top_k=2)[0]
        for other in (a, b):
            assert other.output == alone.output
            assert [s.token for s in other.steps] == [s.token for s in alone.steps]
            assert [s.prob for s in other.steps] == pytest.approx([s.prob for s in alone.steps], abs=1e-5)


def test_split_into_chunks_is_even_and_complete():
    words = [str(i) for i in range(10)]
    assert [len(c) for c in split_into_chunks(words, 4)] == [4, 3, 3]
    assert sum(split_into_chunks(words, 4), []) == words
    assert split_into_chunks(words[:3], 4) == [words[:3]]


def test_long_sentences_run_as_chunks_of_the_same_batch_and_are_joined(doubler):
    sentence = "a b c d e f g h i j"  # 10 words, native length 4 -> chunks of 4, 3, 3
    result = doubler.double([sentence])[0]
    assert result.chunks == 3
    pieces = [" ".join(c) for c in split_into_chunks(sentence.split(), 4)]
    alone = doubler.double(pieces)
    assert result.output == " ".join(r.output for r in alone)
    assert [s.chunk for s in result.steps] == [i for i, r in enumerate(alone) for _ in r.steps]


def test_steps_are_built_once_when_first_read_and_replace_still_works(doubler):
    from dataclasses import replace

    from s2s.results import DoubleResult, Step

    result = doubler.double(["a b c d e f g h i j"], top_k=2)[0]
    pending = list(result.__dict__["_pending"])
    assert result.__dict__["_steps"] == [] and len(pending) == 3  # nothing built yet
    first = result.steps
    assert result.steps is first and len(first) == sum(len(records.tokens) for records, _ in pending)  # once
    assert [s.chunk for s in first] == sorted(s.chunk for s in first) and {s.chunk for s in first} == {0, 1, 2}
    shorter = replace(result, steps=first[:2])
    assert shorter.steps == first[:2] and result.steps is first and shorter.output == result.output
    made = DoubleResult("x", "x x", [Step("x", 1.0, [("x", 1.0)])])
    assert made.steps[0].token == "x" and DoubleResult("x", "").steps == [] and DoubleResult("x", "").chunks == 1


def test_a_string_is_one_sentence(doubler):
    assert doubler.double("I love CUDA")[0].input == "I love CUDA"


@pytest.mark.parametrize(
    "sentences, top_k, message",
    [
        (["I love CUDA", "   "], 5, "sentence 2 is empty"),
        (["I love CUDA", None], 5, "sentence 2 is not text"),
        ([" ".join(["w"] * (MAX_WORDS_PER_SENTENCE + 1))], 5, f"at most {MAX_WORDS_PER_SENTENCE}"),
        (5, 5, "a string or a list of strings, got int"),
        ({"a": 1}, 5, "a string or a list of strings, got dict"),
        (["I"], 0, f"from 1 to {MAX_TOP_K}"),
        (["I"], MAX_TOP_K + 1, f"from 1 to {MAX_TOP_K}"),
        (["I"], 2.5, f"from 1 to {MAX_TOP_K}"),
        (["I"], True, f"from 1 to {MAX_TOP_K}"),
    ],
)
def test_bad_input_is_a_value_error_naming_the_limit(doubler, sentences, top_k, message):
    with pytest.raises(ValueError, match=message):
        doubler.double(sentences, top_k=top_k)
    assert doubler.double(["I love CUDA"])[0].input == "I love CUDA"  # still serving


def test_the_library_takes_what_only_a_server_refuses_and_integer_like_numbers(doubler):
    # Request limits protect a server (the web API, the CLI); a program may double any number of sentences.
    many = doubler.double(["I love CUDA"] * (MAX_SENTENCES + 1), top_k=np.int64(2), beam_width=torch.tensor(1))
    assert len(many) == MAX_SENTENCES + 1 and len(many[0].steps[0].top_k) == 2
    assert doubler.double(["x" * (MAX_CHARS + 1)])[0].input == "x" * (MAX_CHARS + 1)
    assert doubler.double([]) == []


@pytest.mark.parametrize("beam_width", [1, 2])
def test_thousands_of_sentences_come_back_in_order_each_as_it_would_alone(doubler, beam_width):
    rng = random.Random(4)
    words = ["I", "love", "CUDA", "the", "cat", "Zork", "42", "🙂", "sat"]
    sentences = [" ".join(rng.choices(words, k=rng.randint(1, 11))) for _ in range(3000)]
    batched = doubler.double(sentences, top_k=2, beam_width=beam_width, batch_size=97, max_batch_tokens=600)
    assert [r.input for r in batched] == sentences
    sample = rng.sample(range(len(sentences)), 500)  # alone, one call each: a sample of every batch's rows
    assert all(same_result(batched[i], doubler.double(sentences[i], top_k=2, beam_width=beam_width)[0]) for i in sample)


def test_length_sorted_batches_respect_both_budgets():
    lengths = [3, 26, 1, 26, 7, 7, 2, 26, 5]
    batches = length_sorted_batches(lengths, max_rows=2, max_tokens=60)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert all(len(b) <= 2 and len(b) * max(lengths[i] for i in b) <= 60 for b in batches)
    assert [lengths[i] for b in batches for i in b] == sorted(lengths, reverse=True)
    assert length_sorted_batches([30], max_rows=4, max_tokens=10) == [[0]]  # a row longer than the budget still runs


def test_exactness_is_judged_against_the_doubling(doubler):
    r = doubler.double(["I love CUDA"])[0]
    assert r.expected == "I I love love CUDA CUDA"
    assert r.is_exact == (r.output == r.expected)


def test_a_server_falls_back_to_the_bundled_weights_with_a_warning(tmp_path):
    broken = tmp_path / "broken"
    save_tiny_doubler(broken)
    (broken / "tokenizer.json").unlink()  # the model is there, its tokenizer is not
    wd, warning = WordDoubler.from_pretrained_or_bundled(str(broken), device="cpu")
    assert wd.source == "bundled weights/" and str(broken) in warning and "bundled" in warning
    default, no_warning = WordDoubler.from_pretrained_or_bundled(None, device="cpu")
    assert default.source == "bundled weights/" and no_warning is None
