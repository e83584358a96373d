"""Where weights come from: a local directory, a Hub repo id (cache first), or the bundled weights."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import snapshot_download

BUNDLED = Path(__file__).resolve().parent.parent / "weights"
MODEL_FILES = ["config.json", "model.safetensors", "tokenizer.json", "README.md"]
log = logging.getLogger(__name__)


@dataclass
class ModelSource:
    path: Path  # local directory holding config.json, model.safetensors, tokenizer.json
    description: str  # what to show people: "bundled weights/", "owner/name@revision"


def resolve(source: str | os.PathLike | None = None, revision: str | None = None) -> ModelSource:
    """A local directory is used as it is; anything else is a Hub repo id, fetched (or read from the
    offline cache, HF_HUB_OFFLINE=1) with huggingface_hub. None means the bundled weights."""
    if source is None or str(source) == "":
        return ModelSource(BUNDLED, "bundled weights/")
    if Path(source).is_dir():
        return ModelSource(Path(source), str(source))
    if Path(source).suffix or str(source).startswith((".", "/")) or str(source).count("/") != 1:
        raise ValueError(f"model source {str(source)!r} is neither a directory nor a Hub repo id like 'owner/name'")
    path = snapshot_download(repo_id=str(source), revision=revision, allow_patterns=MODEL_FILES)
    return ModelSource(Path(path), f"{source}@{revision or 'main'}")


def resolve_with_fallback(source: str | None, revision: str | None = None) -> tuple[ModelSource, str | None]:
    """For the app: if the configured model cannot be had, serve the bundled one and say why."""
    try:
        return resolve(source, revision), None
    except Exception as error:  # network down, repo missing, bad id: the page must still come up
        warning = f"could not load model {source!r} ({type(error).__name__}: {error}); serving the bundled weights instead"
        log.warning(warning)
        return resolve(None), warning
