"""What the fake Hub (tests/fake_hub.py) stores: repositories of commits, and the ids the Hub gives their files."""

from __future__ import annotations

import hashlib
import json

GITATTRIBUTES = b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"  # what a new Hub repo starts with (abridged)


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(data: bytes) -> bytes:
    oid = hashlib.sha256(data).hexdigest()
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {len(data)}\n".encode()


def is_lfs(path: str) -> bool:
    return path.endswith(".safetensors")


def etag_of(path: str, data: bytes) -> str:
    """What the Hub sends as ETag, and so what huggingface_hub names the blob: sha256 for LFS, git sha1 otherwise."""
    return hashlib.sha256(data).hexdigest() if is_lfs(path) else git_blob_sha1(data)


def new_repo(files: dict[str, bytes], private: bool = False) -> dict:
    """A repository with one commit on main: {"refs": {name: commit}, "commits": {commit: {path: bytes}}, ...}."""
    commit = hashlib.sha1(json.dumps(sorted((p, etag_of(p, d)) for p, d in files.items())).encode()).hexdigest()
    return {
        "refs": {"main": commit},
        "commits": {commit: dict(files)},
        "messages": {commit: "initial commit"},
        "private": private,
        "sdk": None,
    }


def tree_entry(path: str, data: bytes) -> dict:
    entry = {"type": "file", "path": path, "size": len(data), "oid": git_blob_sha1(data)}
    if is_lfs(path):
        pointer = lfs_pointer(data)
        entry["oid"] = git_blob_sha1(pointer)
        entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": len(pointer)}
    return entry
