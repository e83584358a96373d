"""`python -m s2s.loadtest` against the real app served on a free port: every user gets its own answers, no errors."""

import pytest

from s2s.loadtest import main


@pytest.mark.slow
def test_eight_users_get_their_own_answers_and_no_errors(tmp_path):
    report = main(["--local", "--users", "8", "--requests", "5", "--sentences", "3", "--words", "6", "--flood", "2",
                   "--json", str(tmp_path / "load.json")])
    assert report["answered_requests"] == 40 and report["errors"] == 0 and report["busy"] == 0
    assert report["users_nice"] == 19
    assert report["flood_served"] > 0 and report["flood_busy"] == report["flood_other"] == 0  # two senders fill nothing
    assert report["mixed_answers"] == 0
    assert report["info_probes"] > 0 and report["info_p95_s"] < 30
    assert report["refusal_probes"] > 0 and report["refusal_p95_s"] < 30  # every bad request refused, none lost
    assert report["busy_probe_probes"] == 0  # 8 users never fill the queue: the busy prober's requests are served
    assert report["rss_mb_before"] and report["rss_mb_after"]
