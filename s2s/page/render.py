"""The page's results and per-step views as tables, figures and text, drawn from plain data (never the model)."""

from __future__ import annotations

import math
import warnings

import matplotlib

matplotlib.use("Agg")  # draw into images; a server has no display
import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from ..lessons.batch_view import expected_per_step
from ..tokenizer import EOS

# Words in scripts or emoji the plot font lacks draw as boxes (the tables show them); do not log every one.
warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font", category=UserWarning)

CONFIDENCE = {"p ≥ 0.9": "#22c55e", "0.5 ≤ p < 0.9": "#f59e0b", "p < 0.5": "#ef4444"}
RESULT_HEADERS = ["#", "input", "output", "words in → out", "lowest step p", "exact"]
RELIABILITY_ANCHOR = "reliability"  # elem_id of the page's reliability section, the target of a wrong result's link
# The colour scale of the top-k plot: a confident model's alternatives sit at 1e-6 .. 1e-12, which a linear
# scale paints all alike; below this floor a cell takes the lightest colour.
LOG_FLOOR = 1e-10
DPI = 100


def fmt_prob(p: float) -> str:
    """Three decimals where they say something, else two significant digits: 3.1e-9, never a column of 0.000."""
    if p == 0:
        return "0"
    if p >= 1e-3:
        return f"{p:.3f}"
    mantissa, exponent = f"{p:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def figure(width: float, height: float) -> Figure:
    """A figure of `width` x `height` inches; the page scales it down to a phone's width."""
    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def plain(labels) -> None:
    """Tick labels drawn as plain text: user words may hold `$`, which matplotlib would read as maths."""
    for label in labels:
        label.set_parse_math(False)


# --- the results ---


def results_table(results: list[dict]) -> pd.DataFrame:
    """One row per sentence: what went in, what came out, and whether it is the exact doubling."""
    rows = [
        [
            i,
            r["input"],
            r["output"],
            f"{len(r['input'].split())} → {len(r['output'].split())}",
            fmt_prob(r["min_prob"]),
            "✓" if r["is_exact"] else "✗",
        ]
        for i, r in enumerate(results, 1)
    ]
    return pd.DataFrame(rows, columns=RESULT_HEADERS)


def sentence_choices(results: list[dict]) -> list[tuple[str, int]]:
    return [(f"{i}. {r['input'][:80]}", i - 1) for i, r in enumerate(results, 1)]


# --- one sentence, step by step ---


def expected_words(result: dict, max_src_len: int) -> list[str]:
    """The word each step of `result` should have emitted for the exact doubling."""
    return expected_per_step(result["input"], [step["chunk"] for step in result["steps"]], max_src_len)


STEP_COLUMNS = ["step", "chunk", "expected", "emitted", "p", "ok"]  # then "top 1" ... "top k"


def step_table(result: dict, max_src_len: int) -> pd.DataFrame:
    """Step, emitted word, its p, and the top-k candidates with the chosen one marked ▶."""
    k = max((len(s["top_k"]) for s in result["steps"]), default=0)
    rows = []
    for n, (step, want) in enumerate(zip(result["steps"], expected_words(result, max_src_len)), 1):
        candidates = [f"{'▶ ' if w == step['token'] else ''}{w}  {fmt_prob(p)}" for w, p in step["top_k"]]
        rows.append(
            [n, step["chunk"] + 1, want, step["token"], fmt_prob(step["prob"]), "✓" if step["token"] == want else "✗"]
            + candidates
            + [""] * (k - len(candidates))
        )
    columns = STEP_COLUMNS + [f"top {i}" for i in range(1, k + 1)]
    return pd.DataFrame(rows, columns=columns)


def _confidence(p: float) -> str:
    names = list(CONFIDENCE)
    return names[0] if p >= 0.9 else names[1] if p >= 0.5 else names[2]


def confidence_text(result: dict) -> list[tuple[str, str]]:
    """The output, word by word, labelled by how sure the decoder was of each."""
    return [(s["token"], _confidence(s["prob"])) for s in result["steps"] if s["token"] != EOS]


def step_plot(result: dict, max_src_len: int) -> Figure:
    """Top: p of each emitted word (green right, red wrong). Bottom: the top-k candidates' p, on a log colour scale."""
    steps = result["steps"]
    expected = expected_words(result, max_src_len)
    n = len(steps)
    k = max(len(s["top_k"]) for s in steps)
    probs = np.array([[s["top_k"][r][1] if r < len(s["top_k"]) else 0.0 for s in steps] for r in range(k)])  # (k, n)
    fig = figure(min(16.0, max(7.0, 0.32 * n + 2.0)), 2.6 + 0.32 * k)
    top, bottom = fig.subplots(2, 1, height_ratios=[1.1, max(1.0, 0.35 * k)], sharex=True)

    colors = ["#22c55e" if s["token"] == w else "#ef4444" for s, w in zip(steps, expected)]
    top.bar(range(n), [s["prob"] for s in steps], color=colors, width=0.8)
    top.set_ylim(0, 1.05)
    top.set_ylabel("p(emitted)")
    top.set_title(
        "Each step: probability of the emitted word (red: not the exact doubling's word)", fontsize=9, loc="left"
    )
    top.grid(axis="y", alpha=0.3)

    # Log colours: what the decoder believed second is often 1e-6 or less, invisible on a linear scale.
    image = bottom.imshow(
        np.ma.masked_less_equal(probs, 0),
        aspect="auto",
        cmap="Blues",
        interpolation="nearest",
        norm=LogNorm(vmin=LOG_FLOOR, vmax=1.0, clip=True),
    )
    bottom.set_facecolor("#f3f4f6")  # a masked cell: no candidate there (a finished chunk)
    bottom.set_yticks(range(k), [f"top {r + 1}" for r in range(k)], fontsize=8)
    bottom.set_xticks(range(n), [s["token"] for s in steps], rotation=90, fontsize=8)
    plain(bottom.get_xticklabels())
    bottom.set_title("Top-k candidates per step (colour = probability, log scale)", fontsize=9, loc="left")
    if n <= 40:  # name each candidate while the cells are wide enough to read
        flat = n <= 16
        for col, s in enumerate(steps):
            for row, (word, p) in enumerate(s["top_k"]):
                dark = p > 0 and math.log10(p) > 0.6 * math.log10(LOG_FLOOR)  # the darker 60% of the scale
                bottom.text(
                    col,
                    row,
                    word[: 8 if flat else 6],
                    ha="center",
                    va="center",
                    fontsize=7 if flat else 6,
                    rotation=0 if flat else 90,
                    color="white" if dark else "#1f2937",
                    parse_math=False,
                )
    fig.colorbar(image, ax=bottom, fraction=0.02, pad=0.01, label="p")
    return fig


# --- the model ---


def model_note(info: dict, num_slots: int, limits: str, warning: str | None) -> str:
    """What serves: `info` is `WordDoubler.describe()`; `limits` the request limits in words."""
    source = str(info["source"]).replace("`", "'")
    lines = [
        f"**Model** `{source}`  ·  {info['parameters']:,} parameters  ·  vocabulary {info['vocabulary_words']:,} words "
        f"+ {num_slots} slots for any other word  ·  "
        f"batch rows of at most {info['max_src_len']} word{'s' if info['max_src_len'] != 1 else ''}  ·  "
        f"device `{info['device']}`  ·  limits: {limits}"
    ]
    # Which weights serve: a Hub revision can move, so the commit is what identifies them; the file's sha256 is the
    # id the Hub shows for model.safetensors, so bundled weights can be matched to a commit as well.
    commit = f"commit `{info['commit']}`" if info["commit"] else "no Hub commit"
    lines.append(f"**Served from** {info['origin']}  ·  {commit}  ·  `model.safetensors` sha256 `{info['sha256']}`")
    if warning:
        lines.append("⚠️ " + warning.replace("`", "'"))
    return "\n\n".join(lines)
