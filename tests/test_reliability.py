"""Where the model is reliable: the saved evaluation read back, and a sentence placed on it by family and length."""

import json
import shutil
from pathlib import Path

import pytest
from helpers import tiny_tokenizer

from s2s.lessons.reliability import EVALUATION_FILE, REAL_TEXT, assess, family_of, grid, load_evaluation

SAMPLE = Path(__file__).parent / "data" / "evaluation.json"  # the JSON `python -m s2s.evaluate` prints, trimmed


@pytest.fixture
def evaluation(tmp_path):
    shutil.copy(SAMPLE, tmp_path / EVALUATION_FILE)  # beside the weights, where --write-card puts it
    return load_evaluation(tmp_path)


def test_load_reads_the_file_beside_the_weights(evaluation):
    assert evaluation == json.loads(SAMPLE.read_text(encoding="utf-8"))


def test_no_evaluation_is_none_not_an_error(tmp_path):
    assert load_evaluation(tmp_path) is None and load_evaluation(None) is None
    (tmp_path / EVALUATION_FILE).write_text("{not json", encoding="utf-8")
    assert load_evaluation(tmp_path) is None
    (tmp_path / EVALUATION_FILE).write_text('{"random": {}}', encoding="utf-8")  # not the report's shape
    assert load_evaluation(tmp_path) is None


def test_grid_is_family_by_length_bucket(evaluation):
    g = grid(evaluation)
    assert g.rows == list(evaluation["families"]) + [REAL_TEXT]
    assert g.buckets == ["1-5", "6-10", "11-15", "16-20", "21-26", "27-52"]
    run = g.rows.index("run")
    assert g.exact[run] == [evaluation["families"]["run"]["buckets"][b]["exact_match"] for b in g.buckets]
    assert g.n[run][0] == evaluation["families"]["run"]["buckets"]["1-5"]["n"]
    assert g.beam_width == evaluation["beam_width"] and g.command.startswith("python -m s2s.evaluate")


@pytest.mark.parametrize(
    "sentence, family",
    [
        ("no no no no no no", "run"),
        ("yes yes yes no no no no", "runs"),
        ("the cat the cat the cat", "phrase"),
        ("1 2 3 4 5", "counting"),
        ("A B C D", "letters"),
        ("Zorblax Quuxifer Mmmbop", "unknown"),
        ("the cat Zorblax Quuxifer Mmmbop sat", "unknown_share"),
        ("the cat sat on the mat", "random"),
        ("I love CUDA", "random"),
    ],
)
def test_family_of(sentence, family):
    assert family_of(sentence.split(), tiny_tokenizer()) == family


def test_assess_reads_the_cell_of_family_and_length(evaluation):
    a = assess(" ".join(["no"] * 17), tiny_tokenizer(), evaluation)
    assert (a.words, a.family, a.bucket) == (17, "run", "16-20")
    assert (a.exact_match, a.n) == (evaluation["families"]["run"]["buckets"]["16-20"]["exact_match"], 100)
    beyond = assess(" ".join(["no"] * 60), tiny_tokenizer(), evaluation)
    assert beyond.bucket is None and beyond.exact_match is None
    assert assess("no no no", tiny_tokenizer(), None).exact_match is None
