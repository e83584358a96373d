"""What each event of the page shows, by name: the library computes, `s2s.page.render*` draws, app.py maps the names
onto its components. Plain values only (tables, figures, Markdown, HTML), no Gradio: each view is testable alone.

`results` are the dicts /double returned (`DoubleResult.to_dict()`), as the page's state keeps them.
"""

from __future__ import annotations

import json

from ..doubler import WordDoubler
from ..lessons.batch_cost import as_sent, length_buckets, row_steps
from ..lessons.batch_view import batch_view
from ..lessons.beam_tree import beam_trees
from ..lessons.compare import compare
from ..lessons.reliability import assess, grid
from ..lessons.unpacked import unpacked_view
from ..limits import MAX_COMPARE_SENTENCES
from . import page_text, render, render_batch, render_force, render_lessons, render_search

# Results the page's JSON view keeps once the run is drawn: the shape of the answer, not a second copy of it
# (128 results with top-10 lists are ~6 MB of objects that a session would otherwise hold until it is evicted).
API_PREVIEW = 3


def api_preview(results: list[dict]) -> tuple[list[dict], str]:
    """The results the page's JSON view shows, and its label."""
    if len(results) <= API_PREVIEW:
        return results, "Response of /double"
    return results[:API_PREVIEW], (
        f"Response of /double: the first {API_PREVIEW} of {len(results)} results shown "
        "(client.predict returns them all)"
    )


def results_of(state: dict | None) -> list[dict]:
    """The results a page's state holds (the list /double returned, kept as one JSON string), or [] before a run."""
    return json.loads(state["results"]) if state and state.get("results") else []


def chosen(results: list[dict], index) -> dict | None:
    """The result the sentence dropdown names (the first when the index is stale or missing); None before a run."""
    if not results:
        return None
    return results[index if isinstance(index, int) and 0 <= index < len(results) else 0]


def sentence_view(wd: WordDoubler, result: dict | None) -> dict:
    """One sentence: its output coloured by confidence, the per-step table and plot; its beam tree waits for a press."""
    cleared = {
        "tree_plot": None,
        "tree_table": None,
        "tree_note": page_text.PRESS_TREE,
        "forced_note": render_force.NO_FORCE,
        "forced_table": None,
    }
    if result is None:
        return {"highlighted": None, "steps_table": None, "steps_plot": None, **cleared}
    return {
        "highlighted": render.confidence_text(result),
        "steps_table": render.step_table(result, wd.max_src_len),
        "steps_plot": render.step_plot(result, wd.max_src_len),
        **cleared,
    }


def compare_view(wd: WordDoubler, results: list[dict], top_k: int, beam_width: int, enabled: bool) -> str:
    if not enabled:
        return page_text.PRESS_COMPARE
    # Bounded: one-at-a-time runs outside the micro-batcher, so it must not let a visitor buy minutes of CPU.
    sentences = [r["input"] for r in results]
    return render_batch.compare_note(compare(wd, sentences[:MAX_COMPARE_SENTENCES], top_k, beam_width), len(sentences))


def run_view(
    wd: WordDoubler,
    results: list[dict],
    top_k: int,
    beam_width: int,
    batch: dict,
    evaluation: dict | None,
    compare_on: bool,
) -> dict:
    """After /double, the default view from its results: one teacher-forced pass for the losses, no more.

    batch: how the request ran (the micro-batcher's `BatchInfo` as a dict); evaluation: the shipped model's
    `s2s.evaluate` results, or None.
    """
    sentences = [r["input"] for r in results]
    view = batch_view(wd, sentences)
    steps = row_steps(results)
    sent, bucketed = as_sent(view.lengths, steps, beam_width), length_buckets(view.lengths, steps, beam_width)
    assessed = [assess(s, wd.tokenizer, evaluation) for s in sentences]
    g = grid(evaluation) if evaluation else None
    marks = list(zip(assessed, [r["is_exact"] for r in results]))
    return {
        "results_table": render.results_table(results),
        "wrong_note": render_lessons.wrong_note(results, assessed, g),
        "run_note": render_batch.run_note(results, view, batch, beam_width, str(wd.device)),
        "compare_note": compare_view(wd, results, top_k, beam_width, compare_on),
        "batch_matrix": render_batch.padded_batch_html(view),
        "loss_table": render_batch.loss_table(view),
        "loss_note": render_batch.loss_note(view),
        "unpacked_table": None,
        "unpacked_note": page_text.PRESS_UNPACKED,
        "mask_note": render_lessons.mask_note(view.masked_loss, view.unmasked_loss, view.masked_cells),
        "cost_note": render_batch.batching_note(sent, bucketed),
        "cost_plot": render_batch.batching_figure(sent, bucketed),
        "reliability_plot": render_lessons.reliability_figure(g, marks) if g else None,
        "reliability_note": render_lessons.reliability_note(results, assessed, g),
        **sentence_view(wd, results[0] if results else None),
    }


# The two extra views cost one pass each, of at most the request's own size (128 sentences x the widest beam
# is the micro-batcher's cap on a merged pass), and only when asked for.


def tree_view(wd: WordDoubler, result: dict | None, beam_width: int) -> dict:
    if result is None:
        return {"tree_plot": None, "tree_table": None, "tree_note": page_text.PRESS_DOUBLE}
    trees = beam_trees(wd, result["input"], beam_width)
    return {
        "tree_plot": render_search.tree_figure(trees),
        "tree_table": render_search.tree_table(trees),
        "tree_note": render_search.tree_note(trees),
    }


def unpacked_views(wd: WordDoubler, results: list[dict], beam_width: int) -> dict:
    if not results:
        return {"unpacked_table": None, "unpacked_note": page_text.PRESS_DOUBLE}
    view = unpacked_view(wd, [r["input"] for r in results], beam_width)
    return {
        "unpacked_table": render_lessons.unpacked_table(view, results),
        "unpacked_note": render_lessons.unpacked_note(view, results),
    }


def force_view(wd: WordDoubler, result: dict | None, step, word: str | None, top_k: int, beam_width: int) -> dict:
    """The sentence re-decoded with `word` forced at 1-based `step` (one pass of one sentence), beside its run.
    A step or word that cannot be forced gets its reason in the note; nothing raises."""
    if result is None:
        return {"forced_note": page_text.PRESS_DOUBLE, "forced_table": None}
    if not isinstance(step, int) or not 1 <= step <= len(result["steps"]) or not word:
        return {
            "forced_note": f"Choose a step from 1 to {len(result['steps'])} and a word to force there.",
            "forced_table": None,
        }
    chunk, before = render_force.forced_steps(result, step - 1)
    try:
        forced = wd.force(result["input"], before + [word], chunk=chunk, top_k=top_k, beam_width=beam_width).to_dict()
    except ValueError as error:
        return {"forced_note": f"Cannot force `{word}` at step {step}: {error}.", "forced_table": None}
    return {
        "forced_note": render_force.forced_note(result, forced, step - 1, word, wd.max_src_len),
        "forced_table": render_force.forced_table(result, forced, step - 1, wd.max_src_len),
    }
