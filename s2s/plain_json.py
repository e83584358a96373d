"""`plain_json(component)`: a gr.JSON output that passes values that are already plain JSON on as they are.

gr.JSON's postprocess round-trips every value through orjson and then validates the result, value by value,
against pydantic's recursive JSON type: 8 ms for one 32-sentence /double answer (~10,000 dicts, lists and
numbers), in one call that holds the GIL throughout, so the server's event loop waits for it. The answers of
/double are `DoubleResult.to_dict()` lists, plain JSON by construction; this hands them on unvalidated (0.01 ms)
and gives anything else to gr.JSON's own postprocess. The component stays a gr.JSON instance (its method is
replaced on the instance): a subclass would make Gradio write a .pyi stub beside this file at import. A page
session whose JSON view has been updated keeps its own plain gr.JSON copy, so its later runs are validated
as before; API calls, each a new session, always take this way.
"""

from __future__ import annotations

import gradio as gr
from gradio.data_classes import JsonData


def plain_json(component: gr.JSON) -> gr.JSON:
    validating = component.postprocess

    def postprocess(value):
        if isinstance(value, (list, dict)):
            return JsonData.model_construct(root=value)
        return validating(value)

    component.postprocess = postprocess
    return component
