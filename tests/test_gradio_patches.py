"""Gradio's patches are fenced: installed on the version they were written for, and on any other none, one warning,
and an app that still answers /double (through Gradio's own ways)."""

import logging
import subprocess
import sys
from pathlib import Path

import gradio
import orjson
import pytest

from s2s.serve import gradio_patches, lazy_sessions

ROOT = Path(__file__).resolve().parent.parent


def test_they_are_written_for_the_installed_gradio():
    assert gradio_patches.fits(), f"written for {gradio_patches.WRITTEN_FOR}, running {gradio.__version__}"
    assert gradio_patches.install() and gradio_patches.installed()
    from gradio import state_holder

    assert state_holder.SessionState.__init__ is lazy_sessions._session_init


def test_on_another_gradio_none_goes_in_and_one_warning_says_so(monkeypatch, caplog):
    monkeypatch.setattr(gradio, "__version__", "7.0.0")
    monkeypatch.setattr(gradio_patches, "_state", {"installed": False, "warned": False})
    with caplog.at_level(logging.WARNING, logger=gradio_patches.__name__):
        assert not gradio_patches.install() and not gradio_patches.install()
    assert [r.message for r in caplog.records] == [
        "Gradio 7.0.0: the patches written for 6.31.0 are not installed; "
        "the app runs as Gradio does (slower under load)"
    ]
    made = orjson.dumps([{"input": "x"}])
    assert gradio_patches.json_answer(made) == [{"input": "x"}]  # plain data, which any Gradio serializes
    component = gradio.JSON()
    assert gradio_patches.plain_json_output(component).postprocess == component.postprocess  # left as it is


@pytest.mark.slow
def test_an_app_on_another_gradio_still_answers_double(tmp_path):
    """app.py with Gradio's version string changed before it loads: the page comes up, /double answers, a bad
    request still gets the limit's message (from the function), and the log says once why it is slower."""
    script = tmp_path / "other_gradio.py"
    script.write_text(
        "import sys, runpy, gradio\n"
        "gradio.__version__ = '7.0.0'\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "import app\n"
        "from gradio_client import Client\n"
        "from gradio_client.exceptions import AppError\n"
        "kwargs = dict(server_name='127.0.0.1', prevent_thread_lock=True, quiet=True, **app.launch_kwargs())\n"
        "_, url, _ = app.demo.launch(**kwargs)\n"
        "client = Client(url, verbose=False)\n"
        "print(client.predict('I love CUDA', 3, 1, api_name='/double')[0]['input'])\n"
        "try:\n"
        "    client.predict('I love CUDA', 99, api_name='/double')\n"
        "except AppError as error:\n"
        "    print('refused:', error)\n"
        "app.demo.close()\n"
    )
    env = {"GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_MCP_SERVER": "False", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert "I love CUDA" in lines and any(line.startswith("refused:") and "top_k" in line for line in lines)
    assert done.stderr.count("the patches written for 6.31.0 are not installed") == 1
