"""Processes that read HF_* at import, as they do in production: `python -m` commands and a model loader."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUBPROCESS_TIMEOUT = 120


def clean_env(**env: str) -> dict:
    """This environment without HF_*/proxy settings and without PYTHONPATH, plus env."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith(("HF_", "HUGGING", "TRANSFORMERS_"))
        and "PROXY" not in k.upper()
        and k not in ("PYTHONPATH", "S2S_MODEL", "S2S_REVISION")
    }
    clean.update(
        {
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "OMP_NUM_THREADS": "1",
            "NO_PROXY": "127.0.0.1,localhost",
            "GRADIO_ANALYTICS_ENABLED": "False",
        }
    )
    clean.update(env)
    return clean


def run_module(args: list[str], env: dict, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """`python -m ...` from the repository, as a person types it."""
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=cwd,
        env=clean_env(PYTHONPATH=str(ROOT), **env),
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
    )


LOADER = r"""
import hashlib, json, sys, urllib.request
import huggingface_hub.constants as constants
from s2s import hub
from s2s.doubler import WordDoubler
from s2s.model import Seq2Seq

actions, mark_url = json.loads(sys.argv[1]), sys.argv[2]
resolved = []
_resolve = hub.resolve
def spy(*args, **kwargs):  # records where WordDoubler.from_pretrained found the files; changes nothing
    found = _resolve(*args, **kwargs)
    resolved.append(str(found.path))
    return found
hub.resolve = spy

def checksum(model):
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().half().contiguous().numpy().tobytes())
    return digest.hexdigest()

results = {"offline": constants.HF_HUB_OFFLINE, "cache": constants.HF_HUB_CACHE, "endpoint": constants.ENDPOINT}
for action in actions:
    hub.HUB_TIMEOUT_S = action.get("hub_timeout", hub.HUB_TIMEOUT_S)
    if mark_url:
        urllib.request.urlopen(f"{mark_url}/__mark__/{action['name']}").read()
    try:
        if action["kind"] == "doubler":
            wd = WordDoubler.from_pretrained(action["repo"], revision=action.get("revision"), device="cpu")
            info = wd.describe()
            out = {"source": wd.source, "output": wd.double([action["sentence"]])[0].output,
                   "checksum": checksum(wd.model), "path": resolved[-1],
                   "origin": info["origin"], "commit": info["commit"]}
        elif action["kind"] == "seq2seq":
            out = {"checksum": checksum(Seq2Seq.from_pretrained(action["repo"], revision=action.get("revision")))}
        else:
            wd, warning = WordDoubler.from_pretrained_or_bundled(action["repo"], action.get("revision"), device="cpu")
            out = {"path": resolved[-1], "description": wd.source, "warning": warning,
                   "origin": wd.describe()["origin"]}
    except Exception as error:
        out = {"error_type": type(error).__name__, "error": str(error),
               "mro": [c.__name__ for c in type(error).__mro__]}
    results[action["name"]] = out
print("RESULTS " + json.dumps(results))
"""


def run_loader(actions: list[dict], env: dict, mark_url: str = "") -> dict:
    done = subprocess.run(
        [sys.executable, "-c", LOADER, json.dumps(actions), mark_url],
        cwd=ROOT,
        env=clean_env(PYTHONPATH=str(ROOT), **env),
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULTS ")]
    assert done.returncode == 0 and lines, f"loader failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return json.loads(lines[-1][len("RESULTS ") :])


def load(
    name: str, repo: str, revision: str | None = None, kind: str = "doubler", sentence: str = "I love CUDA"
) -> dict:
    return {"name": name, "kind": kind, "repo": repo, "revision": revision, "sentence": sentence}
