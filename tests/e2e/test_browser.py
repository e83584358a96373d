"""The page in a real browser (Debian Chromium, headless, Playwright): type, press Double, read the tables."""

import shutil
from urllib.parse import urlparse

import pytest

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
    outside = [u for u in page.requests if urlparse(u).scheme not in LOCAL_SCHEMES and urlparse(u).hostname != "127.0.0.1"]
    assert outside == []


def test_the_beam_width_slider_reaches_the_decoder(page):
    run_note = page.locator("#run-note")
    run_note.get_by_text("beam search: the 2 likeliest", exact=False).wait_for(timeout=30_000)  # the default
    width = page.get_by_role("spinbutton", name="Beam width")  # the slider's number box
    width.fill("1")
    width.press("Enter")
    page.get_by_role("button", name="Double").click()
    run_note.get_by_text("greedy: the likeliest word at every step", exact=False).wait_for(timeout=30_000)
