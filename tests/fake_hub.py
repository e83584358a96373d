"""A Hub-compatible HTTP server on 127.0.0.1 (a free port), for the real huggingface_hub code with no network.

It answers what huggingface_hub 2.4 calls (routes and payloads read from its installed source):
* reading (snapshot_download, hf_hub_download): GET /api/{models|spaces}/{repo}/revision/{rev} (repo_info),
  GET /api/.../tree/{rev}?recursive=... (list_repo_tree), HEAD/GET /[spaces/]{repo}/resolve/{rev}/{file}
  (X-Repo-Commit, ETag, Content-Length; no Xet headers, so downloads are plain HTTP);
* writing (create_repo, create_branch, create_tag, create_commit): POST /api/repos/create, POST /api/validate-yaml
  (README.md front matter), POST /api/.../preupload/{rev} (regular or LFS: *.safetensors is LFS, as a Hub repo's
  default .gitattributes says), the LFS batch API POST /[spaces/]{repo}.git/info/lfs/objects/batch with a basic
  single-PUT upload to /__lfs__/{sha256}, POST /api/.../commit/{rev} (ndjson), POST /api/.../branch/{name} and
  POST /api/.../tag/{rev}. Writes need `Authorization: Bearer <token>`.
Uploads through Xet need a storage server this one is not, so writers run with HF_HUB_DISABLE_XET=1: huggingface_hub's
LFS path, which it takes itself wherever hf_xet is not installed. tests/hub_processes.py runs the clients.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import yaml
from fake_hub_repos import GITATTRIBUTES, etag_of, git_blob_sha1, is_lfs, new_repo, tree_entry

API = re.compile(r"^/api/(models|spaces)/([^/]+/[^/]+)/(revision|tree|preupload|commit|branch|tag)/([^/]+)$")
RESOLVE = re.compile(r"^/(spaces/)?([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")
LFS_BATCH = re.compile(r"^/(spaces/)?([^/]+/[^/]+)\.git/info/lfs/objects/batch$")


# --- the server ----------------------------------------------------------------------------------------------


class FakeHub(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, models: dict | None = None, token: str = "hf_fake_write_token"):
        """models: repo id -> a repo as `new_repo` makes it (several ids may share one repo)."""
        super().__init__(("127.0.0.1", 0), HubHandler)
        self.repos = {("models", repo_id): repo for repo_id, repo in (models or {}).items()}
        self.lfs: dict[str, bytes] = {}  # sha256 -> content uploaded through the LFS API
        self.token = token
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

    def repo(self, repo_id: str, kind: str = "models") -> dict:
        return self.repos[(kind, repo_id)]

    def files(self, repo_id: str, revision: str = "main", kind: str = "models") -> dict[str, bytes]:
        repo = self.repo(repo_id, kind)
        return repo["commits"][repo["refs"].get(revision, revision)]


@contextlib.contextmanager
def serving(hub: FakeHub):
    thread = threading.Thread(target=hub.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        hub.shutdown()
        hub.server_close()
        thread.join(timeout=5)


class HubHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeHub

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def do_HEAD(self) -> None:
        self.handle_read(with_body=False)

    def do_GET(self) -> None:
        self.handle_read(with_body=True)

    def do_POST(self) -> None:
        self.handle_write()

    def do_PUT(self) -> None:
        self.handle_write()

    # --- replies ---

    def reply(self, status: int, body: bytes = b"", headers: dict | None = None, with_body: bool = True) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def reply_json(self, data, with_body: bool = True, status: int = 200) -> None:
        self.reply(status, json.dumps(data).encode(), {"Content-Type": "application/json"}, with_body)

    def error(
        self, status: int, code: str | None, message: str, with_body: bool = True, commit: str | None = None
    ) -> None:
        headers = {"Content-Type": "application/json", "X-Error-Message": message}
        if code:
            headers["X-Error-Code"] = code
        if commit:
            headers["X-Repo-Commit"] = commit
        self.reply(status, json.dumps({"error": message}).encode(), headers, with_body)

    def body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while (size := int(self.rfile.readline().split(b";")[0], 16)) > 0:
                data += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
            return data
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    # --- reading ---

    def start(self) -> tuple[str, list[str]]:
        split = urlsplit(self.path)
        self.server.log(self.command, split.path, {k: v[0] for k, v in parse_qs(split.query).items()})
        return split.path, [unquote(p) for p in split.path.split("/")[1:]]

    def find(self, kind: str, repo_id: str, revision: str, with_body: bool = True):
        """(repo, commit) or None after replying 404 as the Hub does."""
        repo = self.server.repos.get((kind, repo_id))
        if repo is None:
            return self.error(404, "RepoNotFound", f"Repository {repo_id} not found", with_body)
        commit = repo["refs"].get(revision, revision if revision in repo["commits"] else None)
        if commit is None:
            return self.error(404, "RevisionNotFound", f"Invalid rev id: {revision}", with_body)
        return repo, commit

    def handle_read(self, with_body: bool) -> None:
        path, parts = self.start()
        if parts[0] == "__mark__":
            return self.reply(200, b"ok", with_body=with_body)
        api, resolve = API.match(path), RESOLVE.match(path)
        if api and self.command == "GET" and api.group(3) in ("revision", "tree"):
            kind, repo_id, route, revision = api.group(1), unquote(api.group(2)), api.group(3), unquote(api.group(4))
        elif resolve:  # get_hf_file_metadata (HEAD), then http_get (GET)
            kind = "spaces" if resolve.group(1) else "models"
            repo_id, route, revision = resolve.group(2), "resolve", unquote(resolve.group(3))
        else:
            return self.error(404, None, f"no route for {self.command} {path}", with_body)
        found = self.find(kind, repo_id, revision, with_body)
        if found is None:
            return
        repo, commit = found
        files = repo["commits"][commit]
        if route == "revision":  # HfApi.repo_info -> ModelInfo(**json)
            info = {
                "_id": commit[:24],
                "id": repo_id,
                "modelId": repo_id,
                "sha": commit,
                "private": repo["private"],
                "gated": False,
                "disabled": False,
                "tags": [],
                "siblings": [{"rfilename": p} for p in sorted(files)],
            }
            return self.reply_json(info, with_body)
        if route == "tree":  # HfApi.list_repo_tree -> RepoFile(**entry) for type == "file"
            return self.reply_json([tree_entry(p, d) for p, d in sorted(files.items())], with_body)
        filename = unquote(resolve.group(4))
        if filename not in files:
            return self.error(404, "EntryNotFound", f"{filename} does not exist at {commit}", with_body, commit)
        data = files[filename]
        headers = {
            "Content-Type": "application/octet-stream",
            "X-Repo-Commit": commit,
            "ETag": f'"{etag_of(filename, data)}"',
            "Accept-Ranges": "bytes",
        }
        self.reply(200, data, headers, with_body)

    # --- writing ---

    def handle_write(self) -> None:
        path, parts = self.start()
        payload = self.body()
        if self.command == "PUT" and parts[0] == "__lfs__":  # the basic LFS transfer: one PUT of the whole file
            if hashlib.sha256(payload).hexdigest() != parts[1]:
                return self.error(400, None, "content does not match its sha256")
            self.server.lfs[parts[1]] = payload
            return self.reply(200)
        if self.headers.get("Authorization") != f"Bearer {self.server.token}":
            return self.error(401, None, "Invalid credentials in Authorization header")
        if path == "/api/repos/create":
            return self.create_repo(json.loads(payload))
        if path == "/api/validate-yaml":
            return self.validate_yaml(json.loads(payload))
        if batch := LFS_BATCH.match(path):
            kind = "spaces" if batch.group(1) else "models"
            if (kind, batch.group(2)) not in self.server.repos:
                return self.error(404, "RepoNotFound", f"Repository {batch.group(2)} not found")
            return self.lfs_batch(json.loads(payload))
        api = API.match(path)
        if not api or api.group(3) not in ("preupload", "commit", "branch", "tag"):
            return self.error(404, None, f"no route for {self.command} {path}")
        kind, repo_id, route, revision = api.group(1), unquote(api.group(2)), api.group(3), unquote(api.group(4))
        if route == "branch":
            return self.create_ref(kind, repo_id, revision, json.loads(payload or b"{}").get("startingPoint", "main"))
        found = self.find(kind, repo_id, revision)
        if found is None:
            return
        repo, commit = found
        if route == "tag":
            return self.create_ref(kind, repo_id, json.loads(payload)["tag"], commit)
        if route == "preupload":
            return self.preupload(repo["commits"][commit], json.loads(payload))
        lines = [json.loads(line) for line in payload.splitlines() if line]  # ndjson: a header, then one line a file
        return self.commit(kind, repo_id, repo, revision, commit, lines)

    def create_repo(self, request: dict) -> None:
        kind = request.get("type", "model") + "s"
        repo_id = f"{request['organization']}/{request['name']}"
        prefix = "" if kind == "models" else f"{kind}/"
        url = f"{self.server.url}/{prefix}{repo_id}"
        if (kind, repo_id) in self.server.repos:  # create_repo(exist_ok=True) reads the url of a 409 too
            return self.reply_json({"error": f"You already created this {kind[:-1]} repo", "url": url}, status=409)
        repo = new_repo({".gitattributes": GITATTRIBUTES}, private=request.get("visibility") == "private")
        repo["sdk"] = request.get("sdk")
        self.server.repos[(kind, repo_id)] = repo
        self.reply_json({"url": url, "name": repo_id})

    def validate_yaml(self, request: dict) -> None:
        match = re.match(r"^---\n(.*?)\n---\n", request["content"], flags=re.S)
        try:
            if match and not isinstance(yaml.safe_load(match.group(1)), dict):
                raise ValueError("metadata must be a YAML mapping")
        except (yaml.YAMLError, ValueError) as error:
            return self.reply_json({"errors": [{"message": str(error)}]}, status=400)
        self.reply_json({"errors": [], "warnings": []})

    def preupload(self, files: dict[str, bytes], request: dict) -> None:
        answers = []
        for entry in request["files"]:
            path, old = entry["path"], files.get(entry["path"])
            oid = None if old is None else hashlib.sha256(old).hexdigest() if is_lfs(path) else git_blob_sha1(old)
            mode = "lfs" if is_lfs(path) else "regular"
            answers.append({"path": path, "uploadMode": mode, "shouldIgnore": False, "oid": oid})
        self.reply_json({"files": answers})

    def lfs_batch(self, request: dict) -> None:
        objects = []
        for obj in request["objects"]:
            answer = {"oid": obj["oid"], "size": obj["size"], "authenticated": True}
            if obj["oid"] not in self.server.lfs:  # no "actions": the content is there already
                answer["actions"] = {"upload": {"href": f"{self.server.url}/__lfs__/{obj['oid']}", "header": {}}}
            objects.append(answer)
        self.reply_json({"transfer": "basic", "objects": objects})

    def create_ref(self, kind: str, repo_id: str, name: str, starting_point: str) -> None:
        repo = self.server.repos.get((kind, repo_id))
        if repo is None:
            return self.error(404, "RepoNotFound", f"Repository {repo_id} not found")
        if name in repo["refs"]:
            return self.error(409, None, f"Reference {name} already exists")
        repo["refs"][name] = repo["refs"].get(starting_point, starting_point)
        self.reply_json({"success": True})

    def commit(self, kind: str, repo_id: str, repo: dict, branch: str, parent: str, lines: list[dict]) -> None:
        files = dict(repo["commits"][parent])
        header = lines[0]["value"]
        if header.get("parentCommit") not in (None, parent):
            return self.error(412, None, "A commit has happened since. Please refresh and try again.")
        for line in lines[1:]:
            key, value = line["key"], line["value"]
            if key == "file":
                files[value["path"]] = base64.b64decode(value["content"])
            elif key == "lfsFile":
                if value["oid"] not in self.server.lfs:
                    return self.error(400, None, f"LFS object {value['oid']} was never uploaded")
                files[value["path"]] = self.server.lfs[value["oid"]]
            elif key == "deletedFile":
                files.pop(value["path"])
            elif key == "deletedFolder":
                files = {p: d for p, d in files.items() if not p.startswith(value["path"].rstrip("/") + "/")}
        content = sorted((p, etag_of(p, d)) for p, d in files.items())
        oid = hashlib.sha1(json.dumps([parent, header, content]).encode()).hexdigest()
        repo["commits"][oid], repo["messages"][oid], repo["refs"][branch] = files, header["summary"], oid
        prefix = "" if kind == "models" else f"{kind}/"
        url = f"{self.server.url}/{prefix}{repo_id}/commit/{oid}"
        self.reply_json({"success": True, "commitOid": oid, "commitUrl": url, "pullRequestUrl": None})
