"""The folder a Hugging Face Space needs and nothing else, and its upload: `python -m s2s.space build|push`."""

from __future__ import annotations

import argparse
import ast
import re
import shutil
import sys
from pathlib import Path

from huggingface_hub import HfApi, SpaceCard
from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id

from .. import hub

ROOT = hub.ROOT
APP = "app.py"
# Files a serving module reads beside itself: the native kernels' C source, compiled where the Space runs.
BESIDE = {"fast/native.py": ["fast/kernels.c"]}
# The fallback a Space serves when the Hub cannot be reached (3.7 MB), so that the page always comes up.
FALLBACK_WEIGHTS = ["config.json", "model.safetensors", "tokenizer.json"]
MAX_FILE_BYTES = 10 * 2**20  # the Hub takes a file under 10 MiB as a plain git file, without LFS
COMMIT = re.compile(r"[0-9a-f]{40}")


def serving_modules(app: Path = ROOT / APP) -> list[str]:
    """The s2s modules app.py imports, directly or through each other, read from their import statements, as
    paths under s2s/ ("doubler.py", "fast/decode.py"); a module brings every package `__init__.py` above it.

    Code run only as a command (under `if __name__ == "__main__":`) is not serving: training, evaluation and
    publishing stay out of the Space."""
    package = ROOT / "s2s"
    wanted, todo = set(), [app]
    while todo:
        path = todo.pop()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(ast.Module(body=[s for s in tree.body if not _is_main_block(s)], type_ignores=[])):
            for found in _imported_files(node, path, package):
                for file in (*_packages_above(found, package), found):
                    name = file.relative_to(package).as_posix()
                    if name not in wanted:
                        wanted.add(name)
                        todo.append(file)
    return sorted(wanted)


def _is_main_block(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.If)
        and isinstance(statement.test, ast.Compare)
        and isinstance(statement.test.left, ast.Name)
        and statement.test.left.id == "__name__"
    )


def _module_files(base: Path, dotted: list[str]) -> list[Path]:
    """The files `base/<dotted>` may be: a module or a package's __init__.py (none where neither exists)."""
    target = base.joinpath(*dotted)
    return [f for f in (target.with_suffix(".py"), target / "__init__.py") if dotted and f.is_file()]


def _imported_files(node: ast.AST, path: Path, package: Path) -> list[Path]:
    """Files under s2s that an import statement may load: `import s2s.x.y`, `from s2s.x import y` and, inside s2s,
    `from .x import y` / `from ..x import y`; y may be a name in x or a submodule of it."""
    if isinstance(node, ast.Import):
        return [
            f
            for alias in node.names
            if alias.name.split(".")[0] == "s2s"
            for f in _module_files(package.parent, alias.name.split("."))
        ]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level == 0 and node.module and node.module.split(".")[0] == "s2s":
        base, dotted = package.parent, node.module.split(".")
    elif node.level > 0 and package in (path.parent, *path.parent.parents):
        base, dotted = path.parents[node.level - 1], node.module.split(".") if node.module else []
    else:
        return []
    found = _module_files(base, dotted) if dotted else [base / "__init__.py"]
    for alias in node.names:  # `from x import y`: y may be a submodule
        found += _module_files(base, [*dotted, alias.name])
    return found


def _packages_above(file: Path, package: Path) -> list[Path]:
    """The __init__.py of every package from s2s down to the one holding `file`: importing it runs them all."""
    above = [d / "__init__.py" for d in (file.parent, *file.parent.parents) if d == package or package in d.parents]
    return [f for f in reversed(above) if f.is_file() and f != file]


def space_card(model: str, revision: str) -> SpaceCard:
    """The root README's Space front matter (title, sdk, sdk_version, ...) with the model the Space serves."""
    data = SpaceCard.load(ROOT / "README.md").data  # a local path: nothing is fetched
    data.models = [model]  # links the Space and the model on the Hub
    link = f"https://huggingface.co/{model}"
    body = f"""
# {data.title}

{data.get("short_description", "")}. Type sentences, one per line: all of them are padded into one batch and
decoded together, and the page shows the padded batch, the masked loss and what the decoder believed at every step.

This Space serves the model [{model}]({link}) at the pinned commit [`{revision[:12]}`]({link}/tree/{revision}),
written in `{hub.PINNED.name}`; the Space's variables `S2S_MODEL` and `S2S_REVISION` (Settings → Variables)
override the pin without a new build. If the Hub cannot be reached at start-up, the Space serves its copy of the
weights in `weights/` and the page says so.

Built by `python -m s2s.space build` from the Word Doubler repository. API:
`Client("<this Space>").predict("I love CUDA", 5, api_name="/double")`. MCP: the same `double` tool at
`<this Space's URL>/gradio_api/mcp/` (streamable HTTP), described for MCP clients by its docstring.

On GPU hardware (Settings → Hardware → a GPU), the app decodes on CUDA by itself: nothing to change or rebuild.
"""
    return SpaceCard(f"---\n{data.to_yaml()}\n---\n{body}")


def check_model_and_revision(model: str, revision: str) -> None:
    try:
        if model.count("/") != 1:
            raise HFValidationError("not of the form 'owner/name'")
        validate_repo_id(model)
    except HFValidationError as error:
        raise ValueError(f"--model {model!r} is not a Hub model id like 'owner/name'") from error
    if not COMMIT.fullmatch(revision):
        # A branch or tag can move under a running Space; a commit cannot.
        raise ValueError(
            f"--revision {revision!r} is not a commit id: "
            "pin the 40-hex commit that `python -m s2s.publish push` printed"
        )


def build(out: Path, model: str, revision: str, weights: Path = hub.BUNDLED) -> list[Path]:
    """Write the Space folder into out (new or empty); returns its files."""
    check_model_and_revision(model, revision)
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{out} is not empty: build into a new folder")
    (out / "s2s").mkdir(parents=True)
    (out / "weights").mkdir()
    for name in serving_modules():
        for file in (name, *BESIDE.get(name, [])):
            (out / "s2s" / file).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / "s2s" / file, out / "s2s" / file)
    for name in FALLBACK_WEIGHTS:
        shutil.copy2(Path(weights) / name, out / "weights" / name)
    if (Path(weights) / "evaluation.json").is_file():  # the page's chart of where the model is reliable
        shutil.copy2(Path(weights) / "evaluation.json", out / "weights" / "evaluation.json")
    shutil.copy2(ROOT / APP, out / APP)
    shutil.copy2(ROOT / "requirements.txt", out / "requirements.txt")  # what a Space installs
    space_card(model, revision).save(out / "README.md")
    hub.write_pin(out, model, revision)
    files = space_files(out)
    too_big = [
        f"{file.relative_to(out)} ({file.stat().st_size:,} bytes)"
        for file in files
        if file.stat().st_size >= MAX_FILE_BYTES
    ]
    if too_big:
        raise ValueError(f"over {MAX_FILE_BYTES:,} bytes, which the Hub takes only through LFS: {', '.join(too_big)}")
    return files


def space_files(folder: Path) -> list[Path]:
    return sorted(path for path in Path(folder).rglob("*") if path.is_file() and "__pycache__" not in path.parts)


def push(folder: Path, space_id: str, private: bool = False, api: HfApi | None = None) -> str:
    """Make the Space hold exactly the folder's files, in one commit; returns its id."""
    folder = Path(folder)
    if not (folder / hub.PINNED.name).is_file() or not (folder / APP).is_file():
        raise ValueError(f"{folder} is not a Space folder: build it with `python -m s2s.space build`")
    api = api or HfApi()
    api.create_repo(space_id, repo_type="space", space_sdk="gradio", private=private, exist_ok=True)
    model, revision = hub.read_pin(folder)
    # delete_patterns="*": files of an earlier build that this one dropped would still be served. upload_folder
    # keeps the Hub's own .gitattributes and does not delete what it uploads again.
    info = api.upload_folder(
        folder_path=folder,
        repo_id=space_id,
        repo_type="space",
        delete_patterns="*",
        ignore_patterns=["**/__pycache__/**", "__pycache__/**"],
        commit_message=f"Word Doubler Space serving {model}@{revision[:12]}",
    )
    return info.oid


def size_report(folder: Path, files: list[Path]) -> str:
    width = max(len(file.relative_to(folder).as_posix()) for file in files)
    lines = [f"  {file.relative_to(folder).as_posix():<{width}}  {file.stat().st_size:>10,} bytes" for file in files]
    total = sum(file.stat().st_size for file in files)
    lines.append(f"  {'total':<{width}}  {total:>10,} bytes ({len(files)} files, each under {MAX_FILE_BYTES:,})")
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m s2s.space", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    b = commands.add_parser("build", help="write the Space folder: app.py, the serving s2s/, fallback weights, README")
    b.add_argument("out", type=Path, help="a new or empty folder")
    b.add_argument("--model", required=True, help="the Hub model repository the Space serves, owner/name")
    b.add_argument("--revision", required=True, help="the commit to pin: 40 hex digits, as s2s.publish push prints")
    b.add_argument("--weights", type=Path, default=hub.BUNDLED, help="the fallback weights to copy (default: weights/)")
    p = commands.add_parser("push", help="upload a built Space folder to a Space repository, one commit")
    p.add_argument("folder", type=Path, help="the folder `build` wrote")
    p.add_argument("--space-id", required=True, help="the Space, owner/name (created as a Gradio Space if missing)")
    p.add_argument("--private", action="store_true", help="create the Space private")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        if args.command == "build":
            files = build(args.out, args.model, args.revision, args.weights)
            print(f"built the Space folder {args.out} for {args.model}@{args.revision}:")
            print(size_report(args.out, files))
        else:
            commit = push(args.folder, args.space_id, args.private)
            print(f"pushed {args.folder} to the Space {args.space_id}: commit {commit}")
    except (OSError, ValueError) as error:  # a bad id or folder, a Hub error (HfHubHTTPError is an OSError)
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
