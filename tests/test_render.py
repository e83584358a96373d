"""The page's tables, figures and notes, drawn from hand-made data: no model, no server."""

import json
from pathlib import Path

import pytest
from matplotlib.collections import LineCollection
from matplotlib.colors import LogNorm, to_hex
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from s2s.lessons.batch_cost import as_sent, length_buckets
from s2s.lessons.batch_view import BatchView
from s2s.lessons.beam_tree import BeamNode, BeamTree
from s2s.lessons.reliability import Assessment, grid
from s2s.lessons.unpacked import UnpackedView
from s2s.page import render, render_batch, render_lessons, render_search

SAMPLE = Path(__file__).parent / "data" / "evaluation.json"


def step(token, prob, top_k, chunk=0):
    return {"token": token, "prob": prob, "top_k": [list(c) for c in top_k], "chunk": chunk}


RIGHT = {
    "input": "I love",
    "output": "I I love love",
    "is_exact": True,
    "min_prob": 0.97,
    "chunks": 1,
    "steps": [
        step("I", 0.999, [("I", 0.999), ("you", 3.1e-9)]),
        step("I", 0.99, [("I", 0.99), ("love", 2e-4)]),
        step("love", 0.98, [("love", 0.98), ("I", 1e-12)]),
        step("love", 0.97, [("love", 0.97), ("<eos>", 0.02)]),
        step("<eos>", 0.999, [("<eos>", 0.999), ("love", 0.0)]),
    ],
}
WRONG = {
    "input": "no no no",
    "output": "no no no no",
    "is_exact": False,
    "min_prob": 0.4,
    "chunks": 1,
    "steps": [
        step("no", 0.9, [("no", 0.9)]),
        step("no", 0.9, [("no", 0.9)]),
        step("no", 0.9, [("no", 0.9)]),
        step("no", 0.9, [("no", 0.9)]),
        step("<eos>", 0.4, [("<eos>", 0.4)]),
    ],
}


@pytest.mark.parametrize(
    "p, text",
    [
        (0.5, "0.500"),
        (1.0, "1.000"),
        (0.001, "0.001"),
        (3.1e-9, "3.1e-9"),
        (2.04e-4, "2.0e-4"),
        (1e-12, "1.0e-12"),
        (0.0, "0"),
    ],
)
def test_probabilities_people_can_read(p, text):
    assert render.fmt_prob(p) == text


def test_the_step_table_shows_what_the_decoder_believed_second():
    table = render.step_table(RIGHT, max_src_len=26)
    assert table["top 2"].tolist()[:3] == ["you  3.1e-9", "love  2.0e-4", "I  1.0e-12"]
    assert table["top 1"][0] == "▶ I  0.999" and table["ok"].tolist() == ["✓"] * 5
    assert "0.000" not in " ".join(table["top 2"])


def test_the_step_plot_colours_on_a_log_scale():
    fig = render.step_plot(RIGHT, max_src_len=26)
    (image,) = fig.axes[1].images
    assert isinstance(image.norm, LogNorm) and image.norm.vmin == render.LOG_FLOOR


def test_a_wrong_result_says_so_and_links_to_the_reliability_chart():
    table = render.results_table([RIGHT, WRONG])
    assert table["exact"].tolist() == ["✓", "✗"] and table["lowest step p"].tolist() == ["0.970", "0.400"]
    assessed = [Assessment(2, "random", "1-5", 1.0, 100), Assessment(3, "run", "1-5", 0.5, 100)]
    note = render_lessons.wrong_note([RIGHT, WRONG], assessed, None)
    assert f"](#{render.RELIABILITY_ANCHOR})" in note and "✗ **2.** 3 words, one word repeated" in note
    assert render_lessons.wrong_note([RIGHT], assessed[:1], None) == ""  # all right: nothing to say


def tree(width=2):
    """Two steps, width 2: beam 1 -> "I" (kept), beam 2 -> "you" (pruned at step 2)."""
    steps = [
        [BeamNode(0, 0, "I", -0.01, True, True), BeamNode(1, 0, "you", -4.0, False, False)],
        [BeamNode(0, 0, "I", -0.02, True, True), BeamNode(1, 0, "love", -6.0, False, True)],
    ]
    return BeamTree(chunk=0, source="I", width=width, steps=steps)


def test_beam_tree_table_marks_kept_and_pruned_beams():
    table = render_search.tree_table([tree()])
    assert list(table.columns) == ["chunk", "step", "beam 1", "beam 2"]
    assert table["beam 1"].tolist() == ["▶ I  -0.01  ← 1", "▶ I  -0.02  ← 1"]
    assert table["beam 2"].tolist() == ["✂ you  -4  ← 1", "love  -6  ← 1"]


def test_beam_tree_figure_highlights_the_kept_path():
    fig = render_search.tree_figure([tree()])
    edges = {
        to_hex(c.get_color()[0]): len(c.get_segments())
        for c in fig.axes[0].collections
        if isinstance(c, LineCollection) and c.get_segments()
    }
    assert edges == {render_search.KEPT: 2, render_search.ALIVE: 1, render_search.PRUNED: 1}  # <sos>-I-I, you, love
    assert "best beam at every step" in render_search.tree_note([tree()])
    assert "greedy" in render_search.tree_note([BeamTree(0, "I", 1, [[BeamNode(0, 0, "I", 0.0, True, True)]])])


def test_unpacked_table_and_note():
    view = UnpackedView(
        sentences=["I love", "no no no"],
        row_sentence=[0, 1],
        row_chunk=[0, 0],
        lengths=[2, 3],
        pads_read=[1, 0],
        distance=[0.8, 0.0],
        rows=["I love", "no no no"],
        outputs=["", "no no no no"],
        exact=[False, False],
        beam_width=2,
    )
    table = render_lessons.unpacked_table(view, [RIGHT, WRONG])
    assert table["with packing (yours)"].tolist() == ["I I love love", "no no no no"]
    assert table["without packing"].tolist() == ["(nothing: <eos> at once)", "no no no no"]
    assert table["changed"].tolist() == ["yes: ✗ wrong", "no"] and table["state moved"].tolist() == ["80.0%", "0.0%"]
    note = render_lessons.unpacked_note(view, [RIGHT, WRONG])
    assert "**1 of 2 rows**" in note and "pytorch/tutorials#3643" in note and "OpenNMT-py/issues/318" in note
    assert "0.1234" in render_lessons.mask_note(0.1234, 2.5, 7) and "2.5000" in render_lessons.mask_note(0.1234, 2.5, 7)


def test_batching_note_and_figure():
    sent, sorted_ = as_sent([3, 3, 12], [7, 7, 25], 2), length_buckets([3, 3, 12], [7, 7, 25], 2)
    note = render_batch.batching_note(sent, sorted_)
    assert "**50%**" in note and "**0%**" in note and "150 (48% on rows already finished)" in note
    assert "| 78 | 78 |" in note  # this decoder drops finished rows: the same work either way
    fig = render_batch.batching_figure(sent, sorted_)
    assert isinstance(fig, Figure) and len(fig.axes) == 2


def small_batch(rows: int, words: list[str]) -> BatchView:
    """`rows` rows of `words`, each row one word shorter than the one before (at least one), padded to the first."""
    t = len(words)
    lengths = [max(1, t - r) for r in range(rows)]
    src_words = [words[:n] + ["<pad>"] * (t - n) for n in lengths]
    target_words = [[w for w in words[:n] for _ in (0, 1)] + ["<eos>"] + ["<pad>"] * (2 * (t - n)) for n in lengths]
    return BatchView(
        sentences=[" ".join(words[:n]) for n in lengths],
        row_sentence=list(range(rows)),
        row_chunk=[0] * rows,
        lengths=lengths,
        src_ids=[[7] * n + [0] * (t - n) for n in lengths],
        src_tokens=src_words,
        src_words=src_words,
        target_ids=[[7] * (2 * n + 1) + [0] * (2 * (t - n)) for n in lengths],
        target_words=target_words,
        loss_mask=[[True] * (2 * n + 1) + [False] * (2 * (t - n)) for n in lengths],
        token_nll=[],
        row_loss=[0.5] * rows,
        sentence_loss=[0.5] * rows,
        sentence_targets=[2 * n + 1 for n in lengths],
        masked_loss=0.5,
        unmasked_loss=0.4,
    )


def test_the_padded_batch_is_an_html_matrix_with_every_pad_cell_grey():
    view = small_batch(3, ["I", "love", "CUDA"])
    html = render_batch.padded_batch_html(view)
    assert html.count('<td class="pad">') == view.pad_cells + view.masked_cells == (0 + 1 + 2) + (0 + 2 + 4)
    assert html.count('<td class="w">') == (3 + 2 + 1) + (7 + 5 + 3)
    assert "Source batch [B=3, T=3]" in html and "row 3 · len 1" in html and "loss 0.500" in html
    assert "first" not in html  # every row shown


def test_the_padded_batch_shows_user_words_as_text_and_caps_its_rows():
    hostile = ["<img src=x onerror=alert(1)>", "{{value}}", "${alert(1)}"]
    html = render_batch.padded_batch_html(small_batch(render_batch.MATRIX_ROWS + 5, hostile))
    assert "<img" not in html and "{{" not in html and "${" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "&#123;&#123;value&#125;&#125;" in html
    assert html.count("<tr>") == 2 * render_batch.MATRIX_ROWS
    assert f"the first {render_batch.MATRIX_ROWS} of {render_batch.MATRIX_ROWS + 5} rows" in html


def test_reliability_chart_outlines_the_visitors_cells():
    g = grid(json.loads(SAMPLE.read_text(encoding="utf-8")))
    marks = [(Assessment(3, "run", "1-5", 1.0, 100), True), (Assessment(17, "run", "16-20", 0.31, 100), False)]
    fig = render_lessons.reliability_figure(g, marks)
    outlines = [p for p in fig.axes[0].patches if isinstance(p, Rectangle)]
    assert sorted(to_hex(p.get_edgecolor()) for p in outlines) == ["#1d4ed8", "#dc2626"]
    note = render_lessons.reliability_note([RIGHT, WRONG], [a for a, _ in marks], g)
    assert "**1 of 2**" in note and "✗ **2.** 17 words, one word repeated" in note and "**31%**" in note
    assert "Weakest" in note


def test_reliability_note_without_an_evaluation():
    note = render_lessons.reliability_note([WRONG], [Assessment(3, "run", None, None, 0)], None)
    assert "not evaluated" in note and render_lessons.NO_EVALUATION in note
