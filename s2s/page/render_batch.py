"""The page's batch views: the padded batch and its loss mask, how the request ran, and sorted vs as-sent batching."""

from __future__ import annotations

import math
from html import escape

import pandas as pd
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ..lessons.batch_cost import Batching, row_steps
from ..lessons.batch_view import BatchView
from ..lessons.compare import Comparison
from ..tokenizer import PAD_ID
from .render import figure, fmt_prob

COST_ROWS = 64  # the batching figure draws at most this many rows
NEEDED, WAITING = "#3b82f6", "#d1d5db"  # the batching figure's colours: steps a row needs, steps it waits


# The padded batch is an HTML matrix, not a figure: a browser lays out a few thousand cells in no time where
# matplotlib took most of a second, every script and emoji renders (the plot font has no CJK), and on a phone
# each matrix scrolls in its own box (s2s/page/page_style.py styles it).
MATRIX_ROWS = 24  # the matrices show at most this many rows; the loss table holds them all


def text(value: str) -> str:
    """User text made inert in gr.HTML: HTML-escaped, and `{`, `$` as entities so that no template reads them."""
    return escape(value).replace("{", "&#123;").replace("}", "&#125;").replace("$", "&#36;")


def _matrix(caption: str, words: list[list[str]], counts: list[list[bool]], left: list[str], right: list[str]) -> str:
    """One matrix like the blog's figure: real cells blue, <pad> cells grey; every word escaped (it is user text)."""
    rows = []
    for r, (row, real) in enumerate(zip(words, counts)):
        cells = "".join(f'<td class="{"w" if c else "pad"}">{text(w)}</td>' for w, c in zip(row, real))
        head = f"<th>{text(left[r])}</th>" if left else ""
        tail = f"<th>{text(right[r])}</th>" if right else ""
        rows.append(f"<tr>{head}{cells}{tail}</tr>")
    return f'<div class="matrix"><table><caption>{text(caption)}</caption>{"".join(rows)}</table></div>'


def padded_batch_html(view: BatchView) -> str:
    """The source batch [B, T] with its <pad> cells, and the targets with the loss mask and each row's loss.

    Narrow batches sit side by side, as in the blog; wide ones wrap below each other (the flex box decides).
    """
    shown = min(view.shape[0], MATRIX_ROWS)
    (b, t), s = view.shape, view.target_shape[1]
    source = _matrix(
        f"Source batch [B={b}, T={t}]: grey = <pad>",
        view.src_words[:shown],
        [[i != PAD_ID for i in row] for row in view.src_ids[:shown]],
        [f"row {r + 1} · len {view.lengths[r]}" for r in range(shown)],
        [],
    )
    targets = _matrix(
        f"Targets [B={b}, S={s}] and loss mask: grey cells do not count",
        view.target_words[:shown],
        view.loss_mask[:shown],
        [],
        [f"loss {view.row_loss[r]:.3f}" for r in range(shown)],
    )
    more = ""
    if shown < b:
        more = f'<p class="more">the first {shown} of {b} rows; the loss table below holds every sentence</p>'
    return f'<div class="batch">{source}{targets}</div>{more}'


def loss_table(view: BatchView) -> pd.DataFrame:
    rows = []
    for i, sentence in enumerate(view.sentences):
        loss, count = view.sentence_loss[i], view.sentence_targets[i]
        rows.append(
            [i + 1, sentence, view.row_sentence.count(i), count, f"{loss:.4f}", fmt_prob(math.exp(-loss * count))]
        )
    return pd.DataFrame(rows, columns=["#", "sentence", "rows", "targets", "loss (mean NLL)", "p(exact doubling)"])


def loss_note(view: BatchView) -> str:
    cells = view.target_shape[0] * view.target_shape[1]
    counted = cells - view.masked_cells
    return (
        f"**Masked mean (the loss training minimises): {view.masked_loss:.4f}** over {counted} real targets  ·  "
        f"unmasked mean: {view.unmasked_loss:.4f} over all {cells} cells, {view.masked_cells} of them `<pad>`.\n\n"
        "Why mask: a `<pad>` cell exists only because another sentence in the batch is longer — counting it "
        "would make a sentence's loss depend on its companions and teach the model to predict padding."
    )


def decoding_text(beam_width: int) -> str:
    if beam_width == 1:
        return "greedy: the likeliest word at every step"
    return f"beam search: the {beam_width} likeliest partial doublings per row, one decoder row each"


def run_note(results: list[dict], view: BatchView, batch: dict, beam_width: int, device: str) -> str:
    steps = max(row_steps(results))  # the batch's: its longest-running row (a sentence, or a chunk of a long one)
    if not batch["merged"]:
        shared = "ran alone (a batch it was merged into failed, so it was re-run on its own)"
    elif batch["requests"] > 1:
        shared = (
            f"merged with {batch['requests'] - 1} other request(s): {batch['sentences']} sentences in one forward pass"
        )
    else:
        shared = "ran on its own (no other request arrived within the batching window)"
    return (
        "| | this request |\n|---|---|\n"
        f"| sentences | {len(results)} |\n"
        f"| padded batch [B, T] | [{view.shape[0]}, {view.shape[1]}] ({view.pad_cells} `<pad>` cells) |\n"
        f"| decoding | {decoding_text(beam_width)} |\n"
        f"| decode steps | {steps} |\n"
        f"| time | {batch['forward_ms']:.1f} ms forward pass, {batch['wait_ms']:.1f} ms with queueing |\n"
        f"| device | {device} |\n"
        f"| other users | {shared} |\n"
    )


def compare_note(c: Comparison, sentences: int) -> str:
    """The comparison's timings; `sentences`: how many the request had (the comparison may have run fewer)."""
    same = (
        "yes, every sentence" if c.identical else f"no — sentences {', '.join(str(i + 1) for i in c.mismatches)} differ"
    )
    cap = (
        f"\n\n*The comparison ran the first {c.sentences} of your {sentences} sentences "
        f"(at most {c.sentences}: each one alone costs a whole decoder pass).*"
        if sentences > c.sentences
        else ""
    )
    return (
        "| batched | one at a time | speed-up | identical |\n|---|---|---|---|\n"
        f"| {c.batched_ms:.1f} ms | {c.one_at_a_time_ms:.1f} ms | **{c.speedup:.1f}×** | {same} |" + cap
    )


# --- sorted vs as-sent batching ---


def batching_note(sent: Batching, sorted_: Batching) -> str:
    """The two ways side by side: padding in the encoder, and decoder work with and without dropping finished rows."""
    w = sent.beam_width
    beams = f" (× {w} beams: each row is {w} decoder rows)" if w > 1 else ""

    def kept(b: Batching) -> str:
        return f"{b.kept_row_steps:,} ({b.wasted_share:.0%} on rows already finished)"

    return (
        f"| | {sent.name} | {sorted_.name} |\n|---|---|---|\n"
        f"| batches | {len(sent.batches)} | {len(sorted_.batches)} |\n"
        f"| encoder cells (rows × longest row) | {sent.encoder_cells:,} | {sorted_.encoder_cells:,} |\n"
        f"| `<pad>` share in the encoder | **{sent.pad_share:.0%}** | **{sorted_.pad_share:.0%}** |\n"
        f"| decoder row-steps, every row kept to its batch's end{beams} | {kept(sent)} | {kept(sorted_)} |\n"
        f"| decoder row-steps, finished rows dropped (this model's decoder) | {sent.own_row_steps:,} | "
        f"{sorted_.own_row_steps:,} |\n\n"
        "The encoder always pays for padding: packing skips the `<pad>` cells' arithmetic, but a GPU still sizes its "
        "work by the batch's longest row. A decoder that keeps every row until its batch's longest is done spends "
        "the grey steps on rows that have already emitted `<eos>`; this model's decoder drops a row once it is done, "
        "so its cost is the same either way — sorting still saves the encoder's padding and lets short batches end "
        "early. `WordDoubler.double` sorts a large input by length into batches; the page runs your rows as sent."
    )


def _bars(ax, starts: list[float], widths: list[float], color: str) -> None:
    """Horizontal bars, one per row from the top, as one collection: a figure of 128 bars draws in one call."""
    boxes = [
        [(x, y - 0.4), (x + w, y - 0.4), (x + w, y + 0.4), (x, y + 0.4)]
        for y, (x, w) in enumerate(zip(starts, widths))
        if w > 0
    ]
    ax.add_collection(PolyCollection(boxes, facecolors=color, edgecolors="none"))


def batching_figure(sent: Batching, sorted_: Batching) -> Figure:
    """Per row: the steps it needs (blue) and the steps it would wait for its batch (grey), as sent and sorted."""
    b = len(sent.lengths)
    shown = list(range(min(b, COST_ROWS)))
    fig = figure(11.0, 1.4 + 0.1 * len(shown))
    axes = fig.subplots(1, 2, sharex=True)
    for ax, batching in zip(axes, (sent, sorted_)):
        order = [
            i for batch in batching.batches for i in batch if i in shown
        ]  # rows in the order the batches hold them
        own = [batching.steps[i] for i in order]
        waiting = [batching.batch_steps[i] - batching.steps[i] for i in order]
        _bars(ax, [0] * len(order), own, NEEDED)
        _bars(ax, own, waiting, WAITING)
        edges, at = [], 0
        for batch in batching.batches:  # a line between batches
            at += sum(i in shown for i in batch)
            edges.append(at - 0.5)
        for y in edges[:-1]:
            ax.axhline(y, color="#111827", linewidth=0.8)
        ax.set_xlim(0, max(batching.batch_steps[i] for i in order) * 1.02 if order else 1)
        ax.set_ylim(len(order) - 0.5, -0.5)
        ax.set_yticks([])
        ax.set_ylabel("rows" + (f" (first {len(shown)} of {b})" if len(shown) < b else ""), fontsize=8)
        ax.set_xlabel("decode steps", fontsize=8)
        ax.set_title(
            f"{batching.name}: {len(batching.batches)} batch{'es' if len(batching.batches) > 1 else ''}, "
            f"{batching.pad_share:.0%} <pad> in the encoder",
            fontsize=9,
            loc="left",
        )
    legend = [
        Patch(color=NEEDED, label="steps the row needs"),
        Patch(color=WAITING, label="finished, waiting for its batch"),
    ]
    fig.legend(handles=legend, fontsize=7, loc="outside lower center", ncols=2, frameon=False)
    return fig
