"""The page's views by name, on hand-made data: no model, no server."""

import json

from s2s.page import views

RESULTS = [{"input": "I love CUDA"}, {"input": "TF is Aww"}]


def test_results_come_back_from_the_state_and_none_before_a_run():
    assert views.results_of({"results": json.dumps(RESULTS)}) == RESULTS
    assert views.results_of(None) == [] and views.results_of({}) == []


def test_the_chosen_result_falls_back_to_the_first():
    assert views.chosen(RESULTS, 1) == RESULTS[1]
    assert views.chosen(RESULTS, 7) == RESULTS[0] and views.chosen(RESULTS, None) == RESULTS[0]
    assert views.chosen(RESULTS, -1) == RESULTS[0]
    assert views.chosen([], 0) is None


def test_the_api_preview_keeps_three():
    many = [{"input": f"w{i}"} for i in range(views.API_PREVIEW + 2)]
    shown, label = views.api_preview(many)
    assert shown == many[: views.API_PREVIEW] and f"the first {views.API_PREVIEW} of {len(many)}" in label
    assert views.api_preview(RESULTS) == (RESULTS, "Response of /double")
