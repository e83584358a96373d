"""`python -m s2s.publish push`: weights/ published with huggingface_hub's HfApi to the Hub-compatible server of
tests/fake_hub.py, one commit per push, then loaded back by repo id and by the printed commit."""

from __future__ import annotations

import hashlib
import json
import re
import shutil

import pytest
from fake_hub import FakeHub, serving
from helpers import save_tiny_doubler
from hub_processes import load, run_loader, run_module

from s2s import hub

pytestmark = pytest.mark.slow  # each push is a `python -m s2s.hub` process that loads the weights it checks

REPO = "someone/word-doubler"
PRIVATE = "someone/private-doubler"
MODEL_FILES = ["model.safetensors", "config.json", "tokenizer.json", "README.md"]
SHIPPED = MODEL_FILES + (["evaluation.json"] if (hub.BUNDLED / "evaluation.json").is_file() else [])
SENTENCE, DOUBLED = "I love CUDA", "I I love love CUDA CUDA"


@pytest.fixture(scope="module")
def server():
    with serving(FakeHub()) as hub_server:
        yield hub_server


def push(server, tmp_path_factory, *args: str):
    env = {
        "HF_ENDPOINT": server.url,
        "HF_TOKEN": server.token,
        "HF_HUB_DISABLE_XET": "1",
        "HF_HOME": str(tmp_path_factory.mktemp("hf-home")),
    }
    return run_module(["s2s.publish", "push", *args], env)


def printed_commit(done) -> str:
    assert done.returncode == 0, f"push failed:\n{done.stdout}\n{done.stderr}"
    match = re.search(r"^pin this commit: ([0-9a-f]{40})$", done.stdout, flags=re.M)
    assert match, done.stdout
    return match.group(1)


def loads(server, tmp_path_factory, actions: list[dict]) -> dict:
    """A fresh cache each time: every load below really goes through the server."""
    env = {
        "HF_ENDPOINT": server.url,
        "HF_HUB_CACHE": str(tmp_path_factory.mktemp("hf-cache")),
        "HF_HOME": str(tmp_path_factory.mktemp("hf-home")),
    }
    return run_loader(actions, env)


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    """Another model with the shipped card and an evaluation.json: what a retrained weights/ looks like."""
    folder = tmp_path_factory.mktemp("retrained")
    save_tiny_doubler(folder, seed=3)
    shutil.copy(hub.BUNDLED / "README.md", folder / "README.md")
    (folder / "evaluation.json").write_text(json.dumps({"random": {"overall": {"exact_match": 0.0}}}))
    return folder


@pytest.fixture(scope="module")
def first(server, tmp_path_factory):
    """weights/ pushed as a person runs it (no --folder), tagged v1, then loaded back by id, by commit and by tag."""
    done = push(server, tmp_path_factory, "--repo-id", REPO, "--tag", "v1")
    commit = printed_commit(done)
    loaded = loads(server, tmp_path_factory, [load("by_id", REPO), load("by_commit", REPO, commit)])
    return {"done": done, "commit": commit, "loaded": loaded}


@pytest.fixture(scope="module")
def second(first, server, tmp_path_factory, tiny_folder):
    """Another push to main moves it; the first commit must still load."""
    commit = printed_commit(push(server, tmp_path_factory, "--repo-id", REPO, "--folder", str(tiny_folder)))
    loaded = loads(
        server, tmp_path_factory, [load("main", REPO), load("pinned", REPO, first["commit"]), load("tag", REPO, "v1")]
    )
    return {"commit": commit, "loaded": loaded}


def test_dry_run_lists_the_files_and_checks_card_and_weights_without_the_network():
    done = run_module(
        ["s2s.publish", "push", "--repo-id", REPO, "--dry-run"],
        {"HF_HUB_OFFLINE": "1", "HF_ENDPOINT": "http://127.0.0.1:9"},
    )  # a closed port: no Hub at all
    assert done.returncode == 0, done.stderr
    assert "RuntimeWarning" not in done.stderr
    for name in SHIPPED:
        size = (hub.BUNDLED / name).stat().st_size
        assert re.search(rf"^  {re.escape(name)} +{size:,} bytes$", done.stdout, flags=re.M)
    assert "model card metadata: valid (license: mit, library_name: pytorch" in done.stdout
    assert f"{SENTENCE!r} -> {DOUBLED!r}" in done.stdout


def test_a_card_the_hub_cannot_list_is_refused_before_any_request(server, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bare-card")
    save_tiny_doubler(folder)  # the mixin's own card: tags only
    before = len(server.requests)
    done = push(server, tmp_path_factory, "--repo-id", "someone/bare", "--folder", str(folder))
    assert done.returncode == 1 and "the model card's metadata lacks license, library_name, pipeline_tag" in done.stderr
    assert "Traceback" not in done.stderr and server.requests[before:] == []


def test_push_makes_one_commit_of_exactly_the_model_files(first, server):
    repo = server.repo(REPO)
    commit = first["commit"]
    assert repo["refs"]["main"] == repo["refs"]["v1"] == commit
    assert len(repo["commits"]) == 2  # the repository's creation, then the push: one commit
    files = repo["commits"][commit]
    assert sorted(files) == sorted([".gitattributes", *SHIPPED])
    assert all(files[name] == (hub.BUNDLED / name).read_bytes() for name in SHIPPED)
    sha = hashlib.sha256(files["model.safetensors"]).hexdigest()
    assert server.lfs[sha] == files["model.safetensors"]  # the weights went the LFS way, the rest as plain git files
    assert repo["messages"][commit] == f"Word Doubler weights (model.safetensors sha256 {sha[:12]})"
    assert not repo["private"]
    assert f"published {hub.BUNDLED} to {REPO}@main, tagged v1" in first["done"].stdout


def test_the_published_weights_load_back_by_id_and_by_the_printed_commit(first):
    for name, origin in (("by_id", hub.FROM_HUB), ("by_commit", hub.FROM_CACHE)):  # one cache: by_id filled it
        got = first["loaded"][name]
        assert "error" not in got, got
        assert (got["output"], got["commit"], got["origin"]) == (DOUBLED, first["commit"], origin)
    assert first["loaded"]["by_commit"]["checksum"] == first["loaded"]["by_id"]["checksum"]


def test_a_second_push_is_a_second_commit_and_the_pinned_one_still_loads(first, second, server, tiny_folder):
    repo = server.repo(REPO)
    assert second["commit"] != first["commit"] and repo["refs"]["main"] == second["commit"]
    assert len(repo["commits"]) == 3
    assert repo["commits"][second["commit"]]["evaluation.json"] == (tiny_folder / "evaluation.json").read_bytes()
    loaded = second["loaded"]
    assert loaded["main"]["commit"] == second["commit"] and loaded["main"]["output"] != DOUBLED  # the untrained one
    for name in ("pinned", "tag"):
        assert loaded[name]["commit"] == first["commit"], loaded[name]
        assert loaded[name]["output"] == DOUBLED
        assert loaded[name]["checksum"] == first["loaded"]["by_commit"]["checksum"]


def test_private_repo_on_a_branch_and_no_stale_evaluation(server, tmp_path_factory, tiny_folder):
    with_evaluation = printed_commit(
        push(
            server,
            tmp_path_factory,
            "--repo-id",
            PRIVATE,
            "--private",
            "--revision",
            "staging",
            "--folder",
            str(tiny_folder),
        )
    )
    no_evaluation = tmp_path_factory.mktemp("no-evaluation")
    for name in MODEL_FILES:
        shutil.copy2(hub.BUNDLED / name, no_evaluation / name)
    without = printed_commit(
        push(server, tmp_path_factory, "--repo-id", PRIVATE, "--revision", "staging", "--folder", str(no_evaluation))
    )
    repo = server.repo(PRIVATE)
    assert repo["private"] and repo["refs"]["staging"] == without
    assert sorted(repo["commits"][repo["refs"]["main"]]) == [".gitattributes"]  # main untouched
    assert "evaluation.json" in repo["commits"][with_evaluation]
    # The second folder has no evaluation.json: the first one's would describe other weights, so it is deleted.
    assert sorted(repo["commits"][without]) == sorted([".gitattributes", *MODEL_FILES])


def test_the_card_links_the_code_and_carries_the_mixins_tags(server, tmp_path_factory):
    from huggingface_hub import ModelCard

    from s2s.model import Seq2Seq, Seq2SeqConfig
    from s2s.training.model_card import CODE_LINE, write_model_card

    folder = tmp_path_factory.mktemp("carded")
    save_tiny_doubler(folder, seed=4)
    training = {
        "commands": ["python -m s2s.train --config configs/word-doubler.toml"],
        "steps": 1,
        "seconds": 1.0,
        "machine": "a CPU",
        "native_by_length": {1: 1.0},
    }
    write_model_card(folder, Seq2SeqConfig(), 1, 15, training)
    assert CODE_LINE in (folder / "README.md").read_text(encoding="utf-8")
    url = "https://example.org/word-doubler"
    commit = printed_commit(
        push(server, tmp_path_factory, "--repo-id", "someone/carded", "--folder", str(folder), "--code-url", url)
    )
    card = ModelCard(server.repo("someone/carded")["commits"][commit]["README.md"].decode("utf-8"))
    assert f"Code: [{url}]({url})" in card.text and CODE_LINE not in card.text
    assert set(Seq2Seq._hub_mixin_info.model_card_data.tags) <= set(card.data.tags)  # model_hub_mixin and its kin
