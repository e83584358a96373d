"""Where the model is reliable: the evaluation saved beside the weights, and what it says of a given sentence."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..tokenizer import WordTokenizer

EVALUATION_FILE = "evaluation.json"  # `python -m s2s.evaluate --write-card` writes it beside the weights
# What each sentence family of `s2s.evaluate` holds, in a visitor's words (a family missing here shows its name).
FAMILY_LABELS = {
    "run": "one word repeated",
    "runs": "runs of repeated words",
    "phrase": "a phrase repeated",
    "unknown": "only unknown words",
    "unknown_share": "many unknown words",
    "counting": "numbers",
    "letters": "letters, all caps",
    "random": "everyday words",
    "english": "English-like prose",
    "doubled": "already doubled (an output pasted back)",
}
REAL_TEXT = "real text"  # the row of the evaluation's real-text file (many languages, lists, code)


@dataclass
class Grid:
    """Exact match per family (rows) and length bucket (columns), as the evaluation measured it."""

    rows: list[str]  # family names, then REAL_TEXT
    buckets: list[str]  # "1-5", "6-10", ... in order of length
    exact: list[list[float | None]]  # (rows, buckets) exact-match share; None where nothing was measured
    n: list[list[int]]  # (rows, buckets) sentences behind each share
    beam_width: int
    command: str

    def label(self, row: str) -> str:
        return family_label(row)


@dataclass
class Assessment:
    """One sentence next to the evaluation: the family it resembles, its length bucket, the share right there."""

    words: int
    family: str
    bucket: str | None  # the evaluated bucket holding its length; None beyond the longest evaluated
    exact_match: float | None  # the evaluation's exact match for this family and bucket
    n: int  # sentences behind that share


def family_label(family: str) -> str:
    return FAMILY_LABELS.get(family, family)


def load_evaluation(folder: str | Path | None) -> dict | None:
    """The evaluation saved beside the weights, or None when there is none or it cannot be read."""
    path = Path(folder) / EVALUATION_FILE if folder else None
    try:
        report = json.loads(path.read_text(encoding="utf-8")) if path and path.is_file() else None
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) and isinstance(report.get("families"), dict) else None


def _span(bucket: str) -> tuple[int, int]:
    lo, _, hi = bucket.partition("-")
    return int(lo.lstrip(">")), int(hi or 10**9)


def grid(evaluation: dict) -> Grid:
    scored = dict(evaluation["families"])
    if "real" in evaluation:
        scored[REAL_TEXT] = evaluation["real"]
    buckets = sorted({b for report in scored.values() for b in report.get("buckets", {})}, key=_span)
    cells = [[report.get("buckets", {}).get(b) for b in buckets] for report in scored.values()]
    return Grid(
        rows=list(scored),
        buckets=buckets,
        exact=[[cell["exact_match"] if cell else None for cell in row] for row in cells],
        n=[[cell["n"] if cell else 0 for cell in row] for row in cells],
        beam_width=evaluation.get("beam_width", 0),
        command=evaluation.get("command", "python -m s2s.evaluate"),
    )


def _longest_run(words: list[str]) -> int:
    longest = run = 1
    for a, b in zip(words, words[1:]):
        run = run + 1 if a == b else 1
        longest = max(longest, run)
    return longest


def family_of(words: list[str], tokenizer: WordTokenizer) -> str:
    """The evaluation family a sentence most resembles: repeats first (the model's hard case), then its words."""
    n = len(words)
    if n >= 3 and len(set(words)) == 1:
        return "run"
    if _longest_run(words) >= 3:
        return "runs"
    if any(n >= 2 * p and all(words[i] == words[i - p] for i in range(p, n)) for p in range(2, 7)):
        return "phrase"
    if sum(any(c.isdigit() for c in w) for w in words) * 2 >= n:
        return "counting"
    if n >= 2 and all(len(w) == 1 or (w.isupper() and len(w) <= 5) for w in words):
        return "letters"
    unknown = sum(tokenizer.stoi.get(w, 0) < tokenizer.first_word_id for w in words) / n
    if unknown == 1:
        return "unknown"
    return "unknown_share" if unknown > 0.35 else "random"  # the everyday mix has about one unknown word in five


def assess(sentence: str, tokenizer: WordTokenizer, evaluation: dict | None) -> Assessment:
    words = sentence.split()
    family = family_of(words, tokenizer)
    if not evaluation:
        return Assessment(len(words), family, None, None, 0)
    buckets = evaluation["families"].get(family, evaluation.get("random", {})).get("buckets", {})
    bucket = next((b for b in buckets if _span(b)[0] <= len(words) <= _span(b)[1]), None)
    cell = buckets.get(bucket) if bucket else None
    return Assessment(len(words), family, bucket, cell["exact_match"] if cell else None, cell["n"] if cell else 0)
