"""Word Doubler: the Gradio page and API — many sentences in one padded batch, and what the decoder believed at every step."""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported: nothing leaves the machine

import math
import warnings
from collections import Counter

import gradio as gr
import matplotlib

matplotlib.use("Agg")  # draw into images; the server has no display
# Words in scripts or emoji the plot font lacks draw as boxes (the tables show them); do not log every one.
warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font", category=UserWarning)
import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from s2s import WordDoubler
from s2s.batch_view import BatchView, batch_view, expected_per_step
from s2s.batcher import MicroBatcher
from s2s.compare import compare
from s2s.hub import configured_model
from s2s.limits import (DEFAULT_BEAM_WIDTH, DEFAULT_TOP_K, MAX_BEAM_WIDTH, MAX_CHARS, MAX_COMPARE_SENTENCES,
                        MAX_SENTENCES, MAX_TOP_K, MIN_BEAM_WIDTH, MIN_TOP_K, split_lines)
from s2s.tokenizer import EOS

# --- the model, loaded once ---

# Env S2S_MODEL / S2S_REVISION (a Space's variables), else the model a built Space pins (pinned_model.json), else weights/.
wd, MODEL_WARNING = WordDoubler.from_pretrained_or_bundled(*configured_model())
# Concurrent users' requests share forward passes; the worker thread starts with the first request.
batcher = MicroBatcher(wd.double_batch)

BLOG_SENTENCES = ["My name is Sunil", "I'm Deep Learning Geek", "I love CUDA", "I love Pytorch", "TF is Aww"]
CONFIDENCE = {"p ≥ 0.9": "#22c55e", "0.5 ≤ p < 0.9": "#f59e0b", "p < 0.5": "#ef4444"}
RESULT_HEADERS = ["#", "input", "output", "words in → out", "lowest step p", "exact"]
FIGURE_ROWS = 12  # the padded-batch figure draws at most this many rows; the tables hold them all


# --- the API: text in, the library's results out ---


def _whole(number):
    """A slider or a JSON client may send 5.0 for 5; anything else goes to the library's check as it came."""
    return int(number) if isinstance(number, float) and number.is_integer() else number


def double(text: str, top_k: int, beam_width: int = DEFAULT_BEAM_WIDTH) -> tuple[list[dict], dict]:
    """The /double endpoint: one sentence per line -> a list of `DoubleResult.to_dict()`.

    The second value goes to a gr.State, which the page reads and API clients never see.
    """
    top_k, beam_width = _whole(top_k), _whole(beam_width)
    try:
        results, info = batcher.double_with_info(split_lines(text), top_k, beam_width)
    except ValueError as error:  # the library's message names the limit
        raise gr.Error(str(error), print_exception=False) from None
    dicts = [r.to_dict() for r in results]
    return dicts, {"results": dicts, "top_k": top_k, "beam_width": beam_width, "batch": vars(info)}


# --- rendering: tables, figures and notes from results ---


def results_table(results: list[dict]) -> pd.DataFrame:
    rows = [
        [
            i,
            r["input"],
            r["output"],
            f"{len(r['input'].split())} → {len(r['output'].split())}",
            f"{r['min_prob']:.3f}",
            "✓" if r["is_exact"] else "✗",
        ]
        for i, r in enumerate(results, 1)
    ]
    return pd.DataFrame(rows, columns=RESULT_HEADERS)


def sentence_choices(results: list[dict]) -> list[tuple[str, int]]:
    return [(f"{i}. {r['input'][:80]}", i - 1) for i, r in enumerate(results, 1)]


def _expected_per_step(result: dict) -> list[str]:
    return expected_per_step(result["input"], [step["chunk"] for step in result["steps"]], wd.max_src_len)


def step_table(result: dict) -> pd.DataFrame:
    """Step, emitted word, its p, and the top-k candidates with the chosen one marked ▶."""
    k = max((len(s["top_k"]) for s in result["steps"]), default=0)
    rows = []
    for n, (step, want) in enumerate(zip(result["steps"], _expected_per_step(result)), 1):
        candidates = [f"{'▶ ' if w == step['token'] else ''}{w}  {p:.3f}" for w, p in step["top_k"]]
        rows.append(
            [n, step["chunk"] + 1, want, step["token"], f"{step['prob']:.4f}", "✓" if step["token"] == want else "✗"]
            + candidates
            + [""] * (k - len(candidates))
        )
    columns = ["step", "chunk", "expected", "emitted", "p", "ok"] + [f"top {i}" for i in range(1, k + 1)]
    return pd.DataFrame(rows, columns=columns)


def _confidence(p: float) -> str:
    names = list(CONFIDENCE)
    return names[0] if p >= 0.9 else names[1] if p >= 0.5 else names[2]


def confidence_text(result: dict) -> list[tuple[str, str]]:
    """The output, word by word, labelled by how sure the decoder was of each."""
    return [(s["token"], _confidence(s["prob"])) for s in result["steps"] if s["token"] != EOS]


def _plain(labels) -> None:
    """Tick labels drawn as plain text: user words may hold `$`, which matplotlib would read as maths."""
    for label in labels:
        label.set_parse_math(False)


def step_plot(result: dict) -> Figure:
    """Top: p of each emitted word (green right, red wrong). Bottom: the top-k probabilities per step."""
    steps = result["steps"]
    expected = _expected_per_step(result)
    n = len(steps)
    k = max(len(s["top_k"]) for s in steps)
    probs = [[s["top_k"][r][1] if r < len(s["top_k"]) else 0.0 for s in steps] for r in range(k)]  # (k, n)
    width = min(16.0, max(7.0, 0.32 * n + 2.0))
    fig = Figure(figsize=(width, 2.6 + 0.32 * k), dpi=110, layout="constrained")
    top, bottom = fig.subplots(2, 1, height_ratios=[1.1, max(1.0, 0.35 * k)], sharex=True)

    colors = ["#22c55e" if s["token"] == w else "#ef4444" for s, w in zip(steps, expected)]
    top.bar(range(n), [s["prob"] for s in steps], color=colors, width=0.8)
    top.set_ylim(0, 1.05)
    top.set_ylabel("p(emitted)")
    top.set_title("Each step: probability of the emitted word (red: not the exact doubling's word)", fontsize=9, loc="left")
    top.grid(axis="y", alpha=0.3)

    image = bottom.imshow(probs, aspect="auto", cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
    bottom.set_yticks(range(k), [f"top {r + 1}" for r in range(k)], fontsize=8)
    bottom.set_xticks(range(n), [s["token"] for s in steps], rotation=90, fontsize=8)
    _plain(bottom.get_xticklabels())
    bottom.set_title("Top-k candidates per step (colour = probability)", fontsize=9, loc="left")
    if n <= 40:  # name each candidate while the cells are wide enough to read
        flat = n <= 16
        for col, s in enumerate(steps):
            for row, (word, p) in enumerate(s["top_k"]):
                bottom.text(col, row, word[: 8 if flat else 6], ha="center", va="center", fontsize=7 if flat else 6,
                            rotation=0 if flat else 90, color="white" if p > 0.6 else "#1f2937", parse_math=False)
    fig.colorbar(image, ax=bottom, fraction=0.02, pad=0.01)
    return fig


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
        fig = Figure(figsize=(width, 1.2 + row_h * shown), dpi=110, layout="constrained")
        src_ax, tgt_ax = fig.subplots(1, 2, width_ratios=[max(t, 2), max(s, 4) * 0.8])
        src_w = (width - labels) * max(t, 2) / (max(t, 2) + max(s, 4) * 0.8)
        tgt_w = width - labels - src_w
    else:
        fig = Figure(figsize=(width, 1.8 + 2 * row_h * shown), dpi=110, layout="constrained")
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
        rows.append([i + 1, sentence, view.row_sentence.count(i), count, f"{loss:.4f}", f"{math.exp(-loss * count):.3f}"])
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


def run_note(results: list[dict], view: BatchView, batch: dict, beam_width: int) -> str:
    # Decode steps of the batch: its longest row (a row is a sentence, or one chunk of a long one).
    steps = max(max(Counter(s["chunk"] for s in r["steps"]).values()) for r in results)
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
        f"| device | {wd.device} |\n"
        f"| other users | {shared} |\n"
    )


def compare_note(results: list[dict], top_k: int, beam_width: int, enabled: bool) -> str:
    if not enabled:
        return "*Tick “Compare with one-at-a-time” to also run each sentence alone and time both ways.*"
    # Bounded: one-at-a-time runs outside the micro-batcher, so it must not let a visitor buy minutes of CPU.
    sentences = [r["input"] for r in results][:MAX_COMPARE_SENTENCES]
    c = compare(wd, sentences, top_k, beam_width)
    same = "yes, every sentence" if c.identical else f"no — sentences {', '.join(str(i + 1) for i in c.mismatches)} differ"
    cap = (f"\n\n*The comparison ran the first {MAX_COMPARE_SENTENCES} of your {len(results)} sentences "
           f"(at most {MAX_COMPARE_SENTENCES}: each one alone costs a whole decoder pass).*"
           if len(results) > MAX_COMPARE_SENTENCES else "")
    return (
        "| batched | one at a time | speed-up | identical |\n|---|---|---|---|\n"
        f"| {c.batched_ms:.1f} ms | {c.one_at_a_time_ms:.1f} ms | **{c.speedup:.1f}×** | {same} |" + cap
    )


def show_sentence(state: dict | None, index: int | None):
    """Everything about one sentence: its output coloured by confidence, the per-step table, the plot."""
    if not state or not state.get("results"):
        return None, None, None
    results = state["results"]
    result = results[index if isinstance(index, int) and 0 <= index < len(results) else 0]
    return confidence_text(result), step_table(result), step_plot(result)


def show_run(state: dict, compare_on: bool):
    """After /double: the whole page from its results."""
    results = state["results"]
    view = batch_view(wd, [r["input"] for r in results])
    highlighted, steps, plot = show_sentence(state, 0)
    return (
        results_table(results),
        gr.Dropdown(choices=sentence_choices(results), value=0, interactive=True),
        highlighted,
        steps,
        plot,
        run_note(results, view, state["batch"], state["beam_width"]),
        compare_note(results, state["top_k"], state["beam_width"], compare_on),
        padded_batch_figure(view),
        loss_table(view),
        loss_note(view),
    )


def model_note() -> str:
    info = wd.describe()
    source = str(info["source"]).replace("`", "'")
    lines = [
        f"**Model** `{source}`  ·  {info['parameters']:,} parameters  ·  vocabulary {info['vocabulary_words']:,} words "
        f"+ {wd.tokenizer.num_slots} slots for any other word  ·  "
        f"batch rows of at most {info['max_src_len']} word{'s' if info['max_src_len'] != 1 else ''}  ·  "
        f"device `{info['device']}`  ·  limits: {MAX_SENTENCES} sentences, {MAX_CHARS:,} characters per request"
    ]
    # Which weights serve: a Hub revision can move, so the commit is what identifies them; the file's sha256 is the
    # id the Hub shows for model.safetensors, so bundled weights can be matched to a commit as well.
    commit = f"commit `{info['commit']}`" if info["commit"] else "no Hub commit"
    lines.append(f"**Served from** {info['origin']}  ·  {commit}  ·  `model.safetensors` sha256 `{info['sha256']}`")
    if MODEL_WARNING:
        lines.append("⚠️ " + MODEL_WARNING.replace("`", "'"))
    return "\n\n".join(lines)


# --- the page ---

INTRO = """# Word Doubler
A GRU encoder–decoder that writes every word twice — `I love CUDA` → `I I love love CUDA CUDA` — and a live lesson in
**batching**: all your sentences are padded into one tensor and decoded together, the loss ignores the padding,
and you can see what the decoder believed at every step. One sentence per line."""

API_NOTE = """```python
from gradio_client import Client
client = Client("http://127.0.0.1:7860/")
results = client.predict("I love CUDA\\nTF is Aww", 5, api_name="/double")  # top-k 5
results[0]["output"]  # 'I I love love CUDA CUDA'
client.predict("I love CUDA", 5, 1, api_name="/double")  # a third value sets the beam width (1 = greedy)
```"""

CSS = """
.gradio-container { max-width: 1200px !important; margin: auto; }
#run-note table, #compare-note table { width: auto; }
#double-button { min-height: 3rem; }
"""
THEME = gr.themes.Soft(primary_hue="indigo", secondary_hue="sky")

with gr.Blocks(title="Word Doubler", analytics_enabled=False) as demo:
    state = gr.State()
    gr.Markdown(INTRO)
    if MODEL_WARNING:  # the configured model could not be had: say so where people look first
        gr.Markdown("⚠️ " + MODEL_WARNING.replace("`", "'"))
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            text = gr.Textbox(
                value="\n".join(BLOG_SENTENCES),
                label="Sentences",
                info=f"One sentence per line; up to {MAX_SENTENCES} sentences and {MAX_CHARS:,} characters. "
                "Any word works: names, numbers, emoji.",
                lines=6,
                max_lines=16,
                placeholder="I love CUDA\nTF is Aww",
            )
        with gr.Column(scale=1, min_width=260):
            top_k = gr.Slider(MIN_TOP_K, MAX_TOP_K, value=DEFAULT_TOP_K, step=1, precision=0, label="Top-k candidates per step")
            beam_width = gr.Slider(MIN_BEAM_WIDTH, MAX_BEAM_WIDTH, value=DEFAULT_BEAM_WIDTH, step=1, precision=0,
                                   label="Beam width", info="Partial doublings kept per sentence; 1 = greedy.")
            compare_on = gr.Checkbox(label="Compare with one-at-a-time", info="Also run each sentence alone: the blog's speed-up, live.")
            button = gr.Button("Double", variant="primary", elem_id="double-button")
    gr.Examples(
        examples=[[s] for s in BLOG_SENTENCES] + [["\n".join(BLOG_SENTENCES)]],
        inputs=[text],
        label="Examples from the blog (the last one loads all five)",
    )

    results_df = gr.Dataframe(headers=RESULT_HEADERS, label="Results", interactive=False, wrap=True, elem_id="results",
                              column_widths=["5%", "32%", "38%", "10%", "9%", "6%"])
    with gr.Row(equal_height=False):
        with gr.Column():
            gr.Markdown("### How the batch ran")
            run_md = gr.Markdown("*Press **Double** to run.*", elem_id="run-note")
        with gr.Column():
            gr.Markdown("### Batched vs one at a time")
            compare_md = gr.Markdown(compare_note([], DEFAULT_TOP_K, DEFAULT_BEAM_WIDTH, False), elem_id="compare-note")

    gr.Markdown("## Step by step\nThe decoder emits one word per step; these are its top-k candidates at each step. "
                "With a beam wider than 1, ▶ marks the word the search kept, which need not be the top candidate.")
    sentence = gr.Dropdown(label="Sentence", choices=[], interactive=True)
    highlighted = gr.HighlightedText(label="Output, coloured by the decoder's confidence", color_map=CONFIDENCE, show_legend=True)
    steps_df = gr.Dataframe(label="Per-step probabilities (▶ = the word emitted)", interactive=False, max_height=420,
                            elem_id="steps")
    steps_plot = gr.Plot(label="Probabilities per step", show_label=False)

    gr.Markdown("## The padded batch\nWhat the model saw: every sentence (or chunk of a long one) is a row, padded on the right "
                "to the longest; the targets are the exact doubling plus `<eos>`, scored under the model with teacher forcing.")
    batch_plot = gr.Plot(label="Padded batch and loss mask", show_label=False)
    loss_df = gr.Dataframe(label="Loss of the exact doubling, per sentence", interactive=False, wrap=True)
    loss_md = gr.Markdown()

    with gr.Accordion("API: what client.predict returns", open=False):
        gr.Markdown(API_NOTE)
        api_json = gr.JSON(label="Response of /double")
    with gr.Accordion("Model", open=False):
        gr.Markdown(model_note())

    # preprocess=False: the library, not the sliders, checks top_k and beam_width, so API clients get its message.
    button.click(
        double,
        inputs=[text, top_k, beam_width],
        outputs=[api_json, state],
        api_name="double",
        preprocess=False,
        concurrency_limit=32,
        concurrency_id="double",
    ).success(
        show_run,
        inputs=[state, compare_on],
        outputs=[results_df, sentence, highlighted, steps_df, steps_plot, run_md, compare_md, batch_plot, loss_df, loss_md],
        api_visibility="private",
        concurrency_limit=4,
    )
    sentence.input(show_sentence, inputs=[state, sentence], outputs=[highlighted, steps_df, steps_plot], api_visibility="private")

if __name__ == "__main__":
    demo.launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        theme=THEME,
        css=CSS,
    )
