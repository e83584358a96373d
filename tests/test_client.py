"""The /double API through a real server and gradio_client: right answers, clear errors, users never mixed."""

from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from s2s.limits import MAX_CHARS, MAX_SENTENCES

pytestmark = pytest.mark.slow  # launches the app server


@pytest.fixture(scope="module")
def client(server_url):
    return Client(server_url, verbose=False)


def doubled(sentence: str) -> str:
    return " ".join(w for w in sentence.split() for _ in (0, 1))


def check(results, sentences, top_k):
    assert isinstance(results, list) and len(results) == len(sentences)
    for result, sentence in zip(results, sentences):
        assert set(result) == {"input", "output", "is_exact", "min_prob", "chunks", "steps"}
        assert result["input"] == sentence
        assert result["is_exact"] == (result["output"] == doubled(sentence))
        assert result["steps"] and all(len(step["top_k"]) == top_k for step in result["steps"])
        assert result["min_prob"] == pytest.approx(min(step["prob"] for step in result["steps"]))


def test_only_double_is_public(client):
    assert list(client.view_api(print_info=False, return_format="dict")["named_endpoints"]) == ["/double"]


def test_double_several_sentences(client, app_module):
    sentences = ["My name is Sunil", "I'm Deep Learning Geek", "I love CUDA", "I love Pytorch", "TF is Aww"]
    results = client.predict("\n".join(sentences), 4, api_name="/double")
    check(results, sentences, 4)
    assert [r["output"] for r in results] == [r.output for r in app_module.wd.double(sentences, 4)]


def test_a_third_value_sets_the_beam_width(client, app_module):
    sentences = ["I love CUDA", "TF is Aww"]
    results = client.predict("\n".join(sentences), 3, 2, api_name="/double")
    check(results, sentences, 3)
    assert results == [r.to_dict() for r in app_module.wd.double(sentences, 3, beam_width=2)]


def test_the_queue_does_not_summarize_every_event_with_pandas(client, app_module, monkeypatch):
    # Gradio's default is a pandas summary of up to 10,000 recorded events after each one: GIL work that grows
    # with the server's age, for a monitoring page this app does not offer.
    queue, summaries = app_module.demo._queue, []
    monkeypatch.setattr(queue, "event_count_at_last_cache", queue.events_recorded)
    monkeypatch.setattr(queue, "_get_df", lambda records: summaries.append(len(records)) or pd.DataFrame(records))
    for _ in range(3):
        client.predict("I love CUDA", 1, api_name="/double")
    assert summaries == []


def test_a_raw_call_gets_the_same_answer_as_gradio_client(client, server_url):
    """The answer is JSON made once in the worker (orjson.Fragment): a raw /call stream writes it as it is, and
    a client reading it finds what gradio_client finds, non-ASCII text included."""
    import json
    import urllib.request

    text, expected = "I love CUDA\ncafé naïve", client.predict("I love CUDA\ncafé naïve", 3, 2, api_name="/double")
    request = urllib.request.Request(
        server_url.rstrip("/") + "/gradio_api/call/double",
        method="POST",
        data=json.dumps({"data": [text, 3, 2]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        event_id = json.loads(answer.read())["event_id"]
    with urllib.request.urlopen(f"{server_url.rstrip('/')}/gradio_api/call/double/{event_id}", timeout=60) as stream:
        lines = stream.read().decode("utf-8").splitlines()
    assert lines[0] == "event: complete"
    assert json.loads(lines[1][len("data: ") :])[0] == expected and expected[1]["input"] == "café naïve"


BAD_INPUTS = {
    "empty": ("", 5, "no sentences given"),
    "blank": ("  \n\t\n ", 5, "no sentences given"),
    "too many sentences": ("\n".join(["I love CUDA"] * (MAX_SENTENCES + 1)), 5, f"at most {MAX_SENTENCES} per request"),
    "too many characters": ("a" * (MAX_CHARS + 1), 5, f"at most {MAX_CHARS:,} per request"),
    "top_k 0": ("I love CUDA", 0, "from 1 to 10"),
    "top_k 11": ("I love CUDA", 11, "from 1 to 10"),
}
BAD_BEAM_WIDTHS = {"beam width 0": 0, "beam width 9": 9}


@pytest.mark.parametrize("beam_width", BAD_BEAM_WIDTHS.values(), ids=BAD_BEAM_WIDTHS.keys())
def test_a_bad_beam_width_gets_app_error_naming_the_limit(client, beam_width):
    with pytest.raises(AppError, match="beam_width must be a whole number from 1 to 8"):
        client.predict("I love CUDA", 5, beam_width, api_name="/double")


@pytest.mark.parametrize("text, top_k, message", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_gets_app_error_and_the_server_keeps_serving(client, text, top_k, message):
    with pytest.raises(AppError, match=message):
        client.predict(text, top_k, api_name="/double")
    check(client.predict("TF is Aww", 2, api_name="/double"), ["TF is Aww"], 2)


def test_concurrent_clients_are_not_mixed(server_url, app_module):
    requests = [([f"I love U{i} {i}", f"My name is N{i}"][: 1 + i % 2], 1 + i % 5) for i in range(6)]
    requests.insert(3, ("", 5))  # one user sends nothing at all
    passes_before = app_module.batcher.passes

    def call(item):
        sentences, top_k = item
        client = Client(server_url, verbose=False)
        try:
            return client.predict(
                "\n".join(sentences) if isinstance(sentences, list) else sentences, top_k, api_name="/double"
            )
        except AppError as error:
            return error

    with ThreadPoolExecutor(len(requests)) as pool:
        outcomes = list(pool.map(call, requests))
    for (sentences, top_k), outcome in zip(requests, outcomes):
        if sentences == "":
            assert isinstance(outcome, AppError) and "no sentences given" in str(outcome)
        else:
            check(outcome, sentences, top_k)
    assert app_module.batcher.passes - passes_before <= len(requests) - 1  # the bad one never ran
