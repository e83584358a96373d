"""s2s.plain_json: the /double output component hands plain JSON on as gr.JSON would, without validating it."""

import gradio as gr

from s2s.plain_json import PlainJSON

ANSWER = [{"input": "I love CUDA", "output": "I I love love CUDA CUDA", "is_exact": True, "min_prob": 0.99,
           "chunks": 1, "steps": [{"token": "I", "prob": 0.99, "top_k": [["I", 0.99], ["<unk>", 0.01]], "chunk": 0}]}]


def test_a_plain_answer_comes_out_as_gr_json_makes_it():
    for value in (ANSWER, {"results": ANSWER}, [], {}):
        assert PlainJSON().postprocess(value).model_dump() == gr.JSON().postprocess(value).model_dump()


def test_anything_else_takes_gr_json_s_own_way():
    assert PlainJSON().postprocess('{"a": [1, 2]}').model_dump() == {"a": [1, 2]}  # a JSON string is parsed
    assert PlainJSON().postprocess(None) is None


def test_the_page_draws_it_with_gr_json_s_frontend_component():
    assert PlainJSON().get_block_name() == gr.JSON().get_block_name() == "json"
