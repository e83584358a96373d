"""The load test's probers: while the users keep a server busy, they time what a visitor would feel: the event
loop (`/gradio_api/info`), a bad request's refusal, and "busy" past the queue's bound, each over raw HTTP."""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.request

from ..limits import BUSY

# What a request that got no answer raises: a refused or reset connection, a timeout, a stream cut short, a
# body that is not the JSON expected.
FAILED_EXCHANGE = (OSError, ValueError, KeyError, http.client.HTTPException)
BUSY_PROBERS = 3  # a let-in probe waits BUSY_WAIT_S before it probes again: three of them hear "busy" more often
BUSY_WAIT_S = 5  # "busy" comes at once (p50 4-9 ms past the bound, docs/serving.md); a silence this long: let in


def probe(url: str, stop: threading.Event, out: list[float]) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(url + "gradio_api/info", timeout=30) as answer:
                answer.read()
            out.append(time.perf_counter() - started)
        except OSError:
            out.append(float("inf"))
        stop.wait(0.2)


def raw_double(url: str, data: list, wait: float = 300) -> bytes:
    """/double over raw HTTP, as the guard and Gradio answer it: POST, then the event's whole stream (TimeoutError
    when it has not ended after `wait` seconds)."""
    post = urllib.request.Request(
        url + "gradio_api/call/double",
        data=json.dumps({"data": data}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(post, timeout=30) as answer:
        event = json.loads(answer.read())["event_id"]
    with urllib.request.urlopen(f"{url}gradio_api/call/double/{event}", timeout=wait) as stream:
        return stream.read()


def probe_refusal(url: str, stop: threading.Event, out: list[float]) -> None:
    """A bad request (no sentences), refused by the guard: the seconds to the refusal, while the users keep the
    server busy (inf when it was not refused)."""
    while not stop.is_set():
        started = time.perf_counter()
        try:
            refused = b"event: error" in raw_double(url, ["", 5])
            out.append(time.perf_counter() - started if refused else float("inf"))
        except FAILED_EXCHANGE:
            out.append(float("inf"))
        stop.wait(0.2)


def probe_busy(url: str, stop: threading.Event, out: list[float]) -> None:
    """A good one-line request: the seconds to each "busy" answer, which comes only while the queue is full. A
    request let in says nothing for BUSY_WAIT_S (it waits its turn): the probe then hangs up and tries again, so
    that it keeps probing while the queue stays full (a busy answer later than that would go uncounted)."""
    while not stop.is_set():
        started = time.perf_counter()
        try:
            if BUSY.encode() in raw_double(url, ["busy probe", 1], wait=BUSY_WAIT_S):
                out.append(time.perf_counter() - started)
        except FAILED_EXCHANGE:  # TimeoutError: let in
            pass
        stop.wait(0.2)


def probers(url: str, stop, results) -> None:
    """The probers, in the process this runs in, until `stop` is set; then their timings go to `results`."""
    timings: dict[str, list[float]] = {"info": [], "refusal": [], "busy": []}
    done = threading.Event()
    threads = [
        threading.Thread(target=target, args=(url, done, timings[name]), daemon=True)
        for name, target in (("info", probe), ("refusal", probe_refusal), *[("busy", probe_busy)] * BUSY_PROBERS)
    ]
    for thread in threads:
        thread.start()
    stop.wait()
    done.set()
    for thread in threads:
        thread.join()
    results.put(timings)
