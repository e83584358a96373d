"""`python -m s2s.publish push`: a model folder (weights/) to a Hugging Face model repository, in one commit."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, ModelCard

from .. import hub
from ..doubler import WordDoubler
from ..training.model_card import with_code_link

REQUIRED = ["model.safetensors", "config.json", "tokenizer.json", "README.md"]  # README.md: the model card
OPTIONAL = ["evaluation.json"]  # `python -m s2s.evaluate --write-card` writes it beside the weights
# What the Hub lists and filters a model by, and what tells it how to load one (library_name).
CARD_FIELDS = ["license", "library_name", "pipeline_tag", "tags"]
CHECK_SENTENCE = "I love CUDA"


def files_to_publish(folder: Path) -> list[Path]:
    folder = Path(folder)
    missing = [name for name in REQUIRED if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} lacks {', '.join(missing)}: nothing published")
    return [folder / name for name in REQUIRED + OPTIONAL if (folder / name).is_file()]


def check_card(folder: Path) -> dict:
    """The model card's metadata, parsed offline by huggingface_hub's own card classes (which raise on YAML that is
    not a mapping and on a malformed model-index); the fields the Hub needs must be there."""
    card = ModelCard.load(Path(folder) / "README.md")  # a local path: nothing is fetched
    data = card.data.to_dict()
    missing = [key for key in CARD_FIELDS if not data.get(key)]
    if missing:
        raise ValueError(f"the model card's metadata lacks {', '.join(missing)}")
    if not isinstance(data["tags"], list) or not all(isinstance(tag, str) for tag in data["tags"]):
        raise ValueError(f"the model card's tags must be a list of strings, got {data['tags']!r}")
    return data


def check_weights(folder: Path) -> str:
    """Weights that do not load are not published: load them as the app will, and double one sentence."""
    doubler = WordDoubler.from_pretrained(Path(folder), device="cpu")
    return doubler.double([CHECK_SENTENCE])[0].output


def push(
    folder: Path,
    repo_id: str,
    revision: str | None = None,
    tag: str | None = None,
    private: bool = False,
    api: HfApi | None = None,
    code_url: str | None = None,
) -> str:
    """Upload the folder's model files as one commit (on `revision`, a branch, created if new); returns its id.

    Files the Hub already holds unchanged are left out of the commit; if none changed, no commit is made and the
    id returned is the branch's head, which already holds these files."""
    files = files_to_publish(folder)
    check_card(folder)
    check_weights(folder)
    api = api or HfApi()
    api.create_repo(repo_id, private=private, exist_ok=True)
    if revision:
        api.create_branch(repo_id, branch=revision, exist_ok=True)
    present = set(api.list_repo_files(repo_id, revision=revision))
    # An evaluation.json left by an earlier push would describe other weights than the ones committed now.
    stale = [
        CommitOperationDelete(name) for name in OPTIONAL if name in present and not (Path(folder) / name).is_file()
    ]
    added = [CommitOperationAdd(path_in_repo=file.name, path_or_fileobj=card_bytes(file, code_url)) for file in files]
    sha = hub.weights_sha256(folder)
    info = api.create_commit(
        repo_id,
        added + stale,
        revision=revision,
        commit_message=f"Word Doubler weights (model.safetensors sha256 {sha[:12]})",
    )
    if tag:
        api.create_tag(repo_id, tag=tag, revision=info.oid)
    return info.oid


def card_bytes(file: Path, code_url: str | None):
    """What to upload for a file: its path; the model card with its code line linking code_url, when given."""
    if file.name != "README.md" or not code_url:
        return str(file)
    return with_code_link(file.read_text(encoding="utf-8"), code_url).encode("utf-8")


def describe_dry_run(folder: Path, repo_id: str, revision: str | None) -> str:
    files = files_to_publish(folder)
    data = check_card(folder)
    output = check_weights(folder)
    width = max(len(file.name) for file in files)
    lines = [f"would upload to {repo_id}@{revision or 'main'}, one commit:"]
    lines += [f"  {file.name:<{width}}  {file.stat().st_size:>12,} bytes" for file in files]
    lines.append(f"  {'total':<{width}}  {sum(file.stat().st_size for file in files):>12,} bytes")
    lines.append("model card metadata: valid (" + ", ".join(f"{key}: {data[key]}" for key in CARD_FIELDS) + ")")
    lines.append(f"weights load: {CHECK_SENTENCE!r} -> {output!r}")
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m s2s.publish", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("push", help="upload the model folder to a Hub model repository, one commit")
    p.add_argument("--repo-id", required=True, help="the model repository, owner/name (created if missing)")
    p.add_argument("--folder", type=Path, default=hub.BUNDLED, help="the model folder to publish (default: weights/)")
    p.add_argument("--revision", help="the branch to commit to (created from main if missing; default main)")
    p.add_argument("--tag", help="also tag the new commit, e.g. v1")
    p.add_argument("--code-url", help="where the code lives (e.g. the repository's web page): the card links it")
    p.add_argument(
        "--private", action="store_true", help="create the repository private (an existing one keeps its visibility)"
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="upload nothing: list files and sizes, check the card's metadata and that the weights load",
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        if args.dry_run:
            print(describe_dry_run(args.folder, args.repo_id, args.revision))
            return 0
        commit = push(args.folder, args.repo_id, args.revision, args.tag, args.private, code_url=args.code_url)
    except (OSError, ValueError) as error:  # missing files, a bad card, a Hub error (HfHubHTTPError is an OSError)
        print(f"error: {error}", file=sys.stderr)
        return 1
    tagged = f", tagged {args.tag}" if args.tag else ""
    print(f"published {args.folder} to {args.repo_id}@{args.revision or 'main'}{tagged}")
    print(f"pin this commit: {commit}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
