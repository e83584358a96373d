"""The page's batch views: the padded batch and its loss mask, how the request ran, and sorted vs as-sent batching."""

from __future__ import annotations

import math

import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from .batch_cost import Batching, row_steps
from .batch_view import BatchView
from .compare import Comparison
from .render import figure, fmt_prob

FIGURE_ROWS = 12  # the padded-batch figure draws at most this many rows; the tables hold them all
COST_ROWS = 64  # the batching figure draws at most this many rows


def _grid(ax, words: list[list[str]], counts: list[list[bool]], title: str, cell_w: float, cell_h: float) -> None:
    """A matrix of words like the blog's figure: real cells blue, <pad> cells grey.

    cell_w, cell_h: a cell's size in inches, to fit its text: across when wide, upright when narrow, none when tiny.
    """
    rows, cols = len(words), len(words[0]) if words else 0
    ax.imshow([[1.0 if c else 0.0 for c in row] for row in counts], cmap=ListedColormap(["#e5e7eb", "#bfdbfe"]),
              vmin=0, vmax=1, aspect="auto", interpolation="nearest")
    size = 8 if cell_w >= 0.6 else 7 if cell_w >= 0.3 else 6
    char_in = size * 0.62 / 72  # about one character's width, in inches
    across = cell_w >= 4 * char_in
    fits = int((cell_w if across else cell_h) / char_in)
    if across or cell_w >= 1.4 * size / 72:
        for r in range(rows):
            for c in range(cols):
                pad = not counts[r][c]
                if pad and not across:
                    continue  # upright "<pad>" would be clipped; grey already says it
                ax.text(c, r, words[r][c][:fits], ha="center", va="center", fontsize=size - 1 if pad else size,
                        rotation=0 if across else 90, parse_math=False,
                        color="#6b7280" if pad else "#111827", style="italic" if pad else "normal")
    every = math.ceil(cols / 25)
    ax.set_xticks(range(0, cols, every), [str(c) for c in range(0, cols, every)], fontsize=7)
    ax.set_xticks([c - 0.5 for c in range(1, cols)], minor=True)
    ax.set_yticks([r - 0.5 for r in range(1, rows)], minor=True)
    ax.grid(which="minor", color="white", linewidth=1.5 if cell_w > 0.15 else 0.8)
    ax.tick_params(which="minor", length=0)
    ax.set_title(title, fontsize=9, loc="left")


def padded_batch_figure(view: BatchView) -> Figure:
    """The source batch [B, T] with its <pad> cells, and the targets with the loss mask and each row's loss.

    Narrow batches sit side by side, as in the blog; wide ones stack, so that the words stay readable.
    """
    shown = min(view.shape[0], FIGURE_ROWS)
    (b, t), s = view.shape, view.target_shape[1]
    width, labels = 11.0, 2.4  # inches: the figure, and the row labels on both sides
    side_by_side = t <= 8
    row_h = 0.55 if shown <= 6 else 0.4
    if side_by_side:
        fig = figure(width, 1.2 + row_h * shown)
        src_ax, tgt_ax = fig.subplots(1, 2, width_ratios=[max(t, 2), max(s, 4) * 0.8])
        src_w = (width - labels) * max(t, 2) / (max(t, 2) + max(s, 4) * 0.8)
        tgt_w = width - labels - src_w
    else:
        fig = figure(width, 1.8 + 2 * row_h * shown)
        src_ax, tgt_ax = fig.subplots(2, 1)
        src_w = tgt_w = width - labels
    src_counts = [[i != 0 for i in row] for row in view.src_ids[:shown]]
    _grid(src_ax, view.src_words[:shown], src_counts, f"Source batch [B={b}, T={t}]: grey = <pad>", src_w / max(t, 1), row_h)
    src_ax.set_yticks(range(shown), [f"row {r + 1} · len {view.lengths[r]}" for r in range(shown)], fontsize=8)
    _grid(tgt_ax, view.target_words[:shown], view.loss_mask[:shown],
          f"Targets [B={b}, S={s}] and loss mask: grey cells do not count", tgt_w / max(s, 1), row_h)
    tgt_ax.set_yticks(range(shown), [f"loss {view.row_loss[r]:.3f}" for r in range(shown)], fontsize=8)
    tgt_ax.yaxis.tick_right()
    if shown < b:
        fig.suptitle(f"first {shown} of {b} rows", fontsize=8, x=0.99, ha="right")
    return fig


def loss_table(view: BatchView) -> pd.DataFrame:
    rows = []
    for i, sentence in enumerate(view.sentences):
        loss, count = view.sentence_loss[i], view.sentence_targets[i]
        rows.append([i + 1, sentence, view.row_sentence.count(i), count, f"{loss:.4f}", fmt_prob(math.exp(-loss * count))])
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
        shared = f"merged with {batch['requests'] - 1} other request(s): {batch['sentences']} sentences in one forward pass"
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
    same = "yes, every sentence" if c.identical else f"no — sentences {', '.join(str(i + 1) for i in c.mismatches)} differ"
    cap = (f"\n\n*The comparison ran the first {c.sentences} of your {sentences} sentences "
           f"(at most {c.sentences}: each one alone costs a whole decoder pass).*" if sentences > c.sentences else "")
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


def batching_figure(sent: Batching, sorted_: Batching) -> Figure:
    """Per row: the steps it needs (blue) and the steps it would wait for its batch (grey), as sent and sorted."""
    b = len(sent.lengths)
    shown = list(range(min(b, COST_ROWS)))
    fig = figure(11.0, 1.4 + 0.16 * len(shown))
    axes = fig.subplots(1, 2, sharex=True)
    for ax, batching in zip(axes, (sent, sorted_)):
        order = [i for batch in batching.batches for i in batch if i in shown]  # rows in the order the batches hold them
        own = [batching.steps[i] for i in order]
        waiting = [batching.batch_steps[i] - batching.steps[i] for i in order]
        ax.barh(range(len(order)), own, color="#3b82f6", height=0.8, label="steps the row needs")
        ax.barh(range(len(order)), waiting, left=own, color="#d1d5db", height=0.8, label="finished, waiting for its batch")
        edges, at = [], 0
        for batch in batching.batches:  # a line between batches
            at += sum(i in shown for i in batch)
            edges.append(at - 0.5)
        for y in edges[:-1]:
            ax.axhline(y, color="#111827", linewidth=0.8)
        ax.set_ylim(len(order) - 0.5, -0.5)
        ax.set_yticks([])
        ax.set_ylabel("rows" + (f" (first {len(shown)} of {b})" if len(shown) < b else ""), fontsize=8)
        ax.set_xlabel("decode steps", fontsize=8)
        ax.set_title(f"{batching.name}: {len(batching.batches)} batch{'es' if len(batching.batches) > 1 else ''}, "
                     f"{batching.pad_share:.0%} <pad> in the encoder", fontsize=9, loc="left")
    fig.legend(*axes[0].get_legend_handles_labels(), fontsize=7, loc="outside lower center", ncols=2, frameon=False)
    return fig
