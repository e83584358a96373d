"""Word Doubler: the Gradio page and API — many sentences in one padded batch, and what the decoder believed at every
step."""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported: nothing leaves the machine
# Gradio's queue summarizes its last 10,000 events with pandas after every event, for a monitoring page this app does
# not offer: 1-7 ms holding the GIL each time (7 at 10,000 events), in a thread beside the event loop. Once in 1,000.
os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")

import gradio as gr
import orjson
from starlette.middleware import Middleware

from s2s import WordDoubler, limits
from s2s.hub import configured_model
from s2s.lessons.reliability import load_evaluation
from s2s.limits import (
    DEFAULT_BEAM_WIDTH,
    DEFAULT_TOP_K,
    MAX_CHARS,
    MAX_FILE_SIZE,
    MAX_QUEUED_REQUESTS,
    MAX_SENTENCES,
    SESSION_CAPACITY,
    split_lines,
)
from s2s.page import layout, page_style, render, render_force, views
from s2s.serve import gradio_patches, heap
from s2s.serve.batcher import MicroBatcher
from s2s.serve.guard import API_NAME, PAGE_API_NAME, RequestGuard, whole

heap.give_memory_back()  # free memory goes back to the system 4 times a second: RSS stays near what sessions hold
# Env S2S_MODEL / S2S_REVISION (a Space's variables), else the model a built Space pins (pinned_model.json), else
# weights/.
wd, MODEL_WARNING = WordDoubler.from_pretrained_or_bundled(*configured_model())
# Concurrent users' requests share forward passes; the worker thread starts with the first request.
batcher = MicroBatcher(wd.double_batch)
# Where the model is reliable: `python -m s2s.evaluate --write-card` saves it beside the weights (None without it).
EVALUATION = load_evaluation(wd.loaded_from.path if wd.loaded_from else None)

LIMITS = f"{MAX_SENTENCES} sentences, {MAX_CHARS:,} characters per request"


def double(text: str, top_k: int, beam_width: int = DEFAULT_BEAM_WIDTH) -> list[dict]:
    """Say every word of each sentence twice with a GRU encoder-decoder: "I love CUDA" -> "I I love love CUDA CUDA".

    All sentences are decoded together in one padded batch; each comes out as it would alone. Deterministic. Any
    word works (names, numbers, emoji, other scripts): words the model's vocabulary lacks are copied through.
    Limits: {MAX_SENTENCES} sentences, {MAX_CHARS} characters and {MAX_WORDS_PER_SENTENCE} words per sentence
    in one call; a call over a limit, or with no words, fails with a message naming the limit.

    Args:
        text: The sentences, one per line; blank lines are skipped.
        top_k: How many of the decoder's best candidate words to report at each step, {MIN_TOP_K} to {MAX_TOP_K}.
        beam_width: Doublings the beam search keeps per sentence, {MIN_BEAM_WIDTH} to {MAX_BEAM_WIDTH}; 1 = greedy.

    Returns:
        One object per sentence: input, output, is_exact, min_prob, chunks, and steps (token, prob, top_k, chunk).
    """
    # The answer is JSON already made (an orjson.Fragment): Gradio's result streams embed it as it is
    # (s2s/serve/plain_json.py), where they would walk its ~10,000 values on the server's event loop.
    return gradio_patches.json_answer(answer(text, top_k, beam_width)[0])


def double_on_page(text: str, top_k: int, beam_width: int = DEFAULT_BEAM_WIDTH) -> tuple[orjson.Fragment, dict]:
    """The page's run of /double: the same answer, and for a gr.State, which the page reads, the results as the same
    JSON string (a session keeps them to redraw; a string is ~5x smaller than the same dicts). Its own private
    event, so that /double keeps no state: MCP tools and API clients get the answer alone."""
    made, run = answer(text, top_k, beam_width)
    return gradio_patches.json_answer(made), {"results": made.decode(), **run}


def answer(text: str, top_k, beam_width) -> tuple[bytes, dict]:
    """The results of one request as JSON, serialized once, in its worker thread; and how it ran."""
    top_k, beam_width = whole(top_k), whole(beam_width)
    try:
        results, info = batcher.double_with_info(split_lines(text), top_k, beam_width)
    except ValueError as error:  # the library's message names the limit
        raise gr.Error(str(error), print_exception=False) from None
    except Exception as error:  # Gradio would answer {"error": null}; say what failed, never a path or a traceback
        raise gr.Error(f"the model failed on this request ({type(error).__name__}); please try again") from error
    return orjson.dumps([r.to_dict() for r in results]), {"top_k": top_k, "beam_width": beam_width, "batch": vars(info)}


# What "Use via API" and MCP clients read: the limits as they are, from s2s.limits.
double.__doc__ = double.__doc__.format(**vars(limits))


# --- the page's handlers: s2s.page.views computes and draws each view by name, page.shown maps names to components


def on_page(values: dict) -> dict:
    return {page.shown[name]: value for name, value in values.items()}


def show_run(state: dict, compare_on: bool) -> dict:
    results = views.results_of(state)
    values = views.run_view(wd, results, state["top_k"], state["beam_width"], state["batch"], EVALUATION, compare_on)
    chart = values.pop("reliability_plot")  # None when the model came without an evaluation: hide the box
    return {
        **on_page(values),
        page.reliability_plot: gr.Plot(chart, visible=chart is not None),
        page.api_json: gr.JSON(*views.api_preview(results)),
        page.sentence: gr.Dropdown(choices=render.sentence_choices(results), value=0, interactive=True),
    }


def show_sentence(state: dict | None, index: int | None) -> dict:
    return on_page(views.sentence_view(wd, views.chosen(views.results_of(state), index)))


def force_at(state: dict | None, index: int | None, step: int | None, word: str | None) -> dict:
    return forced(state, views.chosen(views.results_of(state), index), step, word)


def forced(state: dict | None, result: dict | None, step: int | None, word: str | None) -> dict:
    """The chosen sentence re-decoded with `word` forced at `step`, at the width and top-k of its run."""
    top_k, beam = (state["top_k"], state["beam_width"]) if state else (DEFAULT_TOP_K, DEFAULT_BEAM_WIDTH)
    return on_page(views.force_view(wd, result, step, word, top_k, beam))


def force_at_cell(state: dict | None, index: int | None, evt: gr.SelectData) -> dict:
    """A click on a cell of the per-step table: that step, that candidate, re-decoded at once."""
    result = views.chosen(views.results_of(state), index)  # the state's JSON, parsed once for all of this
    step, word = render_force.cell_choice(result, evt.index, wd.max_src_len)
    choices = render_force.force_choices(result, step, wd.max_src_len)
    shown = forced(state, result, step, word) if word else {}
    return {**shown, page.force_step: step, page.force_word: gr.Dropdown(choices=choices, value=word)}


def pick_force_step(state: dict | None, index: int | None, step: int | None) -> gr.Dropdown:
    choices = render_force.force_choices(views.chosen(views.results_of(state), index), step, wd.max_src_len)
    return gr.Dropdown(choices=choices, value=None)


def show_tree(state: dict | None, index: int | None) -> dict:
    beam = state["beam_width"] if state else DEFAULT_BEAM_WIDTH
    return on_page(views.tree_view(wd, views.chosen(views.results_of(state), index), beam))


def show_unpacked(state: dict | None) -> dict:
    beam = state["beam_width"] if state else DEFAULT_BEAM_WIDTH
    return on_page(views.unpacked_views(wd, views.results_of(state), beam))


with gr.Blocks(title="Word Doubler", analytics_enabled=False) as demo:
    state = gr.State()
    page = layout.build(wd, EVALUATION, MODEL_WARNING, LIMITS)
    # /double for programs and MCP clients: typed by its hints, no components, no state (gr.api neither preprocesses
    # nor postprocesses: the library checks top_k and beam_width, so clients get its message). The page's run is
    # its own private event, in the same concurrency group; s2s/serve/guard.py checks both before they queue.
    gr.api(double, api_name=API_NAME, concurrency_limit=32, concurrency_id="double")
    page.button.click(
        double_on_page,
        inputs=[page.text, page.top_k, page.beam_width],
        outputs=[page.api_json, state],
        api_name=PAGE_API_NAME,
        api_visibility="private",
        preprocess=False,
        concurrency_limit=32,
        concurrency_id="double",
    ).success(
        show_run,
        inputs=[state, page.compare_on],
        outputs=[*page.shown.values(), page.api_json, page.sentence],
        api_visibility="private",
        concurrency_limit=4,
    )
    page.sentence.input(
        show_sentence,
        inputs=[state, page.sentence],
        outputs=[
            page.highlighted,
            page.steps_df,
            page.steps_plot,
            page.tree_plot,
            page.tree_df,
            page.tree_md,
            page.forced_md,
            page.forced_df,
        ],
        api_visibility="private",
    )
    # Forcing a word: one pass of one sentence, only when asked for (as the tree's).
    page.steps_df.select(
        force_at_cell,
        inputs=[state, page.sentence],
        outputs=[page.forced_md, page.forced_df, page.force_step, page.force_word],
        api_visibility="private",
        concurrency_limit=2,
        concurrency_id="extra",
    )
    page.force_step.input(
        pick_force_step,
        inputs=[state, page.sentence, page.force_step],
        outputs=[page.force_word],
        api_visibility="private",
    )
    for trigger in (page.force_button.click, page.force_word.input):
        trigger(
            force_at,
            inputs=[state, page.sentence, page.force_step, page.force_word],
            outputs=[page.forced_md, page.forced_df],
            api_visibility="private",
            concurrency_limit=2,
            concurrency_id="extra",
        )
    page.tree_button.click(
        show_tree,
        inputs=[state, page.sentence],
        outputs=[page.tree_plot, page.tree_df, page.tree_md],
        api_visibility="private",
        concurrency_limit=2,
        concurrency_id="extra",
    )
    page.unpack_button.click(
        show_unpacked,
        inputs=[state],
        outputs=[page.unpacked_df, page.unpacked_md],
        api_visibility="private",
        concurrency_limit=2,
        concurrency_id="extra",
    )

# Past the bound a request is told "busy" at once (s2s/serve/guard.py, before Gradio's own 503) instead of waiting
# minutes.
# Events without their own limit (choosing a sentence, a step to force) draw tables and a plot: a few at once,
# where Gradio's default of 1 would make every visitor's choice wait behind another's.
demo.queue(max_size=MAX_QUEUED_REQUESTS, default_concurrency_limit=4)
gradio_patches.install()  # lazy session configs, JSON answers made once; on another Gradio none (one warning)


def launch_kwargs() -> dict:
    """What every launch of this app passes (python app.py, the tests' server): memory and request bounds.

    A fresh dict each time: Gradio writes its lifespan into app_kwargs. /double is also an MCP tool (at
    /gradio_api/mcp/, described by its docstring; measured free at start-up and per request): GRADIO_MCP_SERVER=False
    turns that off."""
    return dict(
        theme=layout.THEME,
        css=page_style.CSS,
        state_session_capacity=SESSION_CAPACITY,
        max_file_size=MAX_FILE_SIZE,
        app_kwargs={"middleware": [Middleware(RequestGuard)]},
        mcp_server=os.environ.get("GRADIO_MCP_SERVER", "True").lower() != "false",
    )


if __name__ == "__main__":
    demo.launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        prevent_thread_lock=True,
        **launch_kwargs(),
    )
    heap.shorten_collector_pauses()  # collections then skip start-up's objects: pauses of ms, not 0.3 s
    demo.block_thread()
