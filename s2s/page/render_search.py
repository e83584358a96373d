"""The beam search of one sentence, drawn: every beam at every step with its score, the kept path, the pruned beams."""

from __future__ import annotations

import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from ..lessons.beam_tree import BeamNode, BeamTree
from .render import figure

TREE_CHUNKS = 3  # a long sentence's first chunks drawn as trees; the table holds them all
KEPT, ALIVE, PRUNED = "#4f46e5", "#93c5fd", "#d1d5db"  # the kept path, beams still alive at the end, pruned beams


def _color(node: BeamNode) -> str:
    return KEPT if node.kept else ALIVE if node.alive else PRUNED


def _draw(ax, tree: BeamTree, step_w: float) -> None:
    """One row's tree: x = step (0 = <sos>), y = the beam's rank at that step (best on top).

    Edges and nodes go in one collection per colour: a wide beam has hundreds, and one artist each would
    make drawing the figure slower than the search it shows."""
    roomy = step_w >= 0.55  # inches per step: words across and scores under them, else upright words only
    edges: dict[str, list] = {KEPT: [], ALIVE: [], PRUNED: []}
    nodes: dict[tuple[str, bool], list] = {}  # (colour, emitted a word) -> points
    for t, step in enumerate(tree.steps, 1):
        for node in step:
            edges[_color(node)].append([(t - 1, node.parent), (t, node.beam)])
            nodes.setdefault((_color(node), bool(node.word)), []).append((t, node.beam))
            if not node.word:
                continue  # a finished beam passing through: no word, same score
            text_color = "#111827" if node.alive else "#9ca3af"
            if roomy:
                ax.text(
                    t,
                    node.beam - 0.16,
                    node.word[:9],
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    color=text_color,
                    parse_math=False,
                    fontweight="bold" if node.kept else "normal",
                )
                ax.text(t, node.beam + 0.14, f"{node.score:.3g}", ha="center", va="top", fontsize=6, color="#6b7280")
            else:
                ax.text(
                    t + 0.12,
                    node.beam - 0.1,
                    node.word[:8],
                    ha="left",
                    va="bottom",
                    fontsize=6,
                    rotation=90,
                    color=text_color,
                    parse_math=False,
                )
    for color, width in ((PRUNED, 1.0), (ALIVE, 1.0), (KEPT, 2.4)):  # the kept path drawn last, on top
        ax.add_collection(LineCollection(edges[color], colors=color, linewidths=width))
    ax.scatter([0], [0], s=30, color=KEPT, zorder=3)
    for (color, word), points in nodes.items():
        xs, ys = zip(*points)
        ax.scatter(xs, ys, s=30 if word else 12, color=color, marker="o" if word else "s", zorder=3)
    ax.text(0, -0.28, "<sos>", ha="center", va="bottom", fontsize=7, parse_math=False)
    ax.set_xlim(-0.6, len(tree.steps) + 0.6)
    ax.set_ylim(tree.width - 0.45, -0.55)
    ax.set_yticks(range(tree.width), [f"beam {b + 1}" for b in range(tree.width)], fontsize=7)
    ax.set_xticks(range(0, len(tree.steps) + 1, 1 if len(tree.steps) <= 30 else 5))
    ax.tick_params(axis="x", labelsize=7)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def tree_figure(trees: list[BeamTree]) -> Figure:
    """The first TREE_CHUNKS rows' trees, one panel each."""
    shown = trees[:TREE_CHUNKS]
    steps = max(len(t.steps) for t in shown)
    width = min(16.0, max(6.0, 0.7 * (steps + 1) + 1.2))
    step_w = (width - 1.2) / (steps + 1)
    per_beam = 0.5 if step_w >= 0.55 else 0.7
    fig = figure(width, sum(0.8 + per_beam * t.width for t in shown))
    axes = fig.subplots(len(shown), 1, squeeze=False, height_ratios=[t.width + 1 for t in shown])[:, 0]
    for ax, tree in zip(axes, shown):
        chunk = f"chunk {tree.chunk + 1}: " if len(trees) > 1 else ""
        scores = "" if step_w >= 0.55 else "; scores in the table"
        ax.set_title(
            f"{chunk}width {tree.width}, {len(tree.steps)} steps. Indigo: the kept path (log p "
            f"{tree.kept_score:.3g}); blue: alive at the end; grey: pruned{scores}",
            fontsize=8,
            loc="left",
        )
        _draw(ax, tree, step_w)
    axes[-1].set_xlabel("decode step", fontsize=8)
    if len(trees) > len(shown):
        fig.suptitle(f"first {len(shown)} of {len(trees)} chunks", fontsize=8, x=0.99, ha="right")
    return fig


def _cell(node: BeamNode) -> str:
    mark = "▶ " if node.kept else "" if node.alive else "✂ "
    return f"{mark}{node.word or '(done)'}  {node.score:.3g}  ← {node.parent + 1}"


def tree_table(trees: list[BeamTree]) -> pd.DataFrame:
    """Every beam of every step: its word, its log-probability so far, and the beam it extends (← n)."""
    width = trees[0].width
    rows = [
        [tree.chunk + 1, t] + [_cell(node) for node in step] for tree in trees for t, step in enumerate(tree.steps, 1)
    ]
    return pd.DataFrame(rows, columns=["chunk", "step"] + [f"beam {b + 1}" for b in range(width)])


def tree_note(trees: list[BeamTree]) -> str:
    width = trees[0].width
    if width == 1:
        return (
            "**Width 1 is greedy decoding**: one beam, the likeliest word at every step, nothing to prune. "
            "Set the beam width above 1 and press **Double** again to watch a search."
        )
    overtakes = sum(t.overtakes for t in trees)
    pruned = sum(not node.alive for t in trees for step in t.steps for node in step)
    turn = (
        f"The kept path was **not** the best beam at {overtakes} step(s): there, greedy decoding would have "
        "followed another word."
        if overtakes
        else "The kept path was the best beam at every step: here greedy decoding would have found the same doubling."
    )
    return (
        f"At every step each of the {width} beams is extended by its {width} likeliest words, and the {width} best "
        f"of those {width * width} candidates (by log-probability so far) go on; the others are dropped. "
        f"▶ marks the kept path (the result you got), ✂ a beam no final beam descends from ({pruned} here), "
        f"← n the beam it extends. {turn}"
    )
