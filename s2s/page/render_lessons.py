"""The page's lessons from others' mistakes and from the evaluation: forgetting to pack, and where the model is
reliable."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..lessons.reliability import Assessment, Grid, family_label
from ..lessons.unpacked import UnpackedView
from ..tokenizer import EOS
from .render import RELIABILITY_ANCHOR, figure

# --- what if we forgot to pack? ---

UNPACKED_WIDTHS = ["5%", "9%", "6%", "7%", "8%", "27%", "27%", "11%"]
GITHUB = "https://github.com"


def chunk_output(result: dict, chunk: int) -> str:
    """The words one chunk of a result emitted, up to its <eos>: the row's output with packing."""
    words = []
    for step in result["steps"]:
        if step["chunk"] == chunk:
            if step["token"] == EOS:
                break
            words.append(step["token"])
    return " ".join(words)


def unpacked_table(view: UnpackedView, results: list[dict]) -> pd.DataFrame:
    """Per row: how far its state moved through the padding, and its output with and without packing."""
    rows = []
    for r, (s, c) in enumerate(zip(view.row_sentence, view.row_chunk)):
        packed = chunk_output(results[s], c)
        rows.append(
            [
                r + 1,
                f"{s + 1}" + (f" · chunk {c + 1}" if results[s]["chunks"] > 1 else ""),
                view.lengths[r],
                view.pads_read[r],
                f"{view.distance[r]:.1%}",
                packed,
                view.outputs[r] or "(nothing: <eos> at once)",
                "no" if view.outputs[r] == packed else "yes, still exact" if view.exact[r] else "yes: ✗ wrong",
            ]
        )
    # state moved: |h_unpacked - h_packed| / |h_packed|, how far the padding pushed the final encoder state
    columns = [
        "row",
        "sentence",
        "words",
        "<pad> read",
        "state moved",
        "with packing (yours)",
        "without packing",
        "changed",
    ]
    return pd.DataFrame(rows, columns=columns)


def unpacked_note(view: UnpackedView, results: list[dict]) -> str:
    changed = [
        r
        for r in range(len(view.rows))
        if view.outputs[r] != chunk_output(results[view.row_sentence[r]], view.row_chunk[r])
    ]
    padded = [r for r in range(len(view.rows)) if view.pads_read[r]]
    longest = max(view.lengths)
    if not padded:
        what = (
            f"All {len(view.rows)} rows are {longest} words long, so no row reads a `<pad>` and packing changes "
            "nothing. Add a shorter sentence and press **Double** again to see the bug."
        )
    else:
        wrong = sum(not view.exact[r] for r in padded)
        what = (
            f"**{len(changed)} of {len(view.rows)} rows** come out differently without packing, and {wrong} of the "
            f"{len(padded)} rows shorter than the longest ({longest} words) are no longer the exact doubling: their "
            "final state has read the `<pad>` after their last word. The longest rows read no `<pad>`, and their "
            "state equals the packed one."
        )
    return (
        f"{what}\n\nThis is the bug in PyTorch's own seq2seq tutorial ([pytorch/tutorials#3643]({GITHUB}/pytorch/"
        "tutorials/issues/3643)): without `pack_padded_sequence`, how much `<pad>` a sentence reads depends on its "
        "companions, so **its output changes with the batch** — as in OpenNMT-py "
        f"[#318]({GITHUB}/OpenNMT/OpenNMT-py/issues/318) and [#2208]({GITHUB}/OpenNMT/OpenNMT-py/issues/2208) and "
        f"fairseq [#174]({GITHUB}/facebookresearch/fairseq/issues/174). With packing, the one-at-a-time comparison "
        "shows every sentence identical alone and batched."
    )


def mask_note(masked_loss: float, unmasked_loss: float, pad_targets: int) -> str:
    """The same mistake in the loss: the request's masked and unmasked means (from the padded batch)."""
    return (
        f"**And if we forgot the mask?** The loss of your batch is **{masked_loss:.4f}** over its real targets, "
        f"**{unmasked_loss:.4f}** if its {pad_targets} `<pad>` targets count too: the model would be graded, and "
        "trained, on predicting padding that only exists because a companion is longer."
    )


# --- where the model is reliable ---

NO_EVALUATION = (
    "*These weights came without an evaluation (`evaluation.json` beside them), so the page cannot "
    "say where the model is reliable. `python -m s2s.evaluate --model weights --write-card` writes it.*"
)


def reliability_figure(g: Grid, marks: list[tuple[Assessment, bool]] = ()) -> Figure:
    """Exact match per family and length bucket; the cells of the visitor's sentences outlined (red: one was wrong)."""
    fig = figure(9.0, 1.2 + 0.36 * len(g.rows))
    ax = fig.subplots()
    values = [[v if v is not None else float("nan") for v in row] for row in g.exact]
    image = ax.imshow(values, cmap="RdYlGn", vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest")
    for r, row in enumerate(g.exact):
        for c, v in enumerate(row):
            if v is not None:
                ax.text(c, r, f"{v:.0%}", ha="center", va="center", fontsize=8, color="#111827")
    ax.set_xticks(range(len(g.buckets)), [f"{b} words" for b in g.buckets], fontsize=8)
    ax.set_yticks(range(len(g.rows)), [g.label(row) for row in g.rows], fontsize=8)
    ax.tick_params(length=0)
    wrong_cells = {(a.family, a.bucket) for a, exact in marks if not exact}
    for family, bucket in {(a.family, a.bucket) for a, _ in marks}:
        if family in g.rows and bucket in g.buckets:
            wrong = (family, bucket) in wrong_cells
            ax.add_patch(
                Rectangle(
                    (g.buckets.index(bucket) - 0.48, g.rows.index(family) - 0.46),
                    0.96,
                    0.92,
                    fill=False,
                    edgecolor="#dc2626" if wrong else "#1d4ed8",
                    linewidth=2.2,
                )
            )
    ax.set_title(
        f"Exact match by sentence family and length (beam width {g.beam_width})\n"
        "outlined: where your sentences fall (red: one of them was wrong)",
        fontsize=9,
        loc="left",
    )
    fig.colorbar(image, ax=ax, fraction=0.03, pad=0.01, format=lambda x, _: f"{x:.0%}")
    return fig


def _wrong_lines(results: list[dict], assessed: list[Assessment], g: Grid | None) -> list[str]:
    """A line per wrong sentence: what kind of sentence it is, and how often the evaluation gets such ones right."""
    lines = []
    for i, (result, a) in enumerate(zip(results, assessed), 1):
        if result["is_exact"]:
            continue
        if a.exact_match is None:
            measured = "beyond the evaluated lengths" if g else "not evaluated"
        else:
            measured = f"the evaluation doubles **{a.exact_match:.0%}** of such sentences of {a.bucket} words exactly"
        lines.append(f"- ✗ **{i}.** {a.words} words, {family_label(a.family)}: {measured}")
    return lines


def wrong_note(results: list[dict], assessed: list[Assessment], g: Grid | None) -> str:
    """Under the results: the sentences that did not come out exactly, each with what the evaluation says, and a
    link."""
    lines = _wrong_lines(results, assessed, g)
    if not lines:
        return ""
    return (
        f"**{len(lines)} of {len(results)}** not doubled exactly — "
        f"[where the model is reliable ↓](#{RELIABILITY_ANCHOR}):\n\n" + "\n".join(lines)
    )


def reliability_note(results: list[dict], assessed: list[Assessment], g: Grid | None) -> str:
    """Above the chart: how many came out exact, the wrong ones again, and the chart's weakest cells."""
    lines = _wrong_lines(results, assessed, g)
    right = sum(r["is_exact"] for r in results)
    head = f"**{right} of {len(results)}** of your sentences came out as the exact doubling."
    if lines:
        head += " The others, next to what the evaluation measured:\n\n" + "\n".join(lines)
    if g is None:
        return head + "\n\n" + NO_EVALUATION
    cells = sorted((v, r, b) for r, row in zip(g.rows, g.exact) for b, v in zip(g.buckets, row) if v is not None)
    weakest = ", ".join(f"{g.label(r)} of {b} words ({v:.0%})" for v, r, b in cells[:3])
    return (
        f"{head}\n\nThe chart is the shipped model's evaluation on fresh sentences (`{g.command}`). Weakest: "
        f"{weakest}. A sentence longer than the model's row is cut into chunks, each doubled on its own."
    )
