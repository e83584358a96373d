"""Where weights come from (a directory, or a Hub repo fetched or read from the cache) and what a server serves."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import constants, snapshot_download
from huggingface_hub.errors import HFValidationError
from huggingface_hub.file_download import repo_folder_name
from huggingface_hub.utils import validate_repo_id

ROOT = Path(__file__).resolve().parent.parent  # the repository, or a Space folder built by s2s.space
# The shipped model: weights/ beside the package in the repository and in a Space folder; inside the package
# (s2s/bundled, pyproject.toml's package-dir) where `pip install .` put it.
BUNDLED = ROOT / "weights" if (ROOT / "weights").is_dir() else Path(__file__).resolve().parent / "bundled"
# A Space folder built by `python -m s2s.space build` pins its model here: a Space's files are all it has at start-up
# besides the variables set in its settings, and a file travels with the folder, reviewed and versioned with it.
PINNED = ROOT / "pinned_model.json"
MODEL_FILES = ["config.json", "model.safetensors", "tokenizer.json", "README.md", "evaluation.json"]
# huggingface_hub's API calls have no timeout of their own: a Hub that accepts a connection and never answers would
# hold a server's start-up forever. Ample for 3.7 MB of weights; past it, a server falls back to its bundled copy
# (and the CLI exits with one line) well within the 30 s a visitor or a script will wait.
HUB_TIMEOUT_S = float(os.environ.get("S2S_HUB_TIMEOUT_S", 20))

# Where the files being served came from, as the page says it.
FROM_BUNDLED = "bundled weights/"
FROM_DIRECTORY = "local directory"
FROM_HUB = "the Hub (downloaded at start-up)"
FROM_CACHE = "the local Hub cache (downloaded before)"
FROM_FALLBACK = "bundled weights/ (fallback: the configured model could not be loaded)"


@dataclass
class ModelSource:
    path: Path  # local directory holding config.json, model.safetensors, tokenizer.json
    description: str  # what to show people: "bundled weights/", "owner/name@revision"
    origin: str = FROM_DIRECTORY  # one of the FROM_* texts above
    commit: str | None = None  # the Hub commit the files belong to; None for files that are not from the Hub

    @property
    def sha256(self) -> str:
        return weights_sha256(self.path)


def weights_sha256(folder: Path) -> str:
    """sha256 of model.safetensors: the id the Hub shows for an LFS file, so bundled and Hub weights compare."""
    return hashlib.sha256((Path(folder) / "model.safetensors").read_bytes()).hexdigest()


def resolve(source: str | os.PathLike | None = None, revision: str | None = None) -> ModelSource:
    """A local directory is used as it is; anything else must be a Hub repo id, fetched (or read from
    the offline cache, HF_HUB_OFFLINE=1) with huggingface_hub. None means the bundled weights."""
    if source is None or str(source) == "" or Path(source).resolve() == BUNDLED:
        return ModelSource(BUNDLED, "bundled weights/", FROM_BUNDLED)
    if Path(source).is_dir():
        return ModelSource(Path(source), str(source), FROM_DIRECTORY)
    name = str(source)
    try:
        if Path(name).exists() or name.startswith((".", "/", "~")) or name.count("/") != 1:
            raise HFValidationError("not of the form 'owner/name'")
        validate_repo_id(name)
    except HFValidationError as error:
        raise ValueError(f"model source {name!r} is neither a directory nor a Hub repo id like 'owner/name'") from error
    # snapshot_download falls back to the cache by itself when the Hub cannot be reached, and a pinned commit whose
    # files are cached needs no request at all: what the snapshot held before the call tells where the files came from.
    storage = Path(constants.HF_HUB_CACHE) / repo_folder_name(repo_id=name, repo_type="model")
    cached = set(storage.glob("snapshots/*/*"))
    path = Path(_within(HUB_TIMEOUT_S, snapshot_download, repo_id=name, revision=revision, allow_patterns=MODEL_FILES))
    fetched = any(file not in cached for file in path.iterdir())
    return ModelSource(path, f"{name}@{revision or 'main'}", FROM_HUB if fetched else FROM_CACHE, commit=path.name)


def _within(seconds: float, fn, **kwargs):
    """fn(**kwargs), or TimeoutError after `seconds`; the call is left to finish or fail in a daemon thread."""
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = fn(**kwargs)
        except BaseException as error:  # re-raised in the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=run, name="hub-download", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise TimeoutError(f"the Hub did not answer within {seconds:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def configured_model() -> tuple[str | None, str | None]:
    """The model a server is set to serve: env S2S_MODEL (and S2S_REVISION), else the pin of a built Space, else
    (None, None), the bundled weights. S2S_REVISION alone moves a pinned Space to another revision of its model."""
    model, revision = os.environ.get("S2S_MODEL") or None, os.environ.get("S2S_REVISION") or None
    if model is None and PINNED.is_file():
        model, pinned = read_pin(PINNED.parent)
        revision = revision or pinned
    return model, revision


def read_pin(folder: Path) -> tuple[str, str]:
    pin = json.loads((Path(folder) / PINNED.name).read_text(encoding="utf-8"))
    return pin["model"], pin["revision"]


def write_pin(folder: Path, model: str, revision: str) -> Path:
    path = Path(folder) / PINNED.name
    path.write_text(json.dumps({"model": model, "revision": revision}, indent=1) + "\n", encoding="utf-8")
    return path
