"""`plain_json(component)`: a gr.JSON output that passes values that are already JSON on as they are.

gr.JSON's postprocess round-trips every value through orjson and then validates the result, value by value,
against pydantic's recursive JSON type: 8 ms for one 32-sentence /double answer (~10,000 dicts, lists and
numbers), in one call that holds the GIL throughout, so the server's event loop waits for it. The answers of
/double are `DoubleResult.to_dict()` lists, plain JSON by construction; this hands them on unvalidated (0.01 ms)
and gives anything else to gr.JSON's own postprocess. The component stays a gr.JSON instance (its method is
replaced on the instance): a subclass would make Gradio write a .pyi stub beside this file at import. A page
session whose JSON view has been updated keeps its own plain gr.JSON copy, so its later runs are validated
as before; API calls, each a new session, always take this way.

/double goes further: app.py serializes its answer once, in the request's worker thread, and hands Gradio an
`orjson.Fragment`, JSON already made. Each result stream then writes it on the event loop as it is: a
gradio_client stream's message (pydantic's `model_dump`, then orjson) 2.0 -> 0.007 ms for a 32-sentence answer,
and a raw /call stream's (`json.dumps`, which cannot take a Fragment, so `accept_fragments`
gives Gradio's routes a `json` whose `dumps` hands such data to orjson) 4.6 -> 0.03 ms. Under a flood those
writes were the largest part of the event loop's work (README, "Queue and latency").
"""

from __future__ import annotations

import json
import warnings

import gradio as gr
import gradio.routes
import orjson
from gradio.data_classes import JsonData


def plain_json(component: gr.JSON) -> gr.JSON:
    validating = component.postprocess

    def postprocess(value):
        if isinstance(value, (list, dict, orjson.Fragment)):
            return JsonData.model_construct(root=value)
        return validating(value)

    component.postprocess = postprocess
    return component


class _JsonEmbeddingFragments:
    """The json module, but `dumps` of a value list holding an orjson.Fragment (a raw /call stream's data) is
    orjson's, which writes the fragment as it is; everything else is json's own."""

    def __getattr__(self, name: str):
        return getattr(json, name)

    @staticmethod
    def dumps(value, **options) -> str:
        if not options and isinstance(value, list) and any(isinstance(item, orjson.Fragment) for item in value):
            return orjson.dumps(value).decode()
        return json.dumps(value, **options)


def accept_fragments() -> None:
    """Let Gradio take an orjson.Fragment as a gr.JSON value (idempotent): its routes write a raw /call stream's
    data that holds one, and its two warnings about the unexpected type (gr.JSON's own postprocess, which a page
    session's copy of the component still runs, and pydantic's union serializer, which hands the fragment on as
    it is) stay out of the server's log."""
    if not isinstance(gradio.routes.json, _JsonEmbeddingFragments):
        gradio.routes.json = _JsonEmbeddingFragments()
    warnings.filterwarnings(
        "ignore", r"JSON component received unexpected type <class 'orjson\.Fragment'>", UserWarning
    )
    warnings.filterwarnings(
        "ignore",
        r"Pydantic serializer warnings:\s+PydanticSerializationUnexpectedValue\(.*"
        r"input_value=<orjson\.Fragment",
        UserWarning,
    )
