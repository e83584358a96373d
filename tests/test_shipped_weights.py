"""The bundled weights/: they load from safetensors + JSON, fit a Space, and double well."""

import json
import random

import pytest
from safetensors import safe_open

from s2s import WordDoubler
from s2s.data import LENGTH_BUCKETS, doubling_text, random_text_sentence
from s2s.hub import BUNDLED
from s2s.training.evaluate import evaluate, family_sentences, real_text
from s2s.training.families import FAMILIES
from s2s.training.model_card import write_evaluation


@pytest.fixture(scope="module")
def doubler():
    return WordDoubler.from_pretrained(BUNDLED, device="cpu")


def test_weights_are_safetensors_and_json_only_and_small():
    names = {p.name for p in BUNDLED.iterdir()}
    evaluations = {"evaluation.json", "evaluation-seed2027.json"}  # the baselines of `s2s.evaluate --against`
    assert names == {"model.safetensors", "config.json", "tokenizer.json", "README.md"} | evaluations
    for name in evaluations:  # each an evaluation of these weights, with every family
        report = json.loads((BUNDLED / name).read_text())
        assert "--model weights" in report["command"] and set(report["families"]) == set(FAMILIES)
    assert (BUNDLED / "model.safetensors").stat().st_size <= 10 * 2**20  # a Space takes it without LFS
    with safe_open(BUNDLED / "model.safetensors", "pt") as f:
        assert len(list(f.keys())) > 0
    config = json.loads((BUNDLED / "config.json").read_text())
    # The chunk length `--export-only` chose from its per-length measurement: at least the blog's 25 words in
    # one row (short chunks would hide the long-sentence problem).
    assert config["max_src_len"] >= 25


def test_vocabulary_is_at_least_2000_english_words(doubler):
    words = set(doubler.tokenizer.words)
    assert len(words) >= 2000 and {"the", "love", "name", "I"} <= words


def test_exact_match_on_fresh_random_sentences(doubler):
    rng = random.Random(20261129)
    sentences = [random_text_sentence(rng, doubler.tokenizer, rng.randint(1, 26)) for _ in range(200)]
    results = doubler.double(sentences, top_k=1)
    exact = sum(r.output == doubling_text(s) for r, s in zip(results, sentences)) / len(sentences)
    # The CI guard; the target of 0.995 over 2,000 sentences is measured by `python -m s2s.evaluate`.
    assert exact >= 0.99, f"exact match {exact:.3f} on 200 fresh sentences of 1-26 words"


def test_every_line_of_real_text_is_doubled_exactly(doubler):
    sentences = real_text()
    assert len(sentences) >= 200
    wrong = [r.input for r in doubler.double(sentences, top_k=1) if not r.is_exact]
    assert wrong == []


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_family_is_doubled_exactly_on_a_small_fixed_sample(doubler, family):
    # Two sentences per length bucket, 1-52 words; the >= 99.5% target on 600 per family is `s2s.evaluate`'s.
    sentences = family_sentences(doubler.tokenizer, family, per_bucket=2, seed=20261201)
    assert len(sentences) == 2 * len(LENGTH_BUCKETS)
    wrong = [r.input for r in doubler.double(sentences, top_k=1) if not r.is_exact]
    assert wrong == []


def test_the_blog_examples(doubler):
    outputs = [r.output for r in doubler.double(["I love CUDA", "My name is Sunil"])]
    assert outputs == ["I I love love CUDA CUDA", "My My name name is is Sunil Sunil"]


def test_evaluation_reports_every_family_by_bucket_and_writes_the_card(doubler, tmp_path):
    report = evaluate(doubler, n=20, min_len=1, max_len=26, seed=5, per_bucket=1, families=["run", "unknown"])
    assert set(report["families"]) == {"run", "unknown"}
    assert list(report["families"]["run"]["buckets"]) == [f"{lo}-{hi}" for lo, hi in LENGTH_BUCKETS]
    assert report["real"]["overall"]["n"] == len(real_text())
    (tmp_path / "README.md").write_text("# card\n", encoding="utf-8")
    write_evaluation(tmp_path, {**report, "command": "python -m s2s.evaluate --n 20"})
    card = (tmp_path / "README.md").read_text(encoding="utf-8")
    width = report["beam_width"]
    assert "| unknown | 1.0000 |" in card and "| real text |" in card
    assert ("greedy decoding" if width == 1 else f"beam search of width {width}") in card
    assert json.loads((tmp_path / "evaluation.json").read_text(encoding="utf-8"))["families"]["run"]["overall"][
        "n"
    ] == len(LENGTH_BUCKETS)
