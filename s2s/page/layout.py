"""The page's components in reading order, one function a section: what a visitor sees, top to bottom. `build` is
called inside app.py's gr.Blocks, which wires the components to the handlers; `shown` maps the names of the values
each view of s2s.page.views returns onto the components that show them."""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from ..doubler import WordDoubler
from ..lessons.reliability import grid
from ..limits import (
    DEFAULT_BEAM_WIDTH,
    DEFAULT_TOP_K,
    MAX_BEAM_WIDTH,
    MAX_CHARS,
    MAX_SENTENCES,
    MAX_TOP_K,
    MIN_BEAM_WIDTH,
    MIN_TOP_K,
)
from ..serve import gradio_patches
from . import page_text, render, render_force, render_lessons

BLOG_SENTENCES = ["My name is Sunil", "I'm Deep Learning Geek", "I love CUDA", "I love Pytorch", "TF is Aww"]
THEME = gr.themes.Soft(primary_hue="indigo", secondary_hue="sky")


# The names of s2s.page.views' values -> the components that show them.
SHOWN_AS = {
    "results_table": "results_df",
    "wrong_note": "wrong_md",
    "run_note": "run_md",
    "compare_note": "compare_md",
    "batch_matrix": "batch_html",
    "loss_table": "loss_df",
    "loss_note": "loss_md",
    "unpacked_table": "unpacked_df",
    "unpacked_note": "unpacked_md",
    "mask_note": "mask_md",
    "cost_note": "cost_md",
    "cost_plot": "cost_plot",
    "reliability_plot": "reliability_plot",
    "reliability_note": "reliability_md",
    "highlighted": "highlighted",
    "steps_table": "steps_df",
    "steps_plot": "steps_plot",
    "tree_plot": "tree_plot",
    "tree_table": "tree_df",
    "tree_note": "tree_md",
    "forced_note": "forced_md",
    "forced_table": "forced_df",
}


def build(wd: WordDoubler, evaluation: dict | None, model_warning: str | None, limits_line: str) -> SimpleNamespace:
    """Every component of the page, in the order shown; call inside a gr.Blocks. Each component by name, and
    `shown`: the components each view fills, by the view's names."""
    gr.Markdown(page_text.INTRO)
    if model_warning:  # the configured model could not be had: say so where people look first
        gr.Markdown("⚠️ " + model_warning.replace("`", "'"))
    page = SimpleNamespace(**_inputs(), **_results(), **_steps(), **_lessons(evaluation))
    with gr.Accordion("API: what client.predict returns", open=False):
        gr.Markdown(page_text.API_NOTE)
        page.api_json = gradio_patches.plain_json_output(gr.JSON(label="Response of /double"))
    with gr.Accordion("Model", open=False):
        gr.Markdown(render.model_note(wd.describe(), wd.tokenizer.num_slots, limits_line, model_warning))
    page.shown = {view: getattr(page, name) for view, name in SHOWN_AS.items()}
    return page


def _inputs() -> dict:
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=280):
            text = gr.Textbox(
                value="\n".join(BLOG_SENTENCES),
                label="Sentences",
                lines=6,
                max_lines=16,
                info=f"One sentence per line; up to {MAX_SENTENCES} sentences and {MAX_CHARS:,} characters. "
                "Any word works: names, numbers, emoji.",
                placeholder="I love CUDA\nTF is Aww",
            )
        with gr.Column(scale=1, min_width=260):
            top_k = gr.Slider(
                MIN_TOP_K, MAX_TOP_K, value=DEFAULT_TOP_K, step=1, precision=0, label="Top-k candidates per step"
            )
            beam_width = gr.Slider(
                MIN_BEAM_WIDTH,
                MAX_BEAM_WIDTH,
                value=DEFAULT_BEAM_WIDTH,
                step=1,
                precision=0,
                label="Beam width",
                info="Partial doublings kept per sentence; 1 = greedy.",
            )
            compare_on = gr.Checkbox(
                label="Compare with one-at-a-time", info="Also run each sentence alone: the blog's speed-up, live."
            )
            button = gr.Button("Double", variant="primary", elem_id="double-button")
    gr.Examples(
        examples=[[s] for s in BLOG_SENTENCES] + [["\n".join(BLOG_SENTENCES)]],
        inputs=[text],
        label="Examples from the blog (the last one loads all five)",
    )
    return dict(text=text, top_k=top_k, beam_width=beam_width, compare_on=compare_on, button=button)


def _results() -> dict:
    results_df = _table(
        "Results", "results", headers=render.RESULT_HEADERS, column_widths=["5%", "31%", "36%", "10%", "9%", "9%"]
    )
    wrong_md = _md(elem_id="wrong-note")
    with gr.Row(equal_height=False):
        with gr.Column(min_width=280):
            run_md = _md(page_text.PRESS_DOUBLE, "run-note", "### How the batch ran")
        with gr.Column(min_width=280):
            compare_md = _md(page_text.PRESS_COMPARE, "compare-note", "### Batched vs one at a time")
    return dict(results_df=results_df, wrong_md=wrong_md, run_md=run_md, compare_md=compare_md)


def _steps() -> dict:
    """One sentence step by step: its tables, forcing a word, and the beam tree."""
    gr.Markdown(page_text.STEPS)
    parts = dict(
        sentence=gr.Dropdown(label="Sentence", choices=[], interactive=True),
        highlighted=gr.HighlightedText(
            label="Output, coloured by the decoder's confidence", color_map=render.CONFIDENCE, show_legend=True
        ),
        steps_df=_table("Per-step probabilities (▶ = the word emitted)", "steps", max_height=420),
        steps_plot=_plot("steps-plot"),
    )
    gr.Markdown(page_text.FORCE)
    with gr.Row(equal_height=True):
        parts["force_step"] = gr.Number(label="Step", precision=0, minimum=1, elem_id="force-step", min_width=120)
        parts["force_word"] = gr.Dropdown(label="Word to force there", choices=[], elem_id="force-word", min_width=200)
        parts["force_button"] = gr.Button("Re-decode from there", elem_id="force-button", size="md", min_width=160)
    parts["forced_md"] = _md(render_force.NO_FORCE, "forced-note")
    parts["forced_df"] = _table(
        "Before and after forcing (⚑ the forced step, ≠ a changed word)", "forced-table", max_height=420
    )
    gr.Markdown(page_text.TREE)
    return dict(
        parts,
        tree_button=gr.Button("Draw the beam tree", elem_id="tree-button", size="md"),
        tree_md=_md(page_text.PRESS_TREE, "tree-note"),
        tree_plot=_plot("tree-plot"),
        tree_df=_table(
            "Every beam at every step: word, log p so far, ← the beam it extends", "tree-table", max_height=360
        ),
    )


def _lessons(evaluation: dict | None) -> dict:
    """The lessons of the whole batch: the padded batch and its loss, packing, what batching costs, reliability."""
    gr.Markdown(page_text.PADDED_BATCH)
    parts = dict(
        batch_html=gr.HTML(elem_id="batch-matrix"),
        loss_df=_table(
            "Loss of the exact doubling, per sentence", "losses", column_widths=["6%", "46%", "8%", "10%", "15%", "15%"]
        ),
        loss_md=_md(),
    )
    gr.Markdown(page_text.UNPACKED)
    parts["unpack_button"] = gr.Button("Run my batch without packing", elem_id="unpack-button", size="md")
    parts["unpacked_md"] = _md(page_text.PRESS_UNPACKED, "unpacked-note")
    parts["unpacked_df"] = _table(
        "Each row's final encoder state and output, with and without packing",
        "unpacked",
        column_widths=render_lessons.UNPACKED_WIDTHS,
    )
    parts["mask_md"] = _md(elem_id="mask-note")
    gr.Markdown(page_text.BATCHING)
    parts["cost_md"] = _md(elem_id="cost-note")
    parts["cost_plot"] = _plot("cost-plot")
    gr.Markdown(page_text.RELIABILITY, elem_id=render.RELIABILITY_ANCHOR)
    parts["reliability_md"] = _md(render_lessons.NO_EVALUATION if evaluation is None else "", "reliability-note")
    parts["reliability_plot"] = _plot(
        "reliability-plot",
        render_lessons.reliability_figure(grid(evaluation)) if evaluation else None,
        visible=evaluation is not None,
    )
    return parts


def _md(value: str = "", elem_id: str | None = None, heading: str | None = None) -> gr.Markdown:
    if heading:
        gr.Markdown(heading)
    return gr.Markdown(value, elem_id=elem_id, elem_classes="note")


def _table(label: str, elem_id: str, **kwargs) -> gr.Dataframe:
    return gr.Dataframe(label=label, elem_id=elem_id, interactive=False, wrap=True, **kwargs)


def _plot(elem_id: str, value=None, visible: bool = True) -> gr.Plot:
    return gr.Plot(
        value, show_label=False, elem_id=elem_id, visible=visible, format="png"
    )  # faster to encode than webp
