"""The HTTP guard on a real server: bad input refused before it waits, "busy" past the queue bound, no uploads,
and API calls that leave no session state behind."""

import http.client
import json
import threading
import time
import urllib.error
import urllib.request

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from s2s.limits import BUSY, MAX_QUEUED_REQUESTS

pytestmark = pytest.mark.slow  # launches the app server


def post(url: str, path: str, payload) -> dict:
    request = urllib.request.Request(
        url.rstrip("/") + path, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


def call(url: str, data: list) -> tuple[str, object, str]:
    """POST /gradio_api/call/double, then read its stream: (last event, its data, the event id)."""
    event_id = post(url, "/gradio_api/call/double", {"data": data})["event_id"]
    with urllib.request.urlopen(f"{url.rstrip('/')}/gradio_api/call/double/{event_id}", timeout=120) as stream:
        lines = stream.read().decode().splitlines()
    event = [line[len("event: ") :] for line in lines if line.startswith("event: ")][-1]
    data = [line[len("data: ") :] for line in lines if line.startswith("data: ")][-1]
    return event, json.loads(data), event_id


def test_the_app_launches_with_its_bounds(app_module):
    kwargs = app_module.launch_kwargs()
    assert kwargs["state_session_capacity"] <= 1000 and kwargs["max_file_size"]
    assert app_module.demo._queue.max_size == MAX_QUEUED_REQUESTS


def test_bad_input_is_refused_before_it_waits_while_the_server_is_busy(server_url, app_module):
    """Heavy requests keep the model busy; empty ones are still refused at once, and never reach the batcher."""
    heavy = "\n".join(f"I love CUDA number {i} and my name is Sunil" for i in range(128))
    stop = threading.Event()

    def busy_user():
        client = Client(server_url, verbose=False)
        while not stop.is_set():
            client.predict(heavy, 10, 8, api_name="/double")

    users = [threading.Thread(target=busy_user, daemon=True) for _ in range(4)]
    for user in users:
        user.start()
    try:
        time.sleep(3)  # the users are in the model now
        passes = app_module.batcher.passes
        times = []
        for _ in range(10):
            started = time.perf_counter()
            event, data, _ = call(server_url, ["", 5])
            times.append(time.perf_counter() - started)
            assert event == "error" and "no sentences given" in data["error"]
        assert app_module.batcher.passes - passes <= 4 * 2  # the heavy users' passes only (none for the empties)
        assert sorted(times)[-2] < 1.0, times  # generous: measured ~10 ms idle on a quiet machine
    finally:
        stop.set()
        for user in users:
            user.join(120)


def test_past_the_queue_bound_a_request_hears_busy_at_once(server_url, app_module):
    queue = app_module.demo._queue
    bound, queue.max_size = queue.max_size, 0  # every request is past a bound of 0
    try:
        started = time.perf_counter()
        event, data, _ = call(server_url, ["I love CUDA", 5])
        assert event == "error" and data["error"] == BUSY and time.perf_counter() - started < 1.0
        with pytest.raises(AppError, match="busy.*try again in a moment"):
            Client(server_url, verbose=False).predict("I love CUDA", 5, api_name="/double")
    finally:
        queue.max_size = bound
    assert call(server_url, ["I love CUDA", 5])[0] == "complete"  # the bound is back, so is service


def test_uploads_are_refused(server_url):
    request = urllib.request.Request(
        server_url.rstrip("/") + "/gradio_api/upload",
        data=b"x" * 50_000,
        headers={"Content-Type": "application/octet-stream"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 403 and "takes no files" in json.loads(refused.value.read())["error"]


@pytest.mark.parametrize(
    "path, code, message",
    [("/gradio_api/call/double", 413, "request body too large"), ("/gradio_api/upload", 403, "takes no files")],
)
def test_a_refused_large_body_gets_its_answer_not_a_connection_reset(server_url, path, code, message):
    """A client still sending megabytes hears why (the guard drains the body); closing on unread bytes would
    reset the connection under the client's feet. Several rounds: without the drain, most of them reset."""
    from s2s.limits import MAX_BODY_BYTES

    body = b'{"data": ["' + b"a" * (4 * MAX_BODY_BYTES) + b'", 5]}'
    for _ in range(5):
        request = urllib.request.Request(
            server_url.rstrip("/") + path, data=body, headers={"Content-Type": "application/json"}
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code == code and message in json.loads(refused.value.read())["error"]


def test_api_calls_leave_no_session_state(server_url, app_module):
    sessions = app_module.demo.state_holder.session_data
    event, _, event_id = call(server_url, ["I love CUDA", 5])
    client = Client(server_url, verbose=False)
    client.predict("TF is Aww", 2, api_name="/double")
    deadline = time.time() + 5  # dropped when the stream ends, just after the answer is read
    while (event_id in sessions or client.session_hash in sessions) and time.time() < deadline:
        time.sleep(0.05)
    assert event == "complete" and event_id not in sessions and client.session_hash not in sessions


def test_a_refused_raw_call_never_enters_gradios_queue_and_unread_refusals_are_bounded(server_url, app_module):
    """The guard answers a refused /call's stream itself: Gradio's pending messages do not grow with refusals,
    the stream is Gradio's own format (checked by `call`), and refusals nobody reads are dropped past a bound."""
    from s2s.serve import guard

    queue = app_module.demo._queue
    before = len(queue.pending_messages_per_session)
    for _ in range(5):
        event, data, event_id = call(server_url, ["", 5])
        assert event == "error" and "no sentences given" in data["error"]
        assert event_id not in queue.pending_messages_per_session
    unread = [
        post(server_url, "/gradio_api/call/double", {"data": ["", 5]})["event_id"]
        for _ in range(guard.REFUSED_STREAMS_KEPT + 5)
    ]
    assert len(queue.pending_messages_per_session) == before
    event, data, _ = call(server_url, ["x", 99])  # the newest refusals are still answered
    assert event == "error" and "top_k" in data["error"]
    with urllib.request.urlopen(f"{server_url.rstrip('/')}/gradio_api/call/double/{unread[-1]}", timeout=30) as stream:
        assert b"no sentences given" in stream.read()
    try:  # the oldest unread refusal was dropped: its id is unknown now (Gradio cuts such a stream short)
        with urllib.request.urlopen(
            f"{server_url.rstrip('/')}/gradio_api/call/double/{unread[0]}", timeout=30
        ) as stream:
            body = stream.read()
    except (OSError, http.client.HTTPException):
        body = b""
    assert b"no sentences given" not in body
