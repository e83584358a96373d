"""s2s.plain_json: the /double output component hands plain JSON on as gr.JSON would, without validating it."""

from pathlib import Path

import gradio as gr

from s2s import plain_json as module
from s2s.plain_json import plain_json

ANSWER = [{"input": "I love CUDA", "output": "I I love love CUDA CUDA", "is_exact": True, "min_prob": 0.99,
           "chunks": 1, "steps": [{"token": "I", "prob": 0.99, "top_k": [["I", 0.99], ["<unk>", 0.01]], "chunk": 0}]}]


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
