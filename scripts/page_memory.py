"""Server RSS over many page runs in a real browser: `python scripts/page_memory.py --runs 40`.

Starts `python app.py` on a free port, then, run after run, opens the page in a fresh browser context (a new
visitor, so a new session), doubles the largest request the page takes (128 sentences, top-k 10, beam width 8),
draws the beam tree and the unpacked view, and reads the server's RSS. Sessions beyond the server's capacity
are dropped oldest first, so the RSS should level off once that many visitors have come; the report says
where it ended and how much the last runs added. Debian's Chromium, headless (never `playwright install`).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402  the browser as the tests launch it


def largest_request(seed: int) -> str:
    """128 lines of 20 words each, under the 20,000-character bound: the most one page run may ask."""
    from s2s.limits import MAX_CHARS, MAX_SENTENCES

    rng = random.Random(seed)
    words = ["I", "love", "CUDA", "the", "cat", "sat", "on", "a", "mat", "my", "name", "is", "Sunil", "Zq", "no"]
    lines = [
        " ".join(rng.choice(words) + (str(rng.randrange(99)) if rng.random() < 0.2 else "") for _ in range(20))
        for _ in range(MAX_SENTENCES)
    ]
    text = "\n".join(lines)
    return text[:MAX_CHARS].rsplit("\n", 1)[0] if len(text) > MAX_CHARS else text


def one_visit(browser, url: str, text: str, timeout_ms: int) -> float:
    """A new visitor's whole run; returns its seconds."""
    started = time.perf_counter()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(url)
    for name, value in (("Top-k candidates per step", "10"), ("Beam width", "8")):
        box = page.get_by_role("spinbutton", name=name)
        box.fill(value)
        box.press("Enter")
    page.get_by_label("Sentences").fill(text)
    page.get_by_role("button", name="Double").click()
    page.locator("#run-note").get_by_text("beam search: the 8 likeliest", exact=False).wait_for(timeout=timeout_ms)
    page.locator("#cost-plot img").wait_for(timeout=timeout_ms)
    page.get_by_role("button", name="Draw the beam tree").click()
    page.locator("#tree-plot img").wait_for(timeout=timeout_ms)
    page.get_by_role("button", name="Run my batch without packing").click()
    page.locator("#unpacked-note").get_by_text("pytorch/tutorials#3643", exact=False).wait_for(timeout=timeout_ms)
    context.close()
    return time.perf_counter() - started


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=40, help="visitors, one after another, each a whole run")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=120, help="seconds one view may take")
    p.add_argument("--json", default=None, help="also write the report to this file")
    p.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable for the server (e.g. MALLOC_ARENA_MAX=2); repeatable",
    )
    args = p.parse_args(argv)

    from playwright.sync_api import sync_playwright

    from s2s.limits import SESSION_CAPACITY
    from s2s.tools.loadtest import launched_app, print_report, rss_mb

    text = largest_request(args.seed)
    rss, seconds = [], []
    env = dict(item.split("=", 1) for item in args.env)
    with launched_app(env) as (url, server, _), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        start_rss = rss_mb(server.pid)
        for run in range(args.runs):
            seconds.append(one_visit(browser, url, text, int(args.timeout * 1000)))
            rss.append(rss_mb(server.pid))
            print(f"run {run + 1}: {seconds[-1]:.1f} s, server RSS {rss[-1]:.0f} MB", file=sys.stderr, flush=True)
        browser.close()
    tail = rss[-10:]
    report = {
        "runs": args.runs,
        "server_env": env,
        "session_capacity": SESSION_CAPACITY,
        "sentences": len(text.splitlines()),
        "characters": len(text),
        "rss_mb_start": start_rss,
        "rss_mb_by_run": rss,
        "rss_mb_end": rss[-1] if rss else None,
        "rss_mb_max": max(rss, default=None),
        "rss_mb_added_over_last_runs": (tail[-1] - tail[0]) if tail else None,
        "last_runs": len(tail),
        "seconds_per_run_p50": sorted(seconds)[len(seconds) // 2] if seconds else None,
    }
    return print_report(report, args.json)


if __name__ == "__main__":
    main()
