"""The table of bad requests a public server must answer, and what each one gets: the tests' data.

One table serves the tests (tests/test_bad_inputs.py sends every row through raw HTTP, gradio_client where a
client can send it, and `WordDoubler.double` where the library checks it) and the docs
(`python scripts/bad_inputs_table.py` prints it as Markdown, each answer computed by the same checks the server
runs before a request is queued).
"""

from __future__ import annotations

from dataclasses import dataclass

from s2s.limits import MAX_BODY_BYTES, MAX_CHARS, MAX_SENTENCES, MAX_WORDS_PER_SENTENCE
from s2s.serve.guard import NO_UPLOADS, NOT_JSON, TOO_LARGE, refusal

OK = "I love CUDA"
TOP_K = "top_k must be a whole number from 1 to 10"
BEAM = "beam_width must be a whole number from 1 to 8"
NOT_TEXT = "the input must be text"
VALUES = "takes 2 or 3 values"


@dataclass(frozen=True)
class BadInput:
    name: str
    data: object  # the "data" of POST /gradio_api/call/double (and gradio_client's values when `client`)
    expect: str  # in every answer's message: the limit it names
    client: bool = True  # gradio_client can send these values (it always sends three)
    library: tuple | None = None  # (sentences, top_k, beam_width) for WordDoubler.double, where the library checks it
    library_expect: str | None = None  # the library's wording, when it differs from the server's
    body: bytes | None = None  # a raw body instead of {"data": data}
    path: str = "/gradio_api/call/double"


def _data(text, top_k=5, beam_width=2) -> list:
    return [text, top_k, beam_width]


LONG = " ".join(["word"] * (MAX_WORDS_PER_SENTENCE + 1))
TABLE = [
    BadInput("empty text", _data(""), "no sentences given"),
    BadInput("blank lines only", _data("  \n\t\n "), "no sentences given"),
    BadInput(
        f"{MAX_SENTENCES + 1} sentences",
        _data("\n".join([OK] * (MAX_SENTENCES + 1))),
        f"at most {MAX_SENTENCES} per request",
    ),
    BadInput(f"{MAX_CHARS + 1:,} characters", _data("a" * (MAX_CHARS + 1)), f"at most {MAX_CHARS:,} per request"),
    BadInput(
        f"a sentence of {MAX_WORDS_PER_SENTENCE + 1} words",
        _data(LONG),
        f"at most {MAX_WORDS_PER_SENTENCE} per sentence",
        library=([LONG], 5, 2),
    ),
    # gradio_client (httpx) cannot encode these two itself; raw JSON can carry them.
    BadInput("a lone surrogate in the text", _data("I love \ud800 CUDA"), "lone surrogate U+D800", client=False),
    BadInput("text is a number", _data(5), NOT_TEXT, library=(5, 5, 2), library_expect="got int"),
    BadInput("text is null", _data(None), NOT_TEXT, library=(None, 5, 2), library_expect="got NoneType"),
    BadInput("text is a list", _data([OK]), NOT_TEXT),
    BadInput("text is an object", _data({"text": OK}), NOT_TEXT),
    BadInput("top_k 0", _data(OK, 0), TOP_K, library=([OK], 0, 2)),
    BadInput("top_k 11", _data(OK, 11), TOP_K, library=([OK], 11, 2)),
    BadInput("top_k -1", _data(OK, -1), TOP_K, library=([OK], -1, 2)),
    BadInput("top_k 2.5", _data(OK, 2.5), TOP_K, library=([OK], 2.5, 2)),
    BadInput('top_k "5" (a string)', _data(OK, "5"), TOP_K, library=([OK], "5", 2)),
    BadInput("top_k true", _data(OK, True), TOP_K, library=([OK], True, 2)),
    BadInput("top_k null", _data(OK, None), TOP_K, library=([OK], None, 2)),
    BadInput("top_k NaN", _data(OK, float("nan")), TOP_K, client=False),
    BadInput("top_k 1e9", _data(OK, 1e9), TOP_K),
    BadInput("top_k [5]", _data(OK, [5]), TOP_K),
    BadInput("beam width 0", _data(OK, 5, 0), BEAM, library=([OK], 5, 0)),
    BadInput("beam width 9", _data(OK, 5, 9), BEAM, library=([OK], 5, 9)),
    BadInput("beam width 1.5", _data(OK, 5, 1.5), BEAM, library=([OK], 5, 1.5)),
    BadInput('beam width "wide"', _data(OK, 5, "wide"), BEAM),
    BadInput("beam width null", _data(OK, 5, None), BEAM),
    BadInput("no values: data []", [], VALUES, client=False),
    BadInput("one value", [OK], VALUES, client=False),
    BadInput("four values", [OK, 5, 2, 1], VALUES, client=False),
    BadInput("data is a string", OK, "data must be a list", client=False),
    BadInput("data is null", None, "data must be a list", client=False),
    BadInput("body is not JSON", None, "must be a JSON object", client=False, body=b"text=I love CUDA"),
    BadInput(
        f"body over {MAX_BODY_BYTES:,} bytes",
        None,
        "request body too large",
        client=False,
        body=b'{"data": ["' + b"a" * MAX_BODY_BYTES + b'", 5]}',
    ),
    BadInput("a file upload", None, "takes no files", client=False, body=b"x" * 1000, path="/gradio_api/upload"),
]


def server_answer(row: BadInput) -> str:
    """What the server's guard answers this row, computed by the same functions it runs."""
    if row.path.endswith("/upload"):
        return NO_UPLOADS
    if row.body is not None:
        return TOO_LARGE if len(row.body) > MAX_BODY_BYTES else NOT_JSON
    return refusal(row.data) or ""


def markdown() -> str:
    """The README's table: each bad request and the message every path (HTTP, gradio_client, page) answers."""
    lines = ["| # | bad request | answer |", "|---|---|---|"]
    for number, row in enumerate(TABLE, 1):
        answer = server_answer(row).replace("|", "\\|")
        lines.append(f"| {number} | {row.name} | {answer} |")
    return "\n".join(lines)
