"""Dynamic micro-batching: concurrent `double` calls that arrive within a few milliseconds share one forward pass.

The pattern of Triton's dynamic batcher and Ray Serve's `@serve.batch`, for threads (Gradio runs sync
handlers in a thread pool): each caller validates its own request, puts it on a queue with a future and
waits; one worker thread takes what has arrived, runs a single `WordDoubler.double` over all of it and
hands every caller exactly its own slice. A bad request is refused in its own thread before it joins a
batch, so it can never fail anyone else's.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace

from ..limits import DEFAULT_BEAM_WIDTH, MAX_SENTENCES, check_request
from ..results import DoubleResult

# One merged forward pass holds at most this many sentence beams (sentences x beam width, each one
# decoder row before chunking): big enough to fill a CPU or GPU, small enough that nobody waits behind
# a huge batch. At the default width that is two full requests (a request over it still runs, alone).
# Twice as many decoded 3% more requests a second in the library, but the answers of up to 16 requests then
# came back at once, and the server's event loop, busy with all of them, made everyone else wait: under a flood
# a refusal's p95 0.13-0.17 s against 0.08-0.09 s, "busy" 0.08-0.14 against 0.05-0.09 s (README, Queue and latency).
MAX_BATCH_BEAMS = 2 * MAX_SENTENCES * DEFAULT_BEAM_WIDTH
# How long the first request of a batch waits for companions. A decode step costs about a
# millisecond, so a few milliseconds of waiting is cheap next to a whole sentence's decoding.
MAX_WAIT_S = 0.005


@dataclass
class BatchInfo:
    """How a request ran: alone, or merged with others into one forward pass."""

    requests: int  # requests merged into the forward pass (1 = ran alone)
    sentences: int  # sentences in that forward pass, everyone's together
    forward_ms: float  # time of the one `double` call over the merged batch
    wait_ms: float  # from submitting to getting results back, forward pass included
    merged: bool = True  # False when the merged pass failed and this request was re-run alone


@dataclass
class _Request:
    sentences: list[str]
    top_k: int
    beam_width: int
    future: Future = field(default_factory=Future)
    submitted: float = field(default_factory=time.perf_counter)

    @property
    def beams(self) -> int:
        """Its share of a merged pass: one decoder row per sentence and beam (before chunking)."""
        return len(self.sentences) * self.beam_width


DoubleFn = Callable[[list[str], int, int], list[DoubleResult]]


class MicroBatcher:
    """Merges concurrent `double(sentences, top_k, beam_width)` calls into single calls of `double_fn`.

    `double_fn` is usually `WordDoubler.double_batch`. The worker thread starts on first use, never at
    import. Requests with different top_k share a pass run at the largest k; each result keeps only its
    own k (top-k lists are sorted, so the first k of a larger k are the same candidates). Requests with
    different beam widths never share a pass: the width changes what is decoded.
    """

    def __init__(self, double_fn: DoubleFn, max_batch_beams: int = MAX_BATCH_BEAMS, max_wait_s: float = MAX_WAIT_S):
        self.double_fn = double_fn
        self.max_batch_beams = max_batch_beams
        self.max_wait_s = max_wait_s
        self._queue: queue.Queue[_Request] = queue.Queue()
        self._held: _Request | None = None  # taken from the queue but did not fit the last batch
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()
        self.passes = 0  # forward passes run so far (merged or alone), for logs and tests

    def double(self, sentences: list[str], top_k: int, beam_width: int = DEFAULT_BEAM_WIDTH) -> list[DoubleResult]:
        return self.double_with_info(sentences, top_k, beam_width)[0]

    def double_with_info(
        self, sentences: list[str], top_k: int, beam_width: int = DEFAULT_BEAM_WIDTH
    ) -> tuple[list[DoubleResult], BatchInfo]:
        """Like `WordDoubler.double`; blocks until this request's own results (or its own error) are back."""
        sentences = [sentences] if isinstance(sentences, str) else list(sentences)
        check_request(sentences, top_k, beam_width)  # refused here, in the caller's thread: it never joins a batch
        request = _Request(sentences, top_k, beam_width)
        self._ensure_worker()
        self._queue.put(request)
        return request.future.result()

    # --- the worker thread ---

    def _ensure_worker(self) -> None:
        with self._lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._run_forever, name="s2s-micro-batcher", daemon=True)
                self._worker.start()

    def _run_forever(self) -> None:
        while True:
            batch = self._collect()
            try:
                self._run(batch)
            except BaseException as error:  # never let the worker die with callers waiting
                for request in batch:
                    if not request.future.done():
                        request.future.set_exception(error)

    def _collect(self) -> list[_Request]:
        """Block for a first request, then take whatever arrives within max_wait_s with the same beam width,
        up to the size cap (a first request always runs, however big)."""
        first = self._held if self._held is not None else self._queue.get()
        self._held = None
        batch, size = [first], first.beams
        deadline = time.perf_counter() + self.max_wait_s
        while size < self.max_batch_beams:
            timeout = deadline - time.perf_counter()
            try:
                request = self._queue.get(timeout=timeout) if timeout > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if size + request.beams > self.max_batch_beams or request.beam_width != first.beam_width:
                self._held = request  # first in line for the next batch
                break
            batch.append(request)
            size += request.beams
        return batch

    def _run(self, batch: list[_Request]) -> None:
        merged = [s for request in batch for s in request.sentences]
        top_k = max(request.top_k for request in batch)
        start = time.perf_counter()
        try:
            results = self.double_fn(merged, top_k, batch[0].beam_width)
            self.passes += 1
        except Exception:
            if len(batch) == 1:
                raise
            # Something no per-request check could see (e.g. a model error): run each request alone,
            # so that each caller gets its own result or its own error.
            for request in batch:
                self._run_alone(request)
            return
        forward_ms = 1000 * (time.perf_counter() - start)
        offset = 0
        for request in batch:
            own = results[offset : offset + len(request.sentences)]
            offset += len(request.sentences)
            info = BatchInfo(len(batch), len(merged), forward_ms, 1000 * (time.perf_counter() - request.submitted))
            request.future.set_result(([_keep_top_k(r, request.top_k, top_k) for r in own], info))

    def _run_alone(self, request: _Request) -> None:
        start = time.perf_counter()
        try:
            results = self.double_fn(request.sentences, request.top_k, request.beam_width)
            self.passes += 1
        except Exception as error:
            request.future.set_exception(error)
            return
        now = time.perf_counter()
        info = BatchInfo(
            1, len(request.sentences), 1000 * (now - start), 1000 * (now - request.submitted), merged=False
        )
        request.future.set_result((results, info))


def _keep_top_k(result: DoubleResult, k: int, ran_at: int) -> DoubleResult:
    """The result with each step's top-k cut to k, from a pass run at k = ran_at. A request that asked for the
    pass's own k is not touched: its steps are built in its own thread when its answer is made, not here, in the
    worker, one request after another before the next pass."""
    if k >= ran_at or all(len(step.top_k) <= k for step in result.steps):
        return result
    return replace(result, steps=[replace(step, top_k=step.top_k[:k]) for step in result.steps])
