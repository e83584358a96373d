"""`python -m s2s.space build`: the built folder, alone, serves the pinned commit from a Hub (the server of
tests/fake_hub.py), and its bundled copy of the weights, visibly, when the Hub is gone; its front matter is what the
installed Gradio and the Hub accept, and every file is small enough for a plain git push."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import gradio
import pytest
from fake_hub import GITATTRIBUTES, FakeHub, new_repo, serving
from gradio_client import Client
from helpers import save_tiny_doubler
from hub_processes import clean_env, run_module
from huggingface_hub import SpaceCard

from s2s import hub
from s2s.ship.space import MAX_FILE_BYTES

pytestmark = pytest.mark.slow  # launches two app servers

MODEL = "someone/word-doubler"
SENTENCE, DOUBLED = "I love CUDA", "I I love love CUDA CUDA"
SERVING = {
    "__init__",
    "data",
    "doubler",
    "hub",
    "limits",
    "loss",
    "model",
    "results",
    "tokenizer",
    "weights",
    "fast/__init__",
    "fast/beam_step",
    "fast/decode",
    "fast/gru_cell",
    "fast/native",
    "fast/ranking",
    "lessons/__init__",
    "lessons/batch_cost",
    "lessons/batch_view",
    "lessons/beam_tree",
    "lessons/compare",
    "lessons/reliability",
    "lessons/unpacked",
    "page/__init__",
    "page/layout",
    "page/page_style",
    "page/page_text",
    "page/render",
    "page/render_batch",
    "page/render_force",
    "page/render_lessons",
    "page/render_search",
    "page/views",
    "serve/__init__",
    "serve/batcher",
    "serve/gradio_patches",
    "serve/guard",
    "serve/heap",
    "serve/lazy_sessions",
    "serve/plain_json",
}
START_TIMEOUT = 180  # two apps import torch and gradio at once on a busy 2-core machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The shipped weights at one commit; then main moves on to other weights, so only the pin gets it right."""
    weights = ["config.json", "model.safetensors", "tokenizer.json"]
    shipped = {name: (hub.BUNDLED / name).read_bytes() for name in weights + ["README.md"]}
    repo = new_repo({".gitattributes": GITATTRIBUTES, **shipped})
    pinned = repo["refs"]["main"]
    other = tmp_path_factory.mktemp("other")
    save_tiny_doubler(other)
    moved = {**shipped, **{name: (other / name).read_bytes() for name in weights}}
    repo["commits"]["f" * 40], repo["refs"]["main"] = moved, "f" * 40
    with serving(FakeHub({MODEL: repo})) as hub_server:
        hub_server.pinned = pinned
        yield hub_server


@pytest.fixture(scope="module")
def built(server, tmp_path_factory):
    out = tmp_path_factory.mktemp("space") / "word-doubler"
    done = run_module(["s2s.space", "build", str(out), "--model", MODEL, "--revision", server.pinned], {})
    assert done.returncode == 0, done.stderr
    return {"out": out, "stdout": done.stdout}


def launch(folder: Path, env: dict) -> tuple[subprocess.Popen, str]:
    """`python app.py` in the folder, with no PYTHONPATH: only the folder's own files are there to import."""
    port = free_port()
    env = clean_env(GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port), **env)
    process = subprocess.Popen(
        [sys.executable, "app.py"], cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    return process, f"http://127.0.0.1:{port}/"


def wait_for(process: subprocess.Popen, url: str, deadline: float) -> int:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"app.py exited with {process.returncode}:\n{process.stdout.read()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"app.py did not serve {url} within {START_TIMEOUT} s")


@pytest.fixture(scope="module")
def apps(built, server, tmp_path_factory):
    """The Space twice, started together: with the Hub, and with the Hub gone (a closed port) and an empty cache."""

    def env(endpoint: str) -> dict:
        return {
            "HF_ENDPOINT": endpoint,
            "HF_HUB_CACHE": str(tmp_path_factory.mktemp("hf-cache")),
            "HF_HOME": str(tmp_path_factory.mktemp("hf-home")),
        }

    gone = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    started = {"hub": launch(built["out"], env(server.url)), "gone": launch(built["out"], env(gone))}
    try:
        deadline = time.monotonic() + START_TIMEOUT
        yield {
            name: {"url": url, "status": wait_for(process, url, deadline)} for name, (process, url) in started.items()
        }
    finally:
        for process, _ in started.values():
            process.terminate()
            process.wait(timeout=30)


def page_config(url: str) -> str:
    with urllib.request.urlopen(url + "config", timeout=30) as response:
        return response.read().decode()


# --- the folder -------------------------------------------------------------------------------------------------


def test_the_folder_holds_what_a_space_needs_and_nothing_else(built):
    out = built["out"]
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    modules = {name[len("s2s/") : -len(".py")] for name in files if name.startswith("s2s/") and name.endswith(".py")}
    assert modules == SERVING  # no training, evaluation, families, model card, publishing or CLI
    evaluation = {"weights/evaluation.json"} if (hub.BUNDLED / "evaluation.json").is_file() else set()
    assert files - {f"s2s/{m}.py" for m in modules} == {
        "app.py",
        "README.md",
        "requirements.txt",
        hub.PINNED.name,
        "s2s/fast/kernels.c",
        "weights/config.json",
        "weights/model.safetensors",
        "weights/tokenizer.json",
        *evaluation,
    }
    assert (out / "app.py").read_bytes() == (hub.ROOT / "app.py").read_bytes()
    assert (out / "weights/model.safetensors").read_bytes() == (hub.BUNDLED / "model.safetensors").read_bytes()
    sizes = {name: (out / name).stat().st_size for name in files}
    assert max(sizes.values()) < MAX_FILE_BYTES  # every file goes without LFS
    reported = re.search(r"^ +total +([\d,]+) bytes \((\d+) files", built["stdout"], flags=re.M)
    assert reported and reported.groups() == (f"{sum(sizes.values()):,}", str(len(files)))
    print(f"Space folder: {sum(sizes.values()):,} bytes in {len(files)} files")


def test_the_pin_names_the_model_and_commit(built, server):
    pin = json.loads((built["out"] / hub.PINNED.name).read_text())
    assert pin == {"model": MODEL, "revision": server.pinned}


def test_the_front_matter_is_a_gradio_space_of_the_installed_gradio_serving_the_model(built):
    card = SpaceCard.load(built["out"] / "README.md")  # a local path: nothing is fetched
    data = card.data
    assert data.sdk == "gradio" and data.sdk_version == gradio.__version__
    assert data.app_file == "app.py" and (built["out"] / data.app_file).is_file()
    assert isinstance(data.python_version, str) and re.fullmatch(r"3\.\d+(\.\d+)?", data.python_version)
    assert data.models == [MODEL]  # the Hub links the Space to the model
    assert data.title and data.license and data.get("emoji") and data.get("short_description")
    pins = re.findall(r"^gradio(?:\[mcp\])?==([^\s;#]+)", (built["out"] / "requirements.txt").read_text(), flags=re.M)
    assert pins == [gradio.__version__]
    assert "GPU hardware" in card.text and "/gradio_api/mcp/" in card.text  # how to run it on a GPU; the MCP tool


def test_a_branch_or_a_full_folder_is_refused(tmp_path, server):
    done = run_module(["s2s.space", "build", str(tmp_path / "a"), "--model", MODEL, "--revision", "main"], {})
    assert done.returncode == 1 and "is not a commit id" in done.stderr and not (tmp_path / "a").exists()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "keep.txt").write_text("mine")
    done = run_module(["s2s.space", "build", str(tmp_path / "b"), "--model", MODEL, "--revision", server.pinned], {})
    assert done.returncode == 1 and "is not empty" in done.stderr


# --- the folder, served ------------------------------------------------------------------------------------------


def test_the_folder_imports_only_its_own_code(built):
    where = "import importlib.util; print(importlib.util.find_spec('s2s').origin)"
    done = subprocess.run(
        [sys.executable, "-c", where], cwd=built["out"], env=clean_env(), capture_output=True, text=True, timeout=60
    )
    assert Path(done.stdout.strip()) == built["out"] / "s2s" / "__init__.py"


def test_the_space_serves_the_pinned_commit_from_the_hub(apps, server):
    app = apps["hub"]
    assert app["status"] == 200
    results = Client(app["url"], verbose=False).predict(SENTENCE, 5, api_name="/double")
    assert results[0]["output"] == DOUBLED  # main holds an untrained model: only the pinned commit doubles right
    config = page_config(app["url"])
    assert f"commit `{server.pinned}`" in config and hub.FROM_HUB in config and "⚠️" not in config
    resolved = [path for method, path, _ in server.requests if "/resolve/" in path]
    assert resolved and all(f"/resolve/{server.pinned}/" in path for path in resolved)


def test_without_the_hub_the_space_serves_its_bundled_copy_and_says_so(apps, tmp_path_factory):
    app = apps["gone"]
    assert app["status"] == 200
    results = Client(app["url"], verbose=False).predict(SENTENCE, 5, api_name="/double")
    assert results[0]["output"] == DOUBLED
    config = page_config(app["url"])
    assert hub.FROM_FALLBACK in config and "no Hub commit" in config
    assert f"⚠️ could not load model '{MODEL}'" in config and "serving the bundled weights instead" in config
    assert str(tmp_path_factory.getbasetemp()) not in config  # no server path (Space folder, cache) on the page


# --- the push -----------------------------------------------------------------------------------------------------


def test_push_makes_the_space_hold_exactly_the_folder_in_one_commit(built, server, tmp_path_factory):
    space = "someone/word-doubler-space"
    # An earlier build left a module this one does not have: the push must not leave it to be served.
    server.repos[("spaces", space)] = new_repo({".gitattributes": GITATTRIBUTES, "s2s/training/train.py": b"old"})
    env = {
        "HF_ENDPOINT": server.url,
        "HF_TOKEN": server.token,
        "HF_HUB_DISABLE_XET": "1",
        "HF_HOME": str(tmp_path_factory.mktemp("hf-home")),
    }
    done = run_module(["s2s.space", "push", str(built["out"]), "--space-id", space], env)
    assert done.returncode == 0, done.stderr
    commit = re.search(r"commit ([0-9a-f]{40})$", done.stdout.strip()).group(1)
    repo = server.repo(space, kind="spaces")
    assert repo["refs"]["main"] == commit and len(repo["commits"]) == 2
    assert repo["messages"][commit] == f"Word Doubler Space serving {MODEL}@{server.pinned[:12]}"
    out = built["out"]
    local = {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in out.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }  # the apps above wrote bytecode there
    assert repo["commits"][commit] == {".gitattributes": GITATTRIBUTES, **local}
