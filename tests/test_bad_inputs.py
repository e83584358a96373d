"""Every bad request in tests/bad_inputs.py's TABLE gets a message naming the limit: from the library, raw HTTP and
gradio_client."""

import json
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from bad_inputs import TABLE, markdown, server_answer
from gradio_client import Client
from gradio_client.exceptions import AppError

from s2s import Seq2Seq, Seq2SeqConfig, WordDoubler, WordTokenizer

IDS = [row.name for row in TABLE]


def test_the_table_is_long_and_every_server_answer_names_its_limit():
    assert len(TABLE) >= 25
    for row in TABLE:
        assert row.expect in server_answer(row), row.name


def test_the_docs_table_has_a_line_per_row_and_is_the_printed_one():
    lines = markdown().splitlines()
    assert len(lines) == 2 + len(TABLE) and all(server_answer(row) in markdown() for row in TABLE)
    docs = (Path(__file__).resolve().parent.parent / "docs" / "serving.md").read_text(encoding="utf-8")
    assert markdown() in docs, "docs/serving.md: paste the table `python scripts/bad_inputs_table.py` prints"


@pytest.fixture(scope="module")
def wd():
    tokenizer = WordTokenizer(["I", "love", "CUDA"], num_slots=4)
    config = Seq2SeqConfig(vocab_size=tokenizer.vocab_size, embed_size=8, hidden_size=16, max_src_len=6)
    return WordDoubler(Seq2Seq(config).eval(), tokenizer, device="cpu")


LIBRARY_ROWS = [row for row in TABLE if row.library is not None]


@pytest.mark.parametrize("row", LIBRARY_ROWS, ids=[row.name for row in LIBRARY_ROWS])
def test_the_library_refuses_what_it_checks(wd, row):
    with pytest.raises(ValueError, match=re.escape(row.library_expect or row.expect)):
        wd.double(*row.library)


# --- through a real server ---


def raw_answer(url: str, row) -> tuple[int, dict | str]:
    """POST the row as a raw client would; an accepted call is followed to its event stream's last event."""
    body = row.body if row.body is not None else json.dumps({"data": row.data}).encode()  # NaN as JSON's NaN
    request = urllib.request.Request(
        url.rstrip("/") + row.path, data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            status, posted = answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
    with urllib.request.urlopen(f"{url.rstrip('/')}{row.path}/{posted['event_id']}", timeout=60) as stream:
        events = stream.read().decode()
    event, data = re.findall(r"event: (\w+)\ndata: (.*)\n", events)[-1]
    assert event == "error", events
    return status, json.loads(data)


@pytest.mark.slow
@pytest.mark.parametrize("row", TABLE, ids=IDS)
def test_raw_http_gets_a_message_naming_the_limit(server_url, row):
    status, answer = raw_answer(server_url, row)
    assert isinstance(answer, dict) and answer.get("error"), answer  # never {"error": null}
    assert row.expect in answer["error"]
    assert status in (200, 400, 403, 413)


CLIENT_ROWS = [row for row in TABLE if row.client]


@pytest.fixture(scope="module")
def client(server_url):
    return Client(server_url, verbose=False)


@pytest.mark.slow
@pytest.mark.parametrize("row", CLIENT_ROWS, ids=[row.name for row in CLIENT_ROWS])
def test_gradio_client_gets_app_error_naming_the_limit(client, row):
    with pytest.raises(AppError, match=re.escape(row.expect)):
        client.predict(*row.data, api_name="/double")


@pytest.mark.slow
def test_two_raw_values_mean_the_default_beam_width(server_url, app_module):
    body = json.dumps({"data": ["I love CUDA", 3]}).encode()
    request = urllib.request.Request(
        server_url.rstrip("/") + "/gradio_api/call/double", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        event_id = json.loads(answer.read())["event_id"]
    with urllib.request.urlopen(f"{server_url.rstrip('/')}/gradio_api/call/double/{event_id}", timeout=60) as stream:
        event, data = re.findall(r"event: (\w+)\ndata: (.*)\n", stream.read().decode())[-1]
    assert event == "complete"
    assert json.loads(data)[0] == [r.to_dict() for r in app_module.wd.double(["I love CUDA"], 3)]
