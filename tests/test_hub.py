"""Loading from the Hugging Face Hub through the real huggingface_hub code, with no network at all.

* The Hub-compatible server of tests/fake_hub.py, on 127.0.0.1 (a free port), serves the repo `owner/name` with two
  revisions, `main` and `v1`, whose weights differ; huggingface_hub 2.4's `snapshot_download(repo_id, revision=...,
  allow_patterns=[...])` and `hf_hub_download` fetch from it.
* Every load runs in a subprocess whose environment (HF_ENDPOINT, HF_HUB_CACHE/HF_HOME, HF_HUB_OFFLINE)
  is read by huggingface_hub at import, as it is in production; nothing of huggingface_hub is mocked.
* Offline loads (HF_HUB_OFFLINE=1) run against the cache huggingface_hub itself wrote from the server, and
  against a cache laid out by hand; the server's request log proves they made no request.
* The page says where the files came from: the Hub the first time, the cache afterwards, with the commit either way.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from pathlib import Path

import pytest
from fake_hub import FakeHub, etag_of, serving
from helpers import save_tiny_doubler
from hub_processes import load as load_action
from hub_processes import run_loader
from safetensors.torch import load_file

from s2s import hub

ROOT = Path(__file__).resolve().parent.parent
REPO = "owner/name"
DOTTED_REPO = "owner/name-1.0"  # a valid Hub repo id with a dot (like "Qwen/Qwen2.5-0.5B"), same content
MODEL_FILES = ["config.json", "model.safetensors", "tokenizer.json", "README.md"]
EXTRA_FILES = {".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n", "optimizer.pt": b"not for us"}
SENTENCE = "I love CUDA"
SEEDS = {"main": 0, "v1": 1}
COMMITS = {rev: hashlib.sha1(f"commit {rev}".encode()).hexdigest() for rev in SEEDS}  # 40 hex digits


def state_checksum(state: dict) -> str:
    """sha256 over the fp16 tensors by name; the subprocess computes the same on the loaded model."""
    digest = hashlib.sha256()
    for name in sorted(state):
        digest.update(name.encode())
        digest.update(state[name].detach().cpu().half().contiguous().numpy().tobytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def revisions(tmp_path_factory):
    """revision -> {"dir", "files" (path -> bytes), "checksum", "output"} for the two tiny models served."""
    from s2s.doubler import WordDoubler

    out = {}
    for rev, seed in SEEDS.items():
        directory = tmp_path_factory.mktemp(f"repo-{rev}")
        save_tiny_doubler(directory, seed=seed)
        files = {name: (directory / name).read_bytes() for name in MODEL_FILES}
        files.update(EXTRA_FILES)
        expected = WordDoubler.from_pretrained(directory, device="cpu")
        out[rev] = {
            "dir": directory,
            "files": files,
            "checksum": state_checksum(load_file(directory / "model.safetensors")),
            "output": expected.double([SENTENCE])[0].output,
        }
    assert out["main"]["checksum"] != out["v1"]["checksum"], "the two revisions must hold different weights"
    return out


@pytest.fixture(scope="module")
def fake_hub(revisions):
    repo = {
        "refs": {rev: COMMITS[rev] for rev in SEEDS},
        "commits": {COMMITS[rev]: revisions[rev]["files"] for rev in SEEDS},
        "messages": {},
        "private": False,
        "sdk": None,
    }
    with serving(FakeHub({REPO: repo, DOTTED_REPO: repo})) as server:
        yield server


def load(name, repo=REPO, revision=None, kind="doubler"):
    return load_action(name, repo, revision, kind, SENTENCE)


ONLINE_ACTIONS = [
    load("v1", revision="v1"),
    load("default"),
    load("seq2seq_v1", kind="seq2seq", revision="v1"),
    load("missing_repo", repo="owner/missing"),
    load("missing_revision", revision="v9"),
    load("fallback_missing", repo="owner/missing", kind="fallback"),
    load("dotted", repo=DOTTED_REPO),
    load("v1_again", revision="v1"),  # everything cached by now
    load("pinned", revision=COMMITS["v1"]),  # a commit, as a built Space pins it
]
OFFLINE_ACTIONS = [
    load("default"),
    load("v1", revision="v1"),
    load("missing_repo", repo="owner/missing"),
    load("fallback_missing", repo="owner/missing", kind="fallback"),
]


@pytest.fixture(scope="module")
def hub_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("hf-cache")


@pytest.fixture(scope="module")
def online(fake_hub, hub_cache, tmp_path_factory):
    """Everything loaded through the server, once: results by action name."""
    env = {
        "HF_ENDPOINT": fake_hub.url,
        "HF_HUB_CACHE": str(hub_cache),
        "HF_HOME": str(tmp_path_factory.mktemp("hf-home")),
    }
    return run_loader(ONLINE_ACTIONS, env, mark_url=fake_hub.url)


@pytest.fixture(scope="module")
def offline(online, fake_hub, hub_cache, tmp_path_factory):
    """The same repo, offline, from the cache the online run populated; the server stays up to catch any request."""
    before = len(fake_hub.requests)
    env = {
        "HF_HUB_OFFLINE": "1",
        "HF_ENDPOINT": fake_hub.url,
        "HF_HUB_CACHE": str(hub_cache),
        "HF_HOME": str(tmp_path_factory.mktemp("hf-home-offline")),
    }
    results = run_loader(OFFLINE_ACTIONS, env)
    results["requests"] = fake_hub.requests[before:]
    return results


def storage(cache: Path, repo: str = REPO) -> Path:
    return cache / ("models--" + repo.replace("/", "--"))


# --- through the local endpoint ---------------------------------------------------------------------------


def test_both_revisions_load_from_the_endpoint_with_their_own_weights(online, revisions, fake_hub, hub_cache):
    assert online["offline"] is False and online["endpoint"] == fake_hub.url
    assert Path(online["cache"]) == hub_cache
    for name, rev in (("v1", "v1"), ("default", "main")):
        got = online[name]
        assert "error" not in got, got
        assert got["source"] == f"{REPO}@{rev}"
        assert got["checksum"] == revisions[rev]["checksum"], f"{name} did not load the weights of {rev}"
        assert got["output"] == revisions[rev]["output"]
        assert Path(got["path"]) == storage(hub_cache) / "snapshots" / COMMITS[rev]
    assert online["v1"]["checksum"] != online["default"]["checksum"]
    assert online["pinned"]["checksum"] == online["v1_again"]["checksum"] == revisions["v1"]["checksum"]
    # Seq2Seq's own _from_pretrained (the mixin + hf_hub_download, no snapshot) honours the revision too.
    assert online["seq2seq_v1"] == {"checksum": revisions["v1"]["checksum"]}


def test_the_server_was_asked_for_the_right_revision_and_only_the_model_files(online, fake_hub, revisions):
    v1, main = COMMITS["v1"], COMMITS["main"]
    calls = fake_hub.since("v1")
    assert ("GET", f"/api/models/{REPO}/revision/v1", {}) in calls  # repo_info resolves the tag to a commit
    tree = [c for c in calls if c[1] == f"/api/models/{REPO}/tree/{v1}"]
    assert len(tree) == 1 and tree[0][2].get("recursive", "").lower() == "true"
    downloads = sorted(c[1].rsplit("/", 1)[1] for c in calls if c[0] == "GET" and "/resolve/" in c[1])
    assert downloads == sorted(MODEL_FILES)  # allow_patterns kept optimizer.pt and .gitattributes out
    assert all(f"/resolve/{v1}/" in c[1] for c in calls if "/resolve/" in c[1])  # files fetched at v1's commit
    assert not any(main in c[1] or c[1].endswith("/revision/main") for c in calls)
    assert not any(c[1].startswith("/__") for c in calls)

    calls = fake_hub.since("default")
    assert ("GET", f"/api/models/{REPO}/revision/main", {}) in calls
    assert {c[1] for c in calls if c[0] == "HEAD"} == {f"/{REPO}/resolve/{main}/{name}" for name in MODEL_FILES}
    # Blobs are keyed by ETag: files with the same bytes in both revisions are not fetched again.
    changed = {n for n in MODEL_FILES if revisions["main"]["files"][n] != revisions["v1"]["files"][n]}
    assert changed == {"model.safetensors"}
    assert {c[1] for c in calls if c[0] == "GET" and "/resolve/" in c[1]} == {
        f"/{REPO}/resolve/{main}/{name}" for name in changed
    }

    calls = fake_hub.since("seq2seq_v1")  # mixin: config.json, then model.py's hf_hub_download, both at "v1"
    assert {c[1] for c in calls} == {f"/{REPO}/resolve/v1/config.json", f"/{REPO}/resolve/v1/model.safetensors"}


def test_hub_writes_the_cache_layout_the_offline_tests_rely_on(online, hub_cache, revisions):
    folder = storage(hub_cache)
    for rev, commit in COMMITS.items():
        assert (folder / "refs" / rev).read_text() == commit
        snapshot = folder / "snapshots" / commit
        assert sorted(p.name for p in snapshot.iterdir()) == sorted(MODEL_FILES)
        for name in MODEL_FILES:
            data = revisions[rev]["files"][name]
            link = snapshot / name
            assert link.is_symlink() and os.readlink(link) == f"../../blobs/{etag_of(name, data)}"
            assert link.read_bytes() == data
    assert not any(storage(hub_cache, "owner/missing").glob("snapshots/*"))


def test_missing_repo_or_revision_online_raise_hub_errors_and_the_app_falls_back(online):
    assert online["missing_repo"]["error_type"] == "RepositoryNotFoundError", online["missing_repo"]
    assert online["missing_revision"]["error_type"] == "RevisionNotFoundError", online["missing_revision"]
    assert "v9" in online["missing_revision"]["error"]
    fallback = online["fallback_missing"]
    assert Path(fallback["path"]) == ROOT / "weights" and fallback["description"] == "bundled weights/"
    assert "'owner/missing'" in fallback["warning"] and "RepositoryNotFoundError" in fallback["warning"]
    assert "serving the bundled weights" in fallback["warning"]
    assert fallback["origin"] == hub.FROM_FALLBACK


def test_the_page_learns_the_commit_and_whether_the_files_came_from_the_hub_or_the_cache(online, fake_hub):
    assert (online["v1"]["origin"], online["v1"]["commit"]) == (hub.FROM_HUB, COMMITS["v1"])
    # main's snapshot is new although most of its blobs were cached with v1: its files came through the Hub.
    assert (online["default"]["origin"], online["default"]["commit"]) == (hub.FROM_HUB, COMMITS["main"])
    assert (online["v1_again"]["origin"], online["v1_again"]["commit"]) == (hub.FROM_CACHE, COMMITS["v1"])
    assert (online["pinned"]["origin"], online["pinned"]["commit"]) == (hub.FROM_CACHE, COMMITS["v1"])
    assert online["pinned"]["source"] == f"{REPO}@{COMMITS['v1']}"
    # A cached commit needs no request at all: a pinned Space starts even while the Hub is down.
    assert fake_hub.since("pinned") == []


def test_a_repo_id_with_a_dot_loads(online, revisions):
    got = online["dotted"]
    assert got.get("source") == f"{DOTTED_REPO}@main", got
    assert got["checksum"] == revisions["main"]["checksum"]


# --- offline, from the cache ----------------------------------------------------------------------------


def test_offline_loads_from_the_cache_hub_populated_without_any_request(offline, online, revisions, hub_cache):
    assert offline["offline"] is True and Path(offline["cache"]) == hub_cache
    assert offline["requests"] == [], "offline mode must not reach the endpoint"
    for name, rev in (("default", "main"), ("v1", "v1")):
        got = offline[name]
        assert "error" not in got, got
        assert got["source"] == f"{REPO}@{rev}"
        assert got["checksum"] == revisions[rev]["checksum"] == online[name]["checksum"]
        assert got["output"] == revisions[rev]["output"]
        assert Path(got["path"]) == storage(hub_cache) / "snapshots" / COMMITS[rev]
        assert (got["origin"], got["commit"]) == (hub.FROM_CACHE, COMMITS[rev])


def test_offline_missing_repo_raises_a_clear_error_and_the_app_falls_back(offline):
    missing = offline["missing_repo"]
    assert missing["error_type"] == "LocalEntryNotFoundError", missing
    assert "outgoing traffic has been disabled" in missing["error"] and "HF_HUB_OFFLINE" in missing["error"]
    fallback = offline["fallback_missing"]
    assert Path(fallback["path"]) == ROOT / "weights" and fallback["description"] == "bundled weights/"
    assert "'owner/missing'" in fallback["warning"] and "LocalEntryNotFoundError" in fallback["warning"]


def build_cache_by_hand(cache: Path, repo: str, commit: str, source_dir: Path) -> None:
    """The layout huggingface_hub writes (checked against it above): blobs named by ETag, relative snapshot links,
    refs."""
    folder = storage(cache, repo)
    (folder / "blobs").mkdir(parents=True)
    (folder / "snapshots" / commit).mkdir(parents=True)
    (folder / "refs").mkdir()
    for name in MODEL_FILES:
        data = (source_dir / name).read_bytes()
        etag = etag_of(name, data)
        (folder / "blobs" / etag).write_bytes(data)
        os.symlink(f"../../blobs/{etag}", folder / "snapshots" / commit / name)
    (folder / "refs" / "main").write_text(commit)


def test_offline_loads_from_a_hand_built_cache_under_hf_home(tmp_path, revisions):
    home = tmp_path / "hf-home"
    commit = "0123456789abcdef0123456789abcdef01234567"
    build_cache_by_hand(home / "hub", REPO, commit, revisions["v1"]["dir"])
    # HF_HUB_CACHE unset: it defaults to $HF_HOME/hub. The endpoint is a closed port, never huggingface.co.
    env = {"HF_HUB_OFFLINE": "1", "HF_HOME": str(home), "HF_ENDPOINT": "http://127.0.0.1:9"}
    got = run_loader([load("default"), load("missing_repo", repo="owner/missing")], env)
    assert got["offline"] is True and Path(got["cache"]) == home / "hub"
    default = got["default"]
    assert "error" not in default, default
    assert default["source"] == f"{REPO}@main"
    assert Path(default["path"]) == home / "hub" / f"models--owner--name/snapshots/{commit}"
    assert default["checksum"] == revisions["v1"]["checksum"] and default["output"] == revisions["v1"]["output"]
    assert (default["origin"], default["commit"]) == (hub.FROM_CACHE, commit)
    assert got["missing_repo"]["error_type"] == "LocalEntryNotFoundError"


def test_a_hub_that_never_answers_times_out_and_the_app_falls_back(tmp_path):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes connections; nothing ever reads or answers them
        env = {
            "HF_ENDPOINT": f"http://127.0.0.1:{silent.getsockname()[1]}",
            "HF_HUB_CACHE": str(tmp_path / "cache"),
            "HF_HOME": str(tmp_path / "home"),
        }
        started = time.monotonic()
        got = run_loader([{**load("silent", kind="fallback"), "hub_timeout": 2}], env)["silent"]
        elapsed = time.monotonic() - started
    assert got.get("origin") == hub.FROM_FALLBACK, got
    assert "TimeoutError: the Hub did not answer within 2 s" in got["warning"]
    assert elapsed < 60  # the loader's own start-up included; without the deadline it would wait for ever
