"""`PlainJSON`: a gr.JSON for values that are already plain JSON, passed on without pydantic walking them.

gr.JSON's postprocess round-trips every value through orjson and then validates the result, value by value,
against pydantic's recursive JSON type: 8 ms for one 32-sentence /double answer (~10,000 dicts, lists and
numbers), in one call that holds the GIL throughout, so the server's event loop waits for it. The answers of
/double are `DoubleResult.to_dict()` lists, plain JSON by construction; this component hands them on as they are
(0.01 ms) and gives anything else to gr.JSON's own postprocess. The page draws it as a gr.JSON: `is_template`
makes Gradio use the parent's frontend component, as its own template components do.
"""

from __future__ import annotations

import gradio as gr
from gradio.data_classes import JsonData


class PlainJSON(gr.JSON):
    is_template = True

    def postprocess(self, value):
        if isinstance(value, (list, dict)):
            return JsonData.model_construct(root=value)
        return super().postprocess(value)
