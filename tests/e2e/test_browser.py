"""The page in a real browser (Debian Chromium, headless, Playwright): type, press Double, read the tables."""

import os
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest

from s2s.page.layout import BLOG_SENTENCES

pytestmark = pytest.mark.slow  # launches the app server and a browser

HOSTILE = ['<img src=x onerror="window.__xss=1;alert(1)">', "<script>window.__xss=2;alert(2)</script>"]
SENTENCES = ["I love CUDA", "TF is Aww", *HOSTILE]
LOCAL_SCHEMES = {"data", "blob", "about"}


@pytest.fixture(scope="module")
def page(browser, server_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.requests, page.dialogs = [], []
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(server_url)
    yield page
    context.close()


def test_double_in_the_browser(page, app_module, tmp_path):
    box = page.get_by_label("Sentences")
    box.fill("\n".join(SENTENCES))
    page.get_by_role("button", name="Double").click()
    # The page shows the library's own outputs (whatever the model's quality), and the per-step table.
    expected = app_module.wd.double(SENTENCES[:2], 5)
    results = page.locator("#results")
    for result in expected:
        results.get_by_text(result.output, exact=True).filter(visible=True).first.wait_for(timeout=30_000)
    steps = page.locator("#steps")
    steps.get_by_text("top 5", exact=True).filter(visible=True).first.wait_for(timeout=30_000)
    first_token = expected[0].steps[0].token
    assert steps.get_by_text(first_token, exact=True).filter(visible=True).count() >= 1
    page.get_by_text("How the batch ran").wait_for()
    page.get_by_text("Masked mean", exact=False).first.wait_for(timeout=30_000)

    # Hostile input is shown as text and runs nothing.
    for line in HOSTILE:
        results.get_by_text(line, exact=True).filter(visible=True).first.wait_for(timeout=10_000)
    assert page.evaluate("window.__xss") is None
    assert page.dialogs == []

    shot = tmp_path / "page.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    shutil.copy(shot, "/tmp/wd_screenshot.png")


def test_nothing_left_the_machine(page):
    assert page.requests, "no requests recorded"
    outside = [
        u for u in page.requests if urlparse(u).scheme not in LOCAL_SCHEMES and urlparse(u).hostname != "127.0.0.1"
    ]
    assert outside == []


def test_the_beam_width_slider_reaches_the_decoder(page):
    run_note = page.locator("#run-note")
    run_note.get_by_text("beam search: the 2 likeliest", exact=False).wait_for(timeout=30_000)  # the default
    width = page.get_by_role("spinbutton", name="Beam width")  # the slider's number box
    width.fill("1")
    width.press("Enter")
    page.get_by_role("button", name="Double").click()
    run_note.get_by_text("greedy: the likeliest word at every step", exact=False).wait_for(timeout=30_000)


# --- the lessons, a phone, and the README's picture ---

HARD = " ".join(f"Zq{i}x" for i in range(20))  # twenty unknown words: the model's weakest family, likely wrong
LESSON_TEXT = "\n".join(["I love CUDA", "TF is Aww", " ".join(["no"] * 17), HARD, "My name is Sunil"])
SAMPLE_EVALUATION = Path(__file__).resolve().parent.parent / "data" / "evaluation.json"


@pytest.fixture(scope="module")
def evaluation(app_module):
    """The shipped evaluation if weights/ has one, else the sample (same schema), so the chart is drawn."""
    from s2s.lessons.reliability import load_evaluation

    before = app_module.EVALUATION
    if before is None:
        app_module.EVALUATION = load_evaluation(SAMPLE_EVALUATION.parent)
    yield app_module.EVALUATION
    app_module.EVALUATION = before


def run_lessons(page, text: str = LESSON_TEXT) -> None:
    """Double the text, then press both extra views' buttons and wait for everything to be drawn."""
    page.get_by_label("Sentences").fill(text)
    page.get_by_role("button", name="Double").click()
    # This run's results, not a table an earlier run left: until they are in, a new run may still clear the views.
    for line in text.splitlines():
        page.locator("#results").get_by_text(line, exact=True).filter(visible=True).first.wait_for(timeout=60_000)
    page.locator("#cost-note").get_by_text("sorted into length buckets", exact=False).first.wait_for(timeout=60_000)
    page.locator("#cost-plot img").wait_for(timeout=60_000)
    page.get_by_role("button", name="Draw the beam tree").click()
    page.locator("#tree-plot img").wait_for(timeout=60_000)
    page.get_by_role("button", name="Run my batch without packing").click()
    page.locator("#unpacked-note").get_by_text("pytorch/tutorials#3643", exact=False).wait_for(timeout=60_000)
    force_second_candidate(page, row=2)


def force_second_candidate(page, row: int) -> str:
    """Click the per-step table's "top 2" cell at a step (1-based row): the decoder is made to say that word."""
    from s2s.page.render import STEP_COLUMNS

    cell = page.locator(f'#steps [data-testid="cell-{row - 1}-{len(STEP_COLUMNS) + 1}"]')  # the grid's own cells
    word = cell.inner_text().split()[0]
    cell.click()
    page.locator("#forced-note").get_by_text(f"Forced {word} at step {row}", exact=False).wait_for(timeout=30_000)
    return word


def test_each_lesson_in_the_browser(page, app_module, evaluation):
    width = page.get_by_role("spinbutton", name="Beam width")
    width.fill("2")
    width.press("Enter")
    run_lessons(page)
    # The beam tree of the chosen sentence: every beam of every step, the kept path marked ▶.
    tree_table = page.locator("#tree-table")
    tree_table.get_by_text("beam 2", exact=True).first.wait_for(timeout=10_000)
    assert tree_table.get_by_text("▶", exact=False).count() >= 1
    # Forgetting to pack: the short rows read <pad>; the note says how many rows changed and shows the mask's numbers.
    unpacked = page.locator("#unpacked")
    unpacked.get_by_text("without packing", exact=True).first.wait_for(timeout=10_000)
    assert "rows" in page.locator("#unpacked-note").inner_text()
    assert "And if we forgot the mask?" in page.locator("#mask-note").inner_text()
    # Sorted vs as sent, and where the model is reliable (the chart, with the visitor's cells outlined).
    assert "<pad> share in the encoder" in page.locator("#cost-note").inner_text()
    page.locator("#reliability-plot img").wait_for(timeout=30_000)
    assert "of your sentences came out as the exact doubling" in page.locator("#reliability-note").inner_text()
    # Probabilities people can read: no column of 0.000 in the top-k table.
    steps_text = page.locator("#steps").inner_text()
    assert "e-" in steps_text
    # A wrong result says so under the results, and its link brings the chart into view.
    wrong = [i for i, r in enumerate(app_module.wd.double(LESSON_TEXT.splitlines(), 1, 2), 1) if not r.is_exact]
    note = page.locator("#wrong-note")
    for i in wrong:
        note.get_by_text(f"{i}.", exact=False).first.wait_for(timeout=10_000)
    if wrong:
        note.locator("a[href='#reliability']").click()
        # Figures still arriving move the page while it scrolls: wait (up to 5 s) for the chart to settle in view.
        in_view = (
            "(() => { const top = document.getElementById('reliability').getBoundingClientRect().top;"
            " return top >= 0 && top < window.innerHeight; })()"
        )
        page.wait_for_function(in_view, timeout=5_000)


def test_forcing_a_candidate_redecodes_and_marks_where_the_runs_part(page, app_module):
    page.get_by_label("Sentences").fill("I love CUDA")
    page.get_by_role("button", name="Double").click()
    page.locator("#results").get_by_text("I love CUDA", exact=True).filter(visible=True).first.wait_for(timeout=60_000)
    page.locator("#steps").get_by_text("top 2", exact=True).filter(visible=True).first.wait_for(timeout=30_000)
    word = force_second_candidate(page, row=2)
    # What the page shows is the library's forced run, its first difference marked.
    result = app_module.wd.double(["I love CUDA"], 5, 2)[0]
    forced = app_module.wd.force("I love CUDA", [result.steps[0].token, word], top_k=5, beam_width=2)
    note = page.locator("#forced-note").inner_text()
    assert "The runs first differ at step 2" in note and forced.output in note
    assert ("got back" in note) == (forced.output.split()[2:] == result.expected.split()[2:])
    forced_table = page.locator("#forced-table")
    forced_table.get_by_text("⚑ forced", exact=True).filter(visible=True).first.wait_for(timeout=10_000)
    assert forced_table.get_by_text(word, exact=True).filter(visible=True).count() >= 1
    # The list way: another step and word, chosen from the list of that step's candidates.
    page.locator("#force-step input").fill("1")
    page.locator("#force-step input").press("Enter")
    page.locator("#force-word input").click()
    page.get_by_role("option").nth(1).click()
    page.locator("#forced-note strong").get_by_text("at step 1", exact=False).wait_for(timeout=30_000)


def test_a_phone_never_scrolls_sideways(browser, server_url, evaluation):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1)
    page = context.new_page()
    page.goto(server_url)
    run_lessons(page)
    page.wait_for_timeout(500)
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
    widths = page.evaluate(
        "[...document.querySelectorAll('.gradio-container img')].map(i => i.getBoundingClientRect().right)"
    )
    assert widths and max(widths) <= 390  # figures scale down to the screen
    context.close()


def test_screenshot_for_the_readme(browser, server_url, app_module, evaluation, tmp_path):
    """The README's picture, made here so that it shows the page as it is. Regenerate it with
    WD_SCREENSHOT=docs/screenshot.png python -m pytest tests/e2e/test_browser.py -k screenshot"""
    from PIL import Image

    context = browser.new_context(viewport={"width": 1400, "height": 3000}, device_scale_factor=1)
    page = context.new_page()
    page.goto(server_url)
    run_lessons(page, "\n".join(BLOG_SENTENCES))
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(500)
    raw = tmp_path / "raw.png"
    page.screenshot(path=str(raw))  # the top of the page: input, results, the run, the steps and the beam tree
    context.close()
    image = Image.open(raw).convert("RGB")
    image = image.resize((1000, round(image.height * 1000 / image.width)), Image.LANCZOS)
    out = Path(os.environ.get("WD_SCREENSHOT") or tmp_path / "screenshot.png")
    out.parent.mkdir(parents=True, exist_ok=True)
    image.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)
    assert 20_000 < out.stat().st_size < 300_000
