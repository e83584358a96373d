"""The forced re-decode ("what if the decoder had said..."), drawn from plain data: the step table of both runs side by
side, where they part, and whether the decoder got back to the exact doubling after the word it was made to say."""

from __future__ import annotations

import pandas as pd

from .render import STEP_COLUMNS, expected_words, fmt_prob

NO_FORCE = (
    "*Click a candidate in the per-step table (or choose a step and a word below) to make the decoder say it "
    "there and see what it does next.*"
)


def forced_steps(result: dict, step: int) -> tuple[int, list[str]]:
    """The chunk of 0-based `step` of a result, and the words its chunk emitted before that step."""
    chunk = result["steps"][step]["chunk"]
    before = [s["token"] for s in result["steps"][:step] if s["chunk"] == chunk]
    return chunk, before


def force_choices(result: dict | None, step: int | None, max_src_len: int) -> list[str]:
    """The words one may force at 1-based `step`: the decoder's top-k candidates there, then the exact doubling's
    word."""
    if not result or not isinstance(step, int) or not 1 <= step <= len(result["steps"]):
        return []
    here = result["steps"][step - 1]
    words = [w for w, _ in here["top_k"]]
    want = expected_words(result, max_src_len)[step - 1]
    return list(dict.fromkeys(words + ([want] if want != "—" else [])))


def cell_choice(result: dict | None, cell, max_src_len: int) -> tuple[int | None, str | None]:
    """A click on the per-step table (its [row, column]) -> the 1-based step and the word to force: a top-k cell's
    candidate, or the expected word; another column picks only the step."""
    if not result or not isinstance(cell, (list, tuple)) or len(cell) != 2:
        return None, None
    row, column = cell
    if not isinstance(row, int) or not 0 <= row < len(result["steps"]):
        return None, None
    candidates = result["steps"][row]["top_k"]
    first = len(STEP_COLUMNS)
    if isinstance(column, int) and first <= column < first + len(candidates):
        return row + 1, candidates[column - first][0]
    if column == STEP_COLUMNS.index("expected"):
        want = expected_words(result, max_src_len)[row]
        return row + 1, want if want != "—" else None
    return row + 1, None


def divergence(before: dict, after: dict) -> int | None:
    """The first 0-based step at which the two runs emitted different words (None: the same words)."""
    pairs = zip([s["token"] for s in before["steps"]], [s["token"] for s in after["steps"]])
    first = next((i for i, (a, b) in enumerate(pairs) if a != b), None)
    if first is None and len(before["steps"]) != len(after["steps"]):
        return min(len(before["steps"]), len(after["steps"]))
    return first


def recovered(after: dict, step: int, expected: list[str]) -> tuple[bool, int | None]:
    """After the forced 0-based `step`, did its chunk say the exact doubling's words (`expected`, one a step) to its
    end (<eos> included)? (yes or no, and the first 0-based step where it did not)."""
    chunk = after["steps"][step]["chunk"]
    rest = [i for i, s in enumerate(after["steps"]) if i > step and s["chunk"] == chunk]
    wrong = next((i for i in rest if after["steps"][i]["token"] != expected[i]), None)
    return wrong is None, wrong


def forced_table(before: dict, after: dict, step: int, max_src_len: int) -> pd.DataFrame:
    """Both runs step by step: the exact doubling's word, what each emitted with its p, and the forced run's top-k."""
    expected = expected_words(after, max_src_len)
    k = max((len(s["top_k"]) for s in after["steps"]), default=0)
    rows = []
    for i, now in enumerate(after["steps"]):
        was = before["steps"][i] if i < len(before["steps"]) else None
        mark = "⚑ forced" if i == step else ("≠" if was is None or was["token"] != now["token"] else "")
        candidates = [f"{w}  {fmt_prob(p)}" for w, p in now["top_k"]]
        rows.append(
            [
                i + 1,
                now["chunk"] + 1,
                expected[i],
                was["token"] if was else "",
                fmt_prob(was["prob"]) if was else "",
                now["token"],
                fmt_prob(now["prob"]),
                mark,
            ]
            + candidates
            + [""] * (k - len(candidates))
        )
    columns = ["step", "chunk", "expected", "before", "p before", "forced run", "p", "change"] + [
        f"top {i}" for i in range(1, k + 1)
    ]
    return pd.DataFrame(rows, columns=columns)


def forced_note(before: dict, after: dict, step: int, word: str, max_src_len: int) -> str:
    """What forcing did: the word and the decoder's own p for it, where the runs part, whether it recovered."""
    p = after["steps"][step]["prob"]
    parted = divergence(before, after)
    expected = expected_words(after, max_src_len)
    back, wrong = recovered(after, step, expected)
    lines = [
        f"**Forced `{word}` at step {step + 1}**: the decoder itself gave it p = {fmt_prob(p)} there "
        f"(it had said `{before['steps'][step]['token']}`)."
    ]
    if parted is None:
        lines.append("Nothing changed: that was the word it said anyway.")
    else:
        lines.append(f"The runs first differ at step {parted + 1}.")
    if step + 1 >= len(after["steps"]) or after["steps"][step]["token"] == "<eos>":
        lines.append("The forced word ended its chunk: there is nothing after it.")
    elif back:
        lines.append(
            "After it, the decoder **got back** to the exact doubling of the rest: a state that has read the "
            "whole sentence can shrug off one wrong word."
        )
    else:
        lines.append(
            f"After it, the decoder **did not recover**: step {wrong + 1} says "
            f"`{after['steps'][wrong]['token']}` where the doubling has `{expected[wrong]}`. "
            "It conditions on its own words (exposure bias): one wrong word can lead it astray."
        )
    lines.append(f"Output: `{after['output']}`")
    return "\n\n".join(lines)
