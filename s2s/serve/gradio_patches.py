"""Everything this app changes in Gradio, or reads of Gradio's private state, in one place: written for Gradio 6.31.0.

`install()` puts each patch in, with why, on the version they were written for. On any other version it installs
none and logs one warning, and the app works as Gradio itself does: slower under load (every session builds its
~60 component configs, every /double answer is walked by pydantic on the event loop) and with bad /double requests
refused by the function in a worker rather than before they queue. The guard (guard.py) reaches the queue's private
state only through the helpers below, which it calls only when the patches are in.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

import gradio
import orjson

from . import lazy_sessions, plain_json

WRITTEN_FOR = "6.31.0"
log = logging.getLogger(__name__)
_state = {"installed": False, "warned": False}


def fits() -> bool:
    """Whether the running Gradio is the one these patches were written for."""
    return gradio.__version__ == WRITTEN_FOR


def install() -> bool:
    """Install every patch (idempotent); on another Gradio, none, with one warning. Returns whether they are in.

    1. Sessions build their component configs on first use (lazy_sessions.py): every API call is a new session,
       and building ~60 configs for it was a third of the event loop's time under load.
    2. Gradio's routes take an orjson.Fragment as JSON already made (plain_json.py): /double's answer is
       serialized once, in its worker thread, instead of walked value by value on the event loop.
    """
    if not fits():
        if not _state["warned"]:
            log.warning(
                "Gradio %s: the patches written for %s are not installed; the app runs as Gradio does "
                "(slower under load)",
                gradio.__version__,
                WRITTEN_FOR,
            )
            _state["warned"] = True
        return False
    lazy_sessions.install()
    plain_json.accept_fragments()
    _state["installed"] = True
    return True


def installed() -> bool:
    return _state["installed"]


def plain_json_output(component):
    """A gr.JSON output that hands JSON already made on unvalidated (plain_json.py), where the patches are in."""
    return plain_json.plain_json(component) if fits() else component


def json_answer(made: bytes):
    """An answer already serialized: as it is (an orjson.Fragment) where the routes take one, else parsed."""
    return orjson.Fragment(made) if installed() else orjson.loads(made)


# --- the queue's private state, for guard.py ---


def queue_full(blocks) -> bool:
    queue = blocks._queue
    return queue.max_size is not None and len(queue) >= queue.max_size


async def fail_as_event(blocks, session_hash: str | None, output: dict) -> dict:
    """Answer a join as Gradio answers an event that failed: an event id, and on the caller's stream a
    completed-with-error message (what gradio_client turns into AppError and the page into an error toast)."""
    from gradio.server_messages import ProcessCompletedMessage

    queue, event_id = blocks._queue, uuid.uuid4().hex
    session_hash = session_hash or event_id  # a raw /call names no session: Gradio then uses the event id
    async with queue.pending_message_lock:
        if session_hash not in queue.pending_messages_per_session:
            queue.pending_messages_per_session[session_hash] = asyncio.Queue()
        queue.pending_event_ids_session.setdefault(session_hash, set()).add(event_id)
    queue.pending_messages_per_session[session_hash].put_nowait(
        ProcessCompletedMessage(output=output, success=False, event_id=event_id)
    )
    return {"event_id": event_id}


def session_of_event(blocks, event_id: str) -> str:
    """The session a queued (or pending) event belongs to; the event id itself for a raw /call's own session."""
    queue = blocks._queue
    if (event := queue.event_ids_to_events.get(event_id)) is not None:
        return event.session_hash
    return next((s for s, ids in list(queue.pending_event_ids_session.items()) if event_id in ids), event_id)


def forget_session(blocks, session: str) -> None:
    """An API session's stream ended: nothing will redraw from its state, so drop it unless more is pending."""
    queue = blocks._queue
    if queue.pending_event_ids_session.get(session):
        return
    queue.pending_event_ids_session.pop(session, None)
    holder = blocks.state_holder
    with holder.lock:
        holder.session_data.pop(session, None)
        holder.time_last_used.pop(session, None)
