"""/double as an MCP tool: a real MCP client (the `mcp` package, streamable HTTP) against a real `python app.py`."""

import ast
import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = pytest.mark.slow  # launches the app server

SENTENCES = "I love CUDA\nTF is Aww"


def mcp_session(url: str, work):
    """Run `work(session)` in an MCP client session, on an event loop of its own thread (a browser test's Playwright
    may hold this thread's loop)."""
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async def session_work():
        async with streamable_http_client(url + "gradio_api/mcp/") as (read, write, _):
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await work(session)

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, session_work()).result()


@pytest.fixture(scope="module")
def served():
    from s2s.tools.loadtest import launched_app

    with launched_app() as (url, _, _):
        yield url


def test_the_tool_is_listed_with_its_description_and_argument_schema(served):
    tools = (mcp_session(served, lambda s: s.list_tools())).tools
    assert [t.name for t in tools] == ["double"]  # only what is public: the page's own handlers are private
    tool = tools[0]
    assert "I I love love CUDA CUDA" in tool.description and "128 sentences" in tool.description
    assert "Returns:" in tool.description
    properties = tool.inputSchema["properties"]
    assert set(properties) == {"text", "top_k", "beam_width"}
    assert "1 to 10" in properties["top_k"]["description"] and "1 to 8" in properties["beam_width"]["description"]


def test_a_call_gives_what_gradio_client_gives(served):
    from gradio_client import Client

    async def call(session):
        return await session.call_tool("double", {"text": SENTENCES, "top_k": 3, "beam_width": 2})

    result = mcp_session(served, call)
    assert not result.isError
    # Gradio writes a tool's result as the text of its Python value (`str`): the same list, as Python literals.
    via_mcp = ast.literal_eval(result.content[0].text)
    via_client = Client(served, verbose=False).predict(SENTENCES, 3, 2, api_name="/double")
    assert via_mcp == via_client
    assert [r["input"] for r in via_mcp] == SENTENCES.splitlines()


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"text": "I love CUDA", "top_k": 99, "beam_width": 2}, "top_k"),
        ({"text": "", "top_k": 3, "beam_width": 2}, "no sentences"),
        ({"text": "x\n" * 200, "top_k": 3, "beam_width": 2}, "at most 128"),
    ],
)
def test_a_bad_call_gets_the_limits_message_not_a_traceback(served, arguments, message):
    async def call(session):
        return await session.call_tool("double", arguments)

    result = mcp_session(served, call)
    text = " ".join(getattr(c, "text", "") for c in result.content)
    assert result.isError and message in text, text
    assert "Traceback" not in text and 'File "' not in text
