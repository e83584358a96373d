"""s2s.serve.plain_json: the /double output component hands plain JSON on as gr.JSON would, without validating it."""

import json
import warnings
from pathlib import Path

import gradio as gr
import gradio.routes
import orjson
from gradio.data_classes import JsonData

from s2s.serve import plain_json as module
from s2s.serve.plain_json import accept_fragments, plain_json

ANSWER = [
    {
        "input": "I love CUDA",
        "output": "I I love love CUDA CUDA",
        "is_exact": True,
        "min_prob": 0.99,
        "chunks": 1,
        "steps": [{"token": "I", "prob": 0.99, "top_k": [["I", 0.99], ["<unk>", 0.01]], "chunk": 0}],
    }
]


def test_a_plain_answer_comes_out_as_gr_json_makes_it():
    for value in (ANSWER, {"results": ANSWER}, [], {}):
        assert plain_json(gr.JSON()).postprocess(value).model_dump() == gr.JSON().postprocess(value).model_dump()


def test_a_plain_answer_is_handed_on_as_it_is_not_copied_through_validation():
    assert plain_json(gr.JSON()).postprocess(ANSWER).root is ANSWER
    assert gr.JSON().postprocess(ANSWER).root is not ANSWER  # what gr.JSON does: orjson round trip, then validation


def test_anything_else_takes_gr_json_s_own_way():
    assert plain_json(gr.JSON()).postprocess('{"a": [1, 2]}').model_dump() == {"a": [1, 2]}  # a JSON string is parsed
    assert plain_json(gr.JSON()).postprocess(None) is None


def test_it_stays_a_gr_json_and_leaves_no_stub_file_behind():
    component = plain_json(gr.JSON(label="Response of /double"))
    assert type(component) is gr.JSON and component.get_block_name() == "json"
    assert not Path(module.__file__).with_suffix(".pyi").exists()  # Gradio writes one for each new component class


def test_json_made_already_is_handed_on_as_it_is():
    fragment = orjson.Fragment(orjson.dumps(ANSWER))
    assert plain_json(gr.JSON()).postprocess(fragment).root is fragment
    message = {"output": {"data": [fragment, None]}}  # as a gradio_client stream writes it: orjson embeds it
    assert orjson.loads(orjson.dumps(message, default=str)) == {"output": {"data": [ANSWER, None]}}


def test_gradios_routes_write_a_raw_call_streams_fragment_and_everything_else_as_before():
    accept_fragments()
    routes_json = gradio.routes.json
    fragment = orjson.Fragment(orjson.dumps(ANSWER))
    assert json.loads(routes_json.dumps([fragment, None])) == [ANSWER, None]
    for value in ([ANSWER, None], {"a": 1}, "text", [1.5, float("nan")]):
        assert routes_json.dumps(value) == json.dumps(value)  # json's own, NaN and spacing included
    assert routes_json.dumps({"a": 1}, indent=2) == json.dumps({"a": 1}, indent=2)
    assert routes_json.loads('{"a": 1}') == {"a": 1}
    accept_fragments()
    assert gradio.routes.json is routes_json  # installed once


def test_gradios_warnings_about_a_fragment_stay_out_of_the_log_and_others_do_not():
    fragment = orjson.Fragment(orjson.dumps(ANSWER))
    accept_fragments()
    with warnings.catch_warnings(record=True) as caught:
        assert JsonData.model_construct(root=fragment).model_dump() is fragment  # handed on as it is
        assert gr.JSON().postprocess(fragment).model_dump() == ANSWER  # a page session's own copy: still right
        gr.JSON().postprocess(3.5)  # any other unexpected type is still reported
    assert [str(w.message) for w in caught] == [
        f"JSON component received unexpected type {float}. "
        "Expected a string (including a valid JSON string), dict, list, or Callable."
    ]
