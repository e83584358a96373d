"""`python -m s2s.loadtest` against the real app served on a free port: every user gets its own answers, no errors."""

import http.server
import json
import threading
import time
from collections import Counter

import pytest

from s2s.tools.loadtest import flood, main


@pytest.mark.slow
def test_eight_users_get_their_own_answers_and_no_errors(tmp_path):
    report = main(
        [
            "--local",
            "--users",
            "8",
            "--requests",
            "5",
            "--sentences",
            "3",
            "--words",
            "6",
            "--flood",
            "2",
            "--json",
            str(tmp_path / "load.json"),
        ]
    )
    assert report["answered_requests"] == 40 and report["errors"] == 0 and report["busy"] == 0
    assert report["users_nice"] == 19
    assert report["flood_served"] > 0 and report["flood_busy"] == report["flood_other"] == 0  # two senders fill nothing
    assert report["mixed_answers"] == 0
    assert report["info_probes"] > 0 and report["info_p95_s"] < 30
    assert report["refusal_probes"] > 0 and report["refusal_p95_s"] < 30  # every bad request refused, none lost
    assert report["busy_probe_probes"] == 0  # 8 users never fill the queue: the busy prober's requests are served
    assert report["rss_mb_before"] and report["rss_mb_after"]


class _CutStreams(http.server.BaseHTTPRequestHandler):
    """Answers /double's POST with an event id, then cuts its stream short in the middle of a chunk (as a server
    that stops while a sender reads does)."""

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        body = json.dumps({"event_id": "cut"}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.write(b"40\r\nevent: complete\r\n")  # 64 bytes announced, fewer sent
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args):
        pass


def test_a_stream_cut_short_is_an_other_answer_not_a_dead_sender():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CutStreams)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    out, stop, errors = Counter(), threading.Event(), []
    hook = threading.excepthook
    threading.excepthook = lambda args: errors.append(args.exc_value)  # a sender killed by an exception shows here
    try:
        sender = threading.Thread(target=flood, args=(f"http://127.0.0.1:{server.server_port}/", stop, "hi", out, 0))
        sender.start()
        deadline = time.monotonic() + 10
        while out["other"] < 2 and sender.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        sender.join(10)
    finally:
        threading.excepthook = hook
        server.shutdown()
    assert errors == [] and out["other"] >= 2 and out["served"] == 0  # it counted each cut stream and tried again
