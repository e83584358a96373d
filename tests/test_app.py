"""The functions behind the page, called directly: a 3-sentence batch builds every table and figure."""

import gradio as gr
import orjson
import pytest
from matplotlib.figure import Figure

from s2s.lessons.batch_view import batch_view
from s2s.page import render, views

TEXT = "I love CUDA\n  TF is Aww  \n\nMy name is Sunil"
SENTENCES = ["I love CUDA", "TF is Aww", "My name is Sunil"]


def double(app_module, *values):
    """app.double's answer as a client reads it (it hands Gradio JSON already made, an orjson.Fragment), and its
    state."""
    answer, state = app_module.double_on_page(*values)
    assert orjson.dumps(app_module.double(*values)) == orjson.dumps(answer)  # /double: the same answer, no state
    assert isinstance(answer, orjson.Fragment)
    return orjson.loads(orjson.dumps(answer)), state


@pytest.fixture(scope="module")
def run(app_module):
    dicts, state = double(app_module, TEXT, 3)
    return dicts, state, app_module.show_run(state, True)


def test_double_returns_one_result_per_line(run, app_module):
    dicts, state, _ = run
    assert [d["input"] for d in dicts] == SENTENCES  # blank lines dropped, spaces trimmed
    assert views.results_of(state) == dicts and state["top_k"] == 3
    assert isinstance(state["results"], str)  # a session keeps one compact string, not every result object
    assert all(len(s["top_k"]) == 3 for d in dicts for s in d["steps"])
    assert dicts == [r.to_dict() for r in app_module.wd.double(SENTENCES, 3)]  # exactly the library's answer


def test_results_table(run, app_module):
    dicts, _, out = run
    results, dropdown = out[app_module.page.results_df], out[app_module.page.sentence]
    assert list(results.columns) == ["#", "input", "output", "words in → out", "lowest step p", "exact"]
    assert results["input"].tolist() == SENTENCES
    assert results["output"].tolist() == [d["output"] for d in dicts]
    assert results["exact"].tolist() == ["✓" if d["is_exact"] else "✗" for d in dicts]
    assert results["words in → out"][0] == f"3 → {len(dicts[0]['output'].split())}"
    assert [value for _, value in dropdown.choices] == [0, 1, 2] and dropdown.value == 0


def test_per_step_table_plot_and_confidence(run, app_module):
    dicts, state, out = run
    highlighted, steps, plot = (
        out[app_module.page.highlighted],
        out[app_module.page.steps_df],
        out[app_module.page.steps_plot],
    )
    first = dicts[0]
    assert len(steps) == len(first["steps"])
    assert steps["emitted"].tolist() == [s["token"] for s in first["steps"]]
    assert list(steps.columns[-3:]) == ["top 1", "top 2", "top 3"]
    marked = [[cell.startswith("▶ ") for cell in steps[f"top {r}"]] for r in (1, 2, 3)]
    for i, step in enumerate(first["steps"]):  # ▶ marks exactly the emitted word among the candidates
        in_top = [word == step["token"] for word, _ in step["top_k"]]
        assert [column[i] for column in marked] == in_top
    if (steps["ok"] == "✓").all():  # every step emitted the doubling's word -> the output is exact
        assert first["is_exact"]
    assert [word for word, _ in highlighted] == [s["token"] for s in first["steps"] if s["token"] != "<eos>"]
    assert {label for _, label in highlighted} <= set(render.CONFIDENCE)
    assert isinstance(plot, Figure) and len(plot.axes) >= 2

    # Another sentence from the dropdown.
    shown = app_module.show_sentence(state, 2)
    steps, plot = shown[app_module.page.steps_df], shown[app_module.page.steps_plot]
    assert steps["emitted"].tolist() == [s["token"] for s in dicts[2]["steps"]]
    assert isinstance(plot, Figure)


def test_batch_notes_figure_and_losses(run, app_module):
    _, _, out = run
    run_md, compare_md, batch_matrix = (
        out[app_module.page.run_md],
        out[app_module.page.compare_md],
        out[app_module.page.batch_html],
    )
    losses, loss_md = out[app_module.page.loss_df], out[app_module.page.loss_md]
    assert "| sentences | 3 |" in run_md and "padded batch [B, T]" in run_md and str(app_module.wd.device) in run_md
    assert "speed-up" in compare_md and "ms" in compare_md
    view = batch_view(app_module.wd, SENTENCES)
    assert batch_matrix.count('<td class="pad">') == view.pad_cells + view.masked_cells  # every <pad> cell, grey
    assert batch_matrix.count('<td class="w">') == sum(view.lengths) + sum(map(sum, view.loss_mask))
    assert losses["sentence"].tolist() == SENTENCES
    assert all(float(x) >= 0 for x in losses["loss (mean NLL)"])
    assert "Masked mean" in loss_md and "unmasked mean" in loss_md


def test_the_one_at_a_time_comparison_is_capped_and_says_so(app_module):
    from s2s.limits import MAX_COMPARE_SENTENCES

    results = [{"input": f"I love U{i}"} for i in range(MAX_COMPARE_SENTENCES + 8)]
    note = views.compare_view(app_module.wd, results, 1, 1, True)
    assert f"first {MAX_COMPARE_SENTENCES} of your {MAX_COMPARE_SENTENCES + 8} sentences" in note and "speed-up" in note
    assert "first" not in views.compare_view(app_module.wd, results[:3], 1, 1, True)


def test_user_text_reaches_the_tables_verbatim(app_module):
    hostile = "<img src=x onerror=alert(1)> $x^2$ **bold**"
    dicts, state = double(app_module, hostile, 2)
    results = app_module.show_run(state, False)[app_module.page.results_df]
    assert results["input"][0] == hostile.strip()  # a Dataframe shows text as text: nothing to escape here


def test_greedy_marks_the_best_candidate(app_module):
    _, state = double(app_module, TEXT, 3, 1)
    steps = app_module.show_sentence(state, 0)[app_module.page.steps_df]
    assert all(cell.startswith("▶ ") for cell in steps["top 1"])
    assert not any(cell.startswith("▶") for cell in steps["top 2"])


def test_beam_width_reaches_the_library_and_the_notes(app_module):
    dicts, state = double(app_module, TEXT, 2, 3.0)  # a slider may send 3.0
    assert state["beam_width"] == 3
    assert dicts == [r.to_dict() for r in app_module.wd.double(SENTENCES, 2, beam_width=3)]
    run_md = app_module.show_run(state, False)[app_module.page.run_md]
    assert "beam search: the 3 likeliest" in run_md
    _, greedy_state = double(app_module, TEXT, 2, 1)
    assert "greedy" in app_module.show_run(greedy_state, False)[app_module.page.run_md]


@pytest.mark.parametrize(
    "text, top_k, beam_width, message",
    [
        ("", 5, 1, "no sentences"),
        ("hi", 0, 1, "from 1 to 10"),
        ("hi", 5.5, 1, "whole number"),
        ("hi", 5, 0, "beam_width must be a whole number from 1 to 8"),
        ("hi", 5, 9, "from 1 to 8"),
        ("hi", 5, 2.5, "whole number"),
    ],
)
def test_bad_input_raises_gr_error(app_module, text, top_k, beam_width, message):
    with pytest.raises(gr.Error, match=message):
        double(app_module, text, top_k, beam_width)


def test_model_note_names_source_parameters_and_vocabulary(app_module):
    from s2s.page.render import model_note

    wd = app_module.wd
    info = wd.describe()
    note = model_note(info, wd.tokenizer.num_slots, app_module.LIMITS, app_module.MODEL_WARNING)
    assert f"{info['parameters']:,} parameters" in note and f"{info['vocabulary_words']:,} words" in note


# --- the lessons: the beam tree, forgetting to pack, sorted batching, where the model is reliable ---

LONG = " ".join(f"w{i}" for i in range(60))  # 60 words: three chunks of a row each (max_src_len 25)


def _kept_words(tree_table) -> list[str]:
    """The ▶ cells of the beam table, step by step: the path the search kept."""
    words = []
    for _, row in tree_table.iterrows():
        (kept,) = [cell for cell in row.iloc[2:] if cell.startswith("▶ ")]
        if not kept.startswith("▶ (done)"):
            words.append(kept.split()[1])
    return words


@pytest.mark.parametrize("beam_width", range(1, 9))
def test_every_lesson_at_every_beam_width_with_a_chunked_sentence(app_module, beam_width):
    dicts, state = double(app_module, f"I love CUDA\n{LONG}", 2, beam_width)
    out = app_module.show_run(state, False)
    assert "as sent" in out[app_module.page.cost_md] and "sorted into length buckets" in out[app_module.page.cost_md]
    assert isinstance(out[app_module.page.cost_plot], Figure)
    assert out[app_module.page.tree_plot] is None and out[app_module.page.unpacked_df] is None  # only on request

    tree = app_module.show_tree(state, 1)  # the chunked sentence
    assert list(tree[app_module.page.tree_df].columns) == ["chunk", "step"] + [
        f"beam {b}" for b in range(1, beam_width + 1)
    ]
    assert _kept_words(tree[app_module.page.tree_df]) == [s["token"] for s in dicts[1]["steps"]]
    assert isinstance(tree[app_module.page.tree_plot], Figure)

    unpacked = app_module.show_unpacked(state)[app_module.page.unpacked_df]
    assert unpacked["sentence"].tolist() == ["1", "2 · chunk 1", "2 · chunk 2", "2 · chunk 3"]
    assert unpacked["<pad> read"].tolist() == [17, 0, 0, 0] and unpacked["state moved"][1] == "0.0%"


@pytest.mark.slow
def test_the_lessons_for_one_and_for_128_sentences(app_module):
    from s2s.limits import MAX_SENTENCES

    for text in [
        "I love CUDA",
        "\n".join(f"I love CUDA number {i} " + "and " * (i % 30) for i in range(MAX_SENTENCES)),
    ]:
        dicts, state = double(app_module, text, 1, 8)  # the widest beam: the biggest extra passes
        out = app_module.show_run(state, False)
        assert out[app_module.page.cost_md] and out[app_module.page.reliability_md]
        assert len(app_module.show_unpacked(state)[app_module.page.unpacked_df]) == sum(d["chunks"] for d in dicts)
        assert _kept_words(app_module.show_tree(state, len(dicts) - 1)[app_module.page.tree_df]) == [
            s["token"] for s in dicts[-1]["steps"]
        ]


def test_the_reliability_chart_with_and_without_an_evaluation(app_module, monkeypatch, tmp_path):
    import shutil
    from pathlib import Path

    from s2s.lessons.reliability import load_evaluation

    shutil.copy(Path(__file__).parent / "data" / "evaluation.json", tmp_path / "evaluation.json")
    _, state = double(app_module, "I love CUDA\n" + " ".join(["no"] * 17), 1)
    monkeypatch.setattr(app_module, "EVALUATION", load_evaluation(tmp_path))
    out = app_module.show_run(state, False)
    assert out[app_module.page.reliability_plot].visible is True and "Weakest" in out[app_module.page.reliability_md]
    monkeypatch.setattr(app_module, "EVALUATION", None)
    out = app_module.show_run(state, False)
    assert out[app_module.page.reliability_plot].visible is False
    assert "came without an evaluation" in out[app_module.page.reliability_md]


def test_the_extra_views_ask_for_a_run_first(app_module):
    assert "Double" in app_module.show_tree(None, 0)[app_module.page.tree_md]
    assert "Double" in app_module.show_unpacked(None)[app_module.page.unpacked_md]


def test_the_default_view_decodes_nothing_and_each_extra_view_decodes_once(app_module, monkeypatch):
    from s2s.model import Seq2Seq

    _, state = double(app_module, TEXT, 2)
    calls = []
    generate, forward = Seq2Seq.generate, Seq2Seq.forward

    def counted(real, kind):
        def wrapper(self, *args, **kwargs):
            calls.append((kind, type(self).__name__))
            return real(self, *args, **kwargs)

        return wrapper

    monkeypatch.setattr(Seq2Seq, "generate", counted(generate, "generate"))
    monkeypatch.setattr(Seq2Seq, "forward", counted(forward, "forward"))
    app_module.show_run(state, False)
    assert calls == [("forward", "Seq2Seq")]  # the padded batch's teacher-forced losses, as before: no decoding
    calls.clear()
    app_module.show_tree(state, 0)
    assert calls == [("generate", "Seq2Seq")]
    calls.clear()
    from s2s.lessons import unpacked

    fast = unpacked.generate
    monkeypatch.setattr(
        unpacked,
        "generate",
        lambda model, *a, **k: calls.append(("fast", type(model).__name__)) or fast(model, *a, **k),
    )
    app_module.show_unpacked(state)
    assert calls == [("fast", "ForgotToPack")]  # one fast search, from the unpacked encoder's states


def test_the_page_keeps_a_preview_of_the_api_answer_not_a_second_copy(app_module):
    results = [{"input": f"I love U{i}"} for i in range(views.API_PREVIEW + 5)]
    shown, label = views.api_preview(results)
    assert shown == results[: views.API_PREVIEW] and f"of {len(results)} results" in label
    assert views.api_preview(results[:2])[0] == results[:2]
