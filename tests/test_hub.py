"""Loading from the Hugging Face Hub through the real huggingface_hub code, with no network at all.

* A tiny Hub-compatible HTTP server on 127.0.0.1 (a free port) serves the repo `owner/name` with two
  revisions, `main` and `v1`, whose weights differ. It answers exactly the calls huggingface_hub 2.4's
  `snapshot_download(repo_id, revision=..., allow_patterns=[...])` and `hf_hub_download` make:
  GET /api/models/{repo}/revision/{rev}, GET /api/models/{repo}/tree/{commit}?recursive=..., and
  HEAD/GET /{repo}/resolve/{rev}/{file} (X-Repo-Commit, ETag, Content-Length; no Xet headers).
* Every load runs in a subprocess whose environment (HF_ENDPOINT, HF_HUB_CACHE/HF_HOME, HF_HUB_OFFLINE)
  is read by huggingface_hub at import, as it is in production; nothing of huggingface_hub is mocked.
* Offline loads (HF_HUB_OFFLINE=1) run against the cache huggingface_hub itself wrote from the server, and
  against a cache laid out by hand; the server's request log proves they made no request.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from helpers import save_tiny_doubler
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parent.parent
REPO = "owner/name"
DOTTED_REPO = "owner/name-1.0"  # a valid Hub repo id with a dot (like "Qwen/Qwen2.5-0.5B"), same content
MODEL_FILES = ["config.json", "model.safetensors", "tokenizer.json", "README.md"]
EXTRA_FILES = {".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n", "optimizer.pt": b"not for us"}
LFS_FILES = {"model.safetensors"}
SENTENCE = "I love CUDA"
SEEDS = {"main": 0, "v1": 1}
COMMITS = {rev: hashlib.sha1(f"commit {rev}".encode()).hexdigest() for rev in SEEDS}  # 40 hex digits
SUBPROCESS_TIMEOUT = 120


# --- what the repo holds, and the ids the Hub gives its files ------------------------------------------


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(data: bytes) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{hashlib.sha256(data).hexdigest()}\nsize {len(data)}\n".encode()


def etag_of(path: str, data: bytes) -> str:
    """What the Hub sends as ETag, and so what huggingface_hub names the blob: sha256 for LFS, git sha1 otherwise."""
    return hashlib.sha256(data).hexdigest() if path in LFS_FILES else git_blob_sha1(data)


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


# --- a Hub-compatible server ---------------------------------------------------------------------------


class FakeHub(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, repos: dict):
        """repos: repo id -> {"refs": {name: commit}, "commits": {commit: {path: bytes}}}."""
        super().__init__(("127.0.0.1", 0), HubHandler)
        self.repos = repos
        self.requests: list[tuple[str, str, dict]] = []  # (method, raw path, query)
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def log(self, method: str, path: str, query: dict) -> None:
        with self.lock:
            self.requests.append((method, path, query))

    def since(self, mark: str) -> list[tuple[str, str, dict]]:
        """The requests after the marker request /__mark__/{mark}, up to the next marker."""
        with self.lock:
            requests = list(self.requests)
        start = requests.index(("GET", f"/__mark__/{mark}", {})) + 1
        end = next((i for i in range(start, len(requests)) if requests[i][1].startswith("/__mark__/")), len(requests))
        return requests[start:end]


class HubHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeHub

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def do_HEAD(self) -> None:
        self.handle_request(with_body=False)

    def do_GET(self) -> None:
        self.handle_request(with_body=True)

    def reply(self, status: int, body: bytes = b"", headers: dict | None = None, with_body: bool = True) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def reply_json(self, data, with_body: bool) -> None:
        self.reply(200, json.dumps(data).encode(), {"Content-Type": "application/json"}, with_body)

    def not_found(self, code: str | None, message: str, with_body: bool, commit: str | None = None) -> None:
        headers = {"Content-Type": "application/json", "X-Error-Message": message}
        if code:
            headers["X-Error-Code"] = code
        if commit:
            headers["X-Repo-Commit"] = commit
        self.reply(404, json.dumps({"error": message}).encode(), headers, with_body)

    def handle_request(self, with_body: bool) -> None:
        split = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(split.query).items()}
        self.server.log(self.command, split.path, query)
        parts = [unquote(p) for p in split.path.split("/")[1:]]  # revisions arrive quoted with safe=""
        if parts[0] == "__mark__":
            return self.reply(200, b"ok", with_body=with_body)
        if parts[:2] == ["api", "models"] and len(parts) == 6 and parts[4] in ("revision", "tree") and self.command == "GET":
            repo_id, kind, revision = f"{parts[2]}/{parts[3]}", parts[4], parts[5]
        elif len(parts) >= 5 and parts[2] == "resolve":
            repo_id, kind, revision = f"{parts[0]}/{parts[1]}", "resolve", parts[3]
        else:
            return self.not_found(None, f"no route for {self.command} {split.path}", with_body)
        repo = self.server.repos.get(repo_id)
        if repo is None:
            return self.not_found("RepoNotFound", f"Repository {repo_id} not found", with_body)
        commit = repo["refs"].get(revision, revision if revision in repo["commits"] else None)
        if commit is None:
            return self.not_found("RevisionNotFound", f"Invalid rev id: {revision}", with_body)
        files = repo["commits"][commit]
        if kind == "revision":  # HfApi.model_info -> ModelInfo(**json)
            info = {"_id": commit[:24], "id": repo_id, "modelId": repo_id, "sha": commit, "private": False,
                    "gated": False, "disabled": False, "tags": [], "siblings": [{"rfilename": p} for p in sorted(files)]}
            return self.reply_json(info, with_body)
        if kind == "tree":  # HfApi.list_repo_tree -> RepoFile(**entry) for type == "file"
            entries = []
            for path, data in sorted(files.items()):
                entry = {"type": "file", "path": path, "size": len(data), "oid": git_blob_sha1(data)}
                if path in LFS_FILES:
                    pointer = lfs_pointer(data)
                    entry["oid"] = git_blob_sha1(pointer)
                    entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": len(pointer)}
                entries.append(entry)
            return self.reply_json(entries, with_body)
        filename = "/".join(parts[4:])  # kind == "resolve": get_hf_file_metadata (HEAD), then http_get (GET)
        if filename not in files:
            return self.not_found("EntryNotFound", f"{filename} does not exist at {commit}", with_body, commit)
        data = files[filename]
        headers = {"Content-Type": "application/octet-stream", "X-Repo-Commit": commit,
                   "ETag": f'"{etag_of(filename, data)}"', "Accept-Ranges": "bytes"}
        self.reply(200, data, headers, with_body)


@pytest.fixture(scope="module")
def fake_hub(revisions):
    repo = {
        "refs": {rev: COMMITS[rev] for rev in SEEDS},
        "commits": {COMMITS[rev]: revisions[rev]["files"] for rev in SEEDS},
    }
    server = FakeHub({REPO: repo, DOTTED_REPO: repo})
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


# --- loading in a subprocess, with the environment huggingface_hub reads at import -----------------------

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
    if mark_url:
        urllib.request.urlopen(f"{mark_url}/__mark__/{action['name']}").read()
    try:
        if action["kind"] == "doubler":
            wd = WordDoubler.from_pretrained(action["repo"], revision=action.get("revision"), device="cpu")
            out = {"source": wd.source, "output": wd.double([action["sentence"]])[0].output,
                   "checksum": checksum(wd.model), "path": resolved[-1]}
        elif action["kind"] == "seq2seq":
            out = {"checksum": checksum(Seq2Seq.from_pretrained(action["repo"], revision=action.get("revision")))}
        else:
            wd, warning = WordDoubler.from_pretrained_or_bundled(action["repo"], action.get("revision"), device="cpu")
            out = {"path": resolved[-1], "description": wd.source, "warning": warning}
    except Exception as error:
        out = {"error_type": type(error).__name__, "error": str(error), "mro": [c.__name__ for c in type(error).__mro__]}
    results[action["name"]] = out
print("RESULTS " + json.dumps(results))
"""


def run_loader(actions: list[dict], env: dict, mark_url: str = "") -> dict:
    clean = {k: v for k, v in os.environ.items()
             if not k.upper().startswith(("HF_", "HUGGING", "TRANSFORMERS_")) and "PROXY" not in k.upper()}
    clean.update({"PYTHONPATH": str(ROOT), "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
                  "OMP_NUM_THREADS": "1", "NO_PROXY": "127.0.0.1,localhost"})
    clean.update(env)
    done = subprocess.run([sys.executable, "-c", LOADER, json.dumps(actions), mark_url], cwd=ROOT, env=clean,
                          capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULTS ")]
    assert done.returncode == 0 and lines, f"loader failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return json.loads(lines[-1][len("RESULTS "):])


def load(name, repo=REPO, revision=None, kind="doubler"):
    return {"name": name, "kind": kind, "repo": repo, "revision": revision, "sentence": SENTENCE}


ONLINE_ACTIONS = [
    load("v1", revision="v1"),
    load("default"),
    load("seq2seq_v1", kind="seq2seq", revision="v1"),
    load("missing_repo", repo="owner/missing"),
    load("missing_revision", revision="v9"),
    load("fallback_missing", repo="owner/missing", kind="fallback"),
    load("dotted", repo=DOTTED_REPO),
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
    env = {"HF_ENDPOINT": fake_hub.url, "HF_HUB_CACHE": str(hub_cache), "HF_HOME": str(tmp_path_factory.mktemp("hf-home"))}
    return run_loader(ONLINE_ACTIONS, env, mark_url=fake_hub.url)


@pytest.fixture(scope="module")
def offline(online, fake_hub, hub_cache, tmp_path_factory):
    """The same repo, offline, from the cache the online run populated; the server stays up to catch any request."""
    before = len(fake_hub.requests)
    env = {"HF_HUB_OFFLINE": "1", "HF_ENDPOINT": fake_hub.url, "HF_HUB_CACHE": str(hub_cache),
           "HF_HOME": str(tmp_path_factory.mktemp("hf-home-offline"))}
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


def test_offline_missing_repo_raises_a_clear_error_and_the_app_falls_back(offline):
    missing = offline["missing_repo"]
    assert missing["error_type"] == "LocalEntryNotFoundError", missing
    assert "outgoing traffic has been disabled" in missing["error"] and "HF_HUB_OFFLINE" in missing["error"]
    fallback = offline["fallback_missing"]
    assert Path(fallback["path"]) == ROOT / "weights" and fallback["description"] == "bundled weights/"
    assert "'owner/missing'" in fallback["warning"] and "LocalEntryNotFoundError" in fallback["warning"]


def build_cache_by_hand(cache: Path, repo: str, commit: str, source_dir: Path) -> None:
    """The layout huggingface_hub writes (checked against it above): blobs named by ETag, relative snapshot links, refs."""
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
    assert got["missing_repo"]["error_type"] == "LocalEntryNotFoundError"
