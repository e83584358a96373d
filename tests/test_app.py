"""The functions behind the page, called directly: a 3-sentence batch builds every table and figure."""

import gradio as gr
import pytest
from matplotlib.figure import Figure

TEXT = "I love CUDA\n  TF is Aww  \n\nMy name is Sunil"
SENTENCES = ["I love CUDA", "TF is Aww", "My name is Sunil"]


@pytest.fixture(scope="module")
def run(app_module):
    dicts, state = app_module.double(TEXT, 3)
    return dicts, state, app_module.show_run(state, True)


def test_double_returns_one_result_per_line(run, app_module):
    dicts, state, _ = run
    assert [d["input"] for d in dicts] == SENTENCES  # blank lines dropped, spaces trimmed
    assert state["results"] == dicts and state["top_k"] == 3
    assert all(len(s["top_k"]) == 3 for d in dicts for s in d["steps"])
    assert dicts == [r.to_dict() for r in app_module.wd.double(SENTENCES, 3)]  # exactly the library's answer


def test_results_table(run):
    dicts, _, (results, dropdown, *_) = run
    assert list(results.columns) == ["#", "input", "output", "words in → out", "lowest step p", "exact"]
    assert results["input"].tolist() == SENTENCES
    assert results["output"].tolist() == [d["output"] for d in dicts]
    assert results["exact"].tolist() == ["✓" if d["is_exact"] else "✗" for d in dicts]
    assert results["words in → out"][0] == f"3 → {len(dicts[0]['output'].split())}"
    assert [value for _, value in dropdown.choices] == [0, 1, 2] and dropdown.value == 0


def test_per_step_table_plot_and_confidence(run, app_module):
    dicts, state, (_, _, highlighted, steps, plot, *_) = run
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
    assert {label for _, label in highlighted} <= set(app_module.CONFIDENCE)
    assert isinstance(plot, Figure) and len(plot.axes) >= 2

    # Another sentence from the dropdown.
    highlighted, steps, plot = app_module.show_sentence(state, 2)
    assert steps["emitted"].tolist() == [s["token"] for s in dicts[2]["steps"]]
    assert isinstance(plot, Figure)


def test_batch_notes_figure_and_losses(run, app_module):
    _, _, (*_, run_md, compare_md, batch_figure, losses, loss_md) = run
    assert "| sentences | 3 |" in run_md and "padded batch [B, T]" in run_md and str(app_module.wd.device) in run_md
    assert "speed-up" in compare_md and "ms" in compare_md
    assert isinstance(batch_figure, Figure)
    assert losses["sentence"].tolist() == SENTENCES
    assert all(float(x) >= 0 for x in losses["loss (mean NLL)"])
    assert "Masked mean" in loss_md and "unmasked mean" in loss_md


def test_the_one_at_a_time_comparison_is_capped_and_says_so(app_module):
    from s2s.limits import MAX_COMPARE_SENTENCES

    results = [{"input": f"I love U{i}"} for i in range(MAX_COMPARE_SENTENCES + 8)]
    note = app_module.compare_note(results, 1, 1, True)
    assert f"first {MAX_COMPARE_SENTENCES} of your {MAX_COMPARE_SENTENCES + 8} sentences" in note and "speed-up" in note
    assert "first" not in app_module.compare_note(results[:3], 1, 1, True)


def test_user_text_reaches_the_tables_verbatim(app_module):
    hostile = "<img src=x onerror=alert(1)> $x^2$ **bold**"
    dicts, state = app_module.double(hostile, 2)
    results = app_module.show_run(state, False)[0]
    assert results["input"][0] == hostile.strip()  # a Dataframe shows text as text: nothing to escape here


def test_greedy_marks_the_best_candidate(app_module):
    _, state = app_module.double(TEXT, 3, 1)
    _, steps, _ = app_module.show_sentence(state, 0)
    assert all(cell.startswith("▶ ") for cell in steps["top 1"])
    assert not any(cell.startswith("▶") for cell in steps["top 2"])


def test_beam_width_reaches_the_library_and_the_notes(app_module):
    dicts, state = app_module.double(TEXT, 2, 3.0)  # a slider may send 3.0
    assert state["beam_width"] == 3
    assert dicts == [r.to_dict() for r in app_module.wd.double(SENTENCES, 2, beam_width=3)]
    run_md = app_module.show_run(state, False)[5]
    assert "beam search: the 3 likeliest" in run_md
    _, greedy_state = app_module.double(TEXT, 2, 1)
    assert "greedy" in app_module.show_run(greedy_state, False)[5]


@pytest.mark.parametrize(
    "text, top_k, beam_width, message",
    [("", 5, 1, "no sentences"), ("hi", 0, 1, "from 1 to 10"), ("hi", 5.5, 1, "whole number"),
     ("hi", 5, 0, "beam_width must be a whole number from 1 to 8"), ("hi", 5, 9, "from 1 to 8"), ("hi", 5, 2.5, "whole number")],
)
def test_bad_input_raises_gr_error(app_module, text, top_k, beam_width, message):
    with pytest.raises(gr.Error, match=message):
        app_module.double(text, top_k, beam_width)


def test_model_note_names_source_parameters_and_vocabulary(app_module):
    note = app_module.model_note()
    info = app_module.wd.describe()
    assert f"{info['parameters']:,} parameters" in note and f"{info['vocabulary_words']:,} words" in note
