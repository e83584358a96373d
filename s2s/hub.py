"""Where weights come from: a local directory, or a Hub repo id (fetched, or read from the offline cache)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import snapshot_download
from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id

BUNDLED = Path(__file__).resolve().parent.parent / "weights"
MODEL_FILES = ["config.json", "model.safetensors", "tokenizer.json", "README.md"]


@dataclass
class ModelSource:
    path: Path  # local directory holding config.json, model.safetensors, tokenizer.json
    description: str  # what to show people: "bundled weights/", "owner/name@revision"


def resolve(source: str | os.PathLike | None = None, revision: str | None = None) -> ModelSource:
    """A local directory is used as it is; anything else must be a Hub repo id, fetched (or read from
    the offline cache, HF_HUB_OFFLINE=1) with huggingface_hub. None means the bundled weights."""
    if source is None or str(source) == "" or Path(source).resolve() == BUNDLED:
        return ModelSource(BUNDLED, "bundled weights/")
    if Path(source).is_dir():
        return ModelSource(Path(source), str(source))
    name = str(source)
    try:
        if Path(name).exists() or name.startswith((".", "/", "~")) or name.count("/") != 1:
            raise HFValidationError("not of the form 'owner/name'")
        validate_repo_id(name)
    except HFValidationError as error:
        raise ValueError(f"model source {name!r} is neither a directory nor a Hub repo id like 'owner/name'") from error
    path = snapshot_download(repo_id=name, revision=revision, allow_patterns=MODEL_FILES)
    return ModelSource(Path(path), f"{name}@{revision or 'main'}")
