"""Fixtures: the native kernels; for the app, the module (model loaded once), a real server on a free port, a headless
Chromium."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def kernels():
    """s2s/fast/kernels.c built here (tests that take this fixture run the native way): a machine with a C compiler
    that cannot build it fails them; one without a compiler skips them (decoding then uses torch's operations)."""
    import shutil

    from s2s.fast import native

    if shutil.which(os.environ.get("CC", "cc")) is None:
        pytest.skip("no C compiler: decoding uses torch's operations")
    assert native.library() is not None, native.status()
    return native.library()


@pytest.fixture(scope="session")
def app_module():
    """app.py imported once: it loads the model (S2S_MODEL, else the bundled weights/)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import app

    return app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server_url(app_module):
    """app.demo served for real (uvicorn in a background thread) on 127.0.0.1 and a free port."""
    demo = app_module.demo
    _, url, _ = demo.launch(
        server_name="127.0.0.1",
        server_port=free_port(),
        prevent_thread_lock=True,
        quiet=True,
        **app_module.launch_kwargs(),  # the same bounds as `python app.py`
    )
    yield url
    demo.close()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, headless, driven by Playwright (never `playwright install`)."""
    assert os.path.exists(CHROMIUM), f"{CHROMIUM} is missing: `bash .ci/run` installs Debian's chromium"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
