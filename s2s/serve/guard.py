"""The HTTP boundary of a public server: body and upload caps, the queue bound and /double's checks, before
anything waits.

Gradio checks a request only when a worker takes it (its `validator=` runs in the queue's thread pool and
answers gradio_client with a different error type), so a bad or oversized request waits behind everyone
else's work. `RequestGuard` is a plain ASGI middleware in front of Gradio's routes: it reads the body once
(capped), refuses uploads (the app takes no files), runs the same `check_request` the micro-batcher runs,
and says "busy" when the queue is full — on the event loop, in microseconds, before the event is queued.
A refused /double call is answered the way Gradio answers a failed event (a completed-with-error message
on the caller's stream), so gradio_client raises `AppError` with the message and the page shows it. A refused
raw `/call` has a stream of its own, so the guard answers that stream too, with the same bytes Gradio would
send, and the refusal never enters Gradio's routes or queue (under load, each of those steps waits its turn on
the event loop).
When an API caller's stream ends, its session state is dropped: no page will ever redraw from it.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import OrderedDict
from functools import partial
from urllib.parse import parse_qs

from starlette.responses import JSONResponse, Response

from ..limits import BUSY, DEFAULT_BEAM_WIDTH, DEFAULT_TOP_K, MAX_BODY_BYTES, check_request, split_lines
from . import gradio_patches

API_NAME = "double"  # the one public endpoint; its values are (text, top_k[, beam_width])
PAGE_API_NAME = "double_on_page"  # the page's own run of it (private: the page calls it by fn_index), same values
JOIN = re.compile(r"/gradio_api/queue/join/?$")
CALL = re.compile(r"/gradio_api/call/(v2/)?(?P<api>[^/]+)/?$")
CALL_STREAM = re.compile(r"/gradio_api/call/(v2/)?(?P<api>[^/]+)/(?P<event>[^/]+)/?$")
QUEUE_STREAM = re.compile(r"/gradio_api/queue/data/?$")
UPLOAD = re.compile(r"/gradio_api/upload/?$")

# Refused raw /call events whose stream nobody has read yet; past this many the oldest is dropped.
REFUSED_STREAMS_KEPT = 1024
NO_UPLOADS = "this app takes no files: uploads are refused"
# A refused body is read and dropped up to this size before the answer, so that the client, still sending,
# gets the answer rather than a connection reset (closing with unread bytes makes the kernel send RST).
DRAIN_BYTES = 16 * MAX_BODY_BYTES
TOO_LARGE = f"request body too large: at most {MAX_BODY_BYTES:,} bytes"
NOT_JSON = 'the request body must be a JSON object with a "data" list: [text, top_k] or [text, top_k, beam_width]'


def whole(number):
    """A slider or a JSON client may send 5.0 for 5; anything else goes to the limits' check as it came."""
    return int(number) if isinstance(number, float) and number.is_integer() else number


def double_values(data) -> tuple[list[str], int, int]:
    """/double's values as sent -> (sentences, top_k, beam_width) checked; ValueError naming what is wrong.

    Two values mean the default beam width, as gradio_client fills it in; a dict is /call/v2's keyword form."""
    if isinstance(data, dict):
        data = [data.get("text"), data.get("top_k", DEFAULT_TOP_K), data.get("beam_width", DEFAULT_BEAM_WIDTH)]
    if not isinstance(data, list):
        raise ValueError(f"data must be a list: [text, top_k] or [text, top_k, beam_width], got {type(data).__name__}")
    if not 2 <= len(data) <= 3:
        raise ValueError(f"/double takes 2 or 3 values (text, top_k, optional beam_width), got {len(data)}")
    text, top_k, beam_width = (*data, DEFAULT_BEAM_WIDTH)[:3]
    top_k, beam_width = whole(top_k), whole(beam_width)
    sentences = split_lines(text)
    check_request(sentences, top_k, beam_width)
    return sentences, top_k, beam_width


def refusal(data) -> str | None:
    """The message a /double request is refused with, or None when it may join the queue."""
    try:
        double_values(data)
    except ValueError as error:
        return str(error)
    return None


class RequestGuard:
    """ASGI middleware for a Gradio app (pass it in `launch(app_kwargs={"middleware": [...]})`)."""

    def __init__(self, app):
        self.app = app
        self._double_ids: set[int] | None = None
        self._refused: OrderedDict[str, bytes] = OrderedDict()  # event id -> its whole stream

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path, blocks = scope["path"], scope["app"].get_blocks()
        if scope["method"] == "GET" and (stream := CALL_STREAM.search(path)) and stream["event"] in self._refused:
            body = self._refused.pop(stream["event"])
            return await Response(body, media_type="text/event-stream")(scope, receive, send)
        # On a Gradio the patches were not written for, its private state is not ours to read: only the body cap
        # and the refusal of uploads, which need nothing of Gradio's (bad /double input is then the function's).
        patched = gradio_patches.installed()
        if patched and scope["method"] == "GET" and (session := _api_stream_session(scope, path, blocks)) is not None:
            try:
                return await self.app(scope, receive, send)
            finally:
                gradio_patches.forget_session(blocks, session)
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        if UPLOAD.search(path):
            await _drain(scope, receive)
            return await JSONResponse({"error": NO_UPLOADS}, status_code=403)(scope, receive, send)
        body = await _read_capped(scope, receive)
        if body is None:
            return await JSONResponse({"error": TOO_LARGE}, status_code=413)(scope, receive, send)
        join, call = (JOIN.search(path), CALL.search(path)) if patched else (None, None)
        if join or call:
            try:
                payload = json.loads(body)
                assert isinstance(payload, dict)
            except (ValueError, AssertionError):
                return await JSONResponse({"error": NOT_JSON}, status_code=400)(scope, receive, send)
            if join:
                is_double = payload.get("fn_index") in self._double_fns(blocks)
            else:
                is_double = call["api"] == API_NAME
            message = refusal(payload.get("data")) if is_double else None
            if message is None and gradio_patches.queue_full(blocks):
                message = BUSY
            refuse = partial(self._refuse, blocks, bool(call), payload.get("session_hash"))
            if message is not None and (call or payload.get("session_hash")):
                return await JSONResponse(await refuse(message))(scope, receive, send)
            if is_double and isinstance(payload.get("data"), list) and len(payload["data"]) == 2:
                # Two values over raw HTTP: Gradio would call double with a missing argument and answer
                # {"error": null}; fill in the default beam width, as gradio_client does.
                payload["data"] = [*payload["data"], DEFAULT_BEAM_WIDTH]
                body = json.dumps(payload).encode()
                scope = _with_length(scope, len(body))
            if call or payload.get("session_hash"):
                send = _busy_on_503(scope, receive, send, refuse)
        return await self.app(scope, _replay(body, receive), send)

    async def _refuse(self, blocks, call: bool, session_hash: str | None, message: str) -> dict:
        """Refuse a /double request, answering its POST with an event id: a raw /call's stream is then the
        guard's to answer; a join's message goes on the caller's session stream, through Gradio's queue."""
        if not call:
            return await gradio_patches.fail_as_event(blocks, session_hash, _error_output(message))
        event_id = uuid.uuid4().hex
        self._refused[event_id] = f"event: error\ndata: {json.dumps(_error_output(message))}\n\n".encode()
        while len(self._refused) > REFUSED_STREAMS_KEPT:
            self._refused.popitem(last=False)
        return {"event_id": event_id}

    def _double_fns(self, blocks) -> set[int]:
        if self._double_ids is None:
            self._double_ids = {i for i, fn in blocks.fns.items() if fn.api_name in (API_NAME, PAGE_API_NAME)}
        return self._double_ids


async def _read_capped(scope, receive) -> bytes | None:
    """The whole body, or None past MAX_BODY_BYTES (refused from the header alone when it says so; the rest
    of a refused body is drained)."""
    if _declared_length(scope) > MAX_BODY_BYTES:
        await _drain(scope, receive)
        return None
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            if message.get("more_body"):
                await _drain(scope, receive, size)
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _drain(scope, receive, already: int = 0) -> None:
    """Read and drop the rest of a refused request's body, up to DRAIN_BYTES in all (past that, not at all)."""
    if _declared_length(scope) > DRAIN_BYTES:
        return
    size = already
    while size <= DRAIN_BYTES:
        message = await receive()
        size += len(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body"):
            return


def _declared_length(scope) -> int:
    """The Content-Length header's value, or 0 without one (a chunked body is counted as it comes)."""
    length = dict(scope["headers"]).get(b"content-length")
    return int(length) if length is not None and length.isdigit() else 0


def _replay(body: bytes, receive):
    """A receive() that hands the route the body already read, then passes through (disconnects)."""
    sent = False

    async def replayed():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def _with_length(scope, length: int):
    headers = [(k, v) for k, v in scope["headers"] if k != b"content-length"]
    return {**scope, "headers": [*headers, (b"content-length", str(length).encode())]}


def _error_output(message: str) -> dict:
    """A failed event's output, as Gradio makes it for a gr.Error."""
    return {"error": message, "duration": None, "visible": True, "title": "Error"}


def _busy_on_503(scope, receive, send, refuse):
    """Requests that passed the bound together can still fill the queue before Gradio pushes them; its own
    answer is a bare 503 ("Queue is full"), so turn that into the same "busy" event as the guard's."""
    refused = False

    async def sending(message):
        nonlocal refused
        if message["type"] == "http.response.start" and message["status"] == 503:
            refused = True
        elif refused and message["type"] == "http.response.body" and not message.get("more_body"):
            await JSONResponse(await refuse(BUSY))(scope, receive, send)
        elif not refused:
            await send(message)

    return sending


def _api_stream_session(scope, path: str, blocks) -> str | None:
    """The session an API caller's result stream belongs to (None for a page's stream or anything else)."""
    if (stream := CALL_STREAM.search(path)) is not None:
        return gradio_patches.session_of_event(blocks, stream["event"])
    headers = dict(scope["headers"])
    # gradio_client marks its joins with x-gradio-user: api, but opens the stream with only its user agent.
    if QUEUE_STREAM.search(path) and (
        headers.get(b"x-gradio-user") == b"api" or headers.get(b"user-agent", b"").startswith(b"gradio_client")
    ):
        return parse_qs(scope.get("query_string", b"").decode()).get("session_hash", [None])[0]
    return None
