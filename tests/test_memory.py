"""A real `python app.py` answers many raw API calls without its memory growing with them."""

import pytest

from s2s.tools.loadtest import launched_app, rss_mb
from s2s.tools.probes import raw_double

pytestmark = pytest.mark.slow  # starts a server and sends it a few thousand sentences

HEAVY = "\n".join(f"I love CUDA number {i} and my name is Sunil" for i in range(128))  # the largest request


def raw_call(url: str, text: str) -> str:
    return raw_double(url, [text, 10]).decode()


def test_rss_stays_flat_over_repeated_raw_calls():
    with launched_app() as (url, server, _):
        for _ in range(3):  # warm-up: allocator pools, torch's caches, Gradio's first-call imports
            assert "event: complete" in raw_call(url, HEAVY)
        before = rss_mb(server.pid)
        for _ in range(20):
            assert "event: complete" in raw_call(url, HEAVY)
        heavy = rss_mb(server.pid) - before
        for i in range(200):
            assert "event: complete" in raw_call(url, f"I love CUDA {i}")
        light = rss_mb(server.pid) - before - heavy
    # Before the session bound and the guard, each such call kept ~10 MB (20 calls: ~200 MB).
    assert heavy < 100, f"RSS grew {heavy:.0f} MB over 20 calls of 128 sentences"
    assert light < 50, f"RSS grew {light:.0f} MB over 200 one-line calls"
