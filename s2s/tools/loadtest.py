"""`python -m s2s.loadtest`: many users at once against a real server, each checking that it got its own answers.

    python -m s2s.loadtest --local --users 32 --requests 10      # starts `python app.py` on a free port
    python -m s2s.loadtest --url http://127.0.0.1:7860/ --pid 1234

Each user is its own gradio_client, sends sentences tagged with its name, and checks every answer against
what it sent (the right number of results, each result's input its own line). Meanwhile a prober times
`/gradio_api/info`, which stalls when something blocks the server's event loop, a second sends a bad request
(no sentences) over raw HTTP and times its refusal, and a third sends good one-line requests and times the
answers that are "busy" (there are some only while the queue is full). The probers run in a process of their own:
in the users' process they would also time its 64 clients parsing answers under one GIL, not the server.
The report: latency percentiles, errors by message, busy refusals and how fast they came, mixed answers,
the probers' latencies and the server's RSS before and after (for a local server, or one given by --pid).

The users stand in for visitors on other machines, but here they share the server's CPU: their client threads
run at the lowest CPU priority (nice 19, `--users-nice`), so that the server and the probers get the CPU first,
as they would if the users were elsewhere. At the same priority the probers time the users' own work: the
64-user test's bad request was refused in p95 0.12-0.18 s that way, 0.013-0.034 s with the users niced, and the
refusals are the server's, on its event loop, either way (docs/serving.md, "Queue and latency").
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

from .. import hub
from ..limits import BUSY
from .probes import FAILED_EXCHANGE, probers, raw_double

ROOT = hub.ROOT  # the repository (or a Space folder): where app.py is
USERS_NICE = 19  # the users' CPU priority (nice): the lowest, below the server's and the probers'
FLOOD_RETRY_S = 0.2  # a flooding sender told "busy" waits this long, as a client asked to "try again in a moment"
WORDS = ["I", "love", "CUDA", "the", "cat", "sat", "on", "a", "mat", "my", "name", "is", "Sunil", "TF", "Aww"]


@contextlib.contextmanager
def launched_app(env: dict | None = None, timeout: float = 120):
    """`python app.py` on a free port of 127.0.0.1: yields (url, process, seconds to the first served page)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(
        os.environ,
        GRADIO_SERVER_PORT=str(port),
        GRADIO_SERVER_NAME="127.0.0.1",
        GRADIO_ANALYTICS_ENABLED="False",
        **(env or {}),
    )
    start = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        while True:
            try:
                with urllib.request.urlopen(url, timeout=1) as page:
                    if page.status == 200:
                        break
            except OSError:
                time.sleep(0.05)
            if server.poll() is not None or time.perf_counter() - start > timeout:
                raise SystemExit(f"python app.py did not serve a page within {timeout:g} s")
        yield url, server, time.perf_counter() - start
    finally:
        server.terminate()
        server.wait()


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def lower_priority(nice: int) -> None:
    """This thread, and the threads it starts from now on, at CPU priority `nice` (Linux: a thread's own)."""
    if nice and hasattr(os, "setpriority"):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)


def user(
    url: str, name: str, requests: int, sentences: int, words: int, top_k: int, out: dict, nice: int = USERS_NICE
) -> None:
    """One visitor: `requests` calls of `sentences` lines, each line tagged "name-request-line". Its thread runs
    at CPU priority `nice`, and so do the threads its client starts (Linux: a thread's own, inherited)."""
    from gradio_client import Client

    lower_priority(nice)
    try:
        client = Client(url, verbose=False)
    except Exception as error:  # the server refused even the connection
        out["errors"].extend([f"{type(error).__name__}: {error}"] * requests)
        return
    for r in range(requests):
        lines = [
            f"{name}-{r}-{i} " + " ".join(WORDS[(r + i + j) % len(WORDS)] for j in range(words - 1))
            for i in range(sentences)
        ]
        started = time.perf_counter()
        try:
            results = client.predict("\n".join(lines), top_k, api_name="/double")
        except Exception as error:
            message = str(error) or type(error).__name__
            if "busy" in message.lower():
                out["busy"].append(time.perf_counter() - started)
            else:
                out["errors"].append(f"{type(error).__name__}: {message}")
            continue
        out["latency"].append(time.perf_counter() - started)
        if len(results) != len(lines) or [res["input"] for res in results] != lines:
            out["mixed"] += 1
        out["exact"] += sum(bool(res["is_exact"]) for res in results)
        out["answered"] += len(results)


def flood(url: str, stop: threading.Event, text: str, out: Counter, nice: int = USERS_NICE) -> None:
    """A raw-HTTP sender that keeps one good request in the server until `stop`: POST, then read its stream to the
    end without parsing it; told "busy", it tries again after FLOOD_RETRY_S, as the message asks. Cheap on the
    client side, so 96 of them (the server's 32 running and 64 queued) fill the queue, which 200 niced
    gradio_client users do not (their parsing waits for the CPU the server is using, so fewer requests are out)."""
    lower_priority(nice)
    while not stop.is_set():
        try:
            stream = raw_double(url, [text, 1])
            answer = "busy" if BUSY.encode() in stream else "served" if b"event: complete" in stream else "other"
        except FAILED_EXCHANGE:
            answer = "other"
        out[answer] += 1
        if answer != "served":
            stop.wait(FLOOD_RETRY_S)


def quantiles(name: str, times: list[float]) -> dict:
    return {f"{name}_p50_s": percentile(times, 0.5), f"{name}_p95_s": percentile(times, 0.95)}


def spread(name: str, times: list[float]) -> dict:
    """A prober's report: its quantiles and how many probes they come from."""
    return {**quantiles(name, times), f"{name}_probes": len(times)}


def run(
    url: str,
    users: int,
    requests: int,
    sentences: int,
    words: int,
    top_k: int,
    pid: int | None,
    users_nice: int = USERS_NICE,
    floods: int = 0,
) -> dict:
    rss_before = rss_mb(pid) if pid else None
    outs = [{"latency": [], "errors": [], "busy": [], "mixed": 0, "exact": 0, "answered": 0} for _ in range(users)]
    spawn = multiprocessing.get_context("spawn")
    stop, timings = spawn.Event(), spawn.Queue()
    prober = spawn.Process(target=probers, args=(url, stop, timings), daemon=True)
    prober.start()
    started = time.perf_counter()
    flooded, flooding = Counter(), threading.Event()
    flood_text = "\n".join(" ".join(WORDS[(i + j) % len(WORDS)] for j in range(words)) for i in range(sentences))
    flooders = [
        threading.Thread(target=flood, args=(url, flooding, flood_text, flooded, users_nice), daemon=True)
        for _ in range(floods)
    ]
    threads = [
        threading.Thread(target=user, args=(url, f"u{n}", requests, sentences, words, top_k, out, users_nice))
        for n, out in enumerate(outs)
    ]
    for t in flooders + threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    flooding.set()
    stop.set()
    probed = timings.get(timeout=400)
    prober.join()
    asked = {
        "url": url,
        "users": users,
        "requests_per_user": requests,
        "sentences_per_request": sentences,
        "words_per_sentence": words,
        "users_nice": users_nice,
        "flood_senders": floods,
    }
    return {
        **asked,
        **summary(outs, flooded, probed, seconds),
        "rss_mb_before": rss_before,
        "rss_mb_after": rss_mb(pid) if pid else None,
    }


def summary(outs: list[dict], flooded: Counter, probed: dict, seconds: float) -> dict:
    """What the users, the flooders and the probers measured, as the report's figures."""
    busy = [x for out in outs for x in out["busy"]]
    latency = [x for out in outs for x in out["latency"]]
    errors = Counter(e for out in outs for e in out["errors"])
    return {
        "seconds": seconds,
        "answered_requests": len(latency),
        "requests_per_s": len(latency) / seconds,
        **quantiles("latency", latency),
        "latency_max_s": max(latency, default=None),
        "errors": sum(errors.values()),
        "error_messages": dict(errors.most_common(5)),
        "busy": len(busy),
        **quantiles("busy", busy),
        "mixed_answers": sum(out["mixed"] for out in outs),
        "flood_served": flooded["served"],
        "flood_busy": flooded["busy"],
        "flood_other": flooded["other"],
        "exact_share": sum(o["exact"] for o in outs) / max(1, sum(o["answered"] for o in outs)),
        **spread("info", probed["info"]),
        **spread("refusal", probed["refusal"]),
        **spread("busy_probe", probed["busy"]),
    }


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="a running server, e.g. http://127.0.0.1:7860/")
    where.add_argument("--local", action="store_true", help="start `python app.py` on a free port for the test")
    p.add_argument("--pid", type=int, default=None, help="the server's process id, to read its RSS (with --url)")
    p.add_argument("--users", type=int, default=32, help="concurrent users, each its own client")
    p.add_argument("--requests", type=int, default=10, help="requests per user, one after another")
    p.add_argument("--sentences", type=int, default=4, help="sentences per request")
    p.add_argument("--words", type=int, default=12, help="words per sentence")
    p.add_argument("--top-k", type=int, default=5, help="top-k of each request")
    p.add_argument(
        "--users-nice",
        type=int,
        default=USERS_NICE,
        help="the users' CPU priority (nice, 0-19): 19 lets the server and probers have this machine's CPU first",
    )
    p.add_argument(
        "--flood",
        type=int,
        default=0,
        help="raw-HTTP senders that each keep one good request in the server while the users run (fills the queue)",
    )
    p.add_argument("--json", default=None, help="also write the report as JSON to this file")
    args = p.parse_args(argv)
    shape = (args.users, args.requests, args.sentences, args.words, args.top_k)
    if args.local:
        with launched_app() as (url, server, _):
            report = run(url, *shape, server.pid, args.users_nice, args.flood)
    else:
        report = run(args.url.rstrip("/") + "/", *shape, args.pid, args.users_nice, args.flood)
    return print_report(report, args.json)


def print_report(report: dict, path: str | None) -> dict:
    """A measurement script's report: printed as JSON, and written to `path` when one is given."""
    print(json.dumps(report, indent=1))
    if path:
        Path(path).write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
