"""`python -m s2s "I love CUDA" "TF is Aww"`: double sentences from the command line or stdin."""

from __future__ import annotations

import argparse
import json
import os
import sys

from tqdm import tqdm

from .limits import (
    DEFAULT_BEAM_WIDTH,
    DEFAULT_TOP_K,
    MAX_BEAM_WIDTH,
    MAX_TOP_K,
    MIN_BEAM_WIDTH,
    MIN_TOP_K,
    check_beam_width,
    check_sentence,
    check_top_k,
)

# Lines read before a block is doubled: enough for the library to sort them into full batches, few
# enough that memory does not grow with the input.
STREAM_BLOCK = 4096


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m s2s",
        description="Double every word of each sentence. With no sentences given, reads one per line from stdin.",
    )
    p.add_argument("sentences", nargs="*", help="sentences to double (quote each one)")
    p.add_argument("--json", action="store_true", help="print each result's to_dict() as one JSON line")
    p.add_argument(
        "--top-k", type=int, default=DEFAULT_TOP_K, help=f"alternatives kept per step ({MIN_TOP_K}-{MAX_TOP_K})"
    )
    p.add_argument(
        "--beam-width",
        type=int,
        default=DEFAULT_BEAM_WIDTH,
        help=f"candidate doublings kept per sentence ({MIN_BEAM_WIDTH}-{MAX_BEAM_WIDTH}; 1 = greedy)",
    )
    p.add_argument("--model", default=None, help="local weights directory or Hub repo id (default: bundled weights/)")
    p.add_argument("--revision", default=None, help="Hub revision (branch, tag or commit) with a repo id")
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: CUDA when present)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        check_top_k(args.top_k)
        check_beam_width(args.beam_width)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    from . import hub
    from .doubler import WordDoubler

    try:
        doubler = WordDoubler.from_pretrained(args.model or hub.BUNDLED, revision=args.revision, device=args.device)
    except Exception as error:  # a missing directory or an unreachable repo: say so, no traceback
        print(f"error: could not load the model: {error}", file=sys.stderr)
        return 1
    from_args = bool(args.sentences)
    lines = args.sentences if from_args else (line.rstrip("\r\n") for line in sys.stdin)
    try:
        return stream(doubler, lines, "argument" if from_args else "line", args)
    except BrokenPipeError:  # `python -m s2s ... | head -1`: the reader has gone, which is no error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit flush is quiet too
        return 0


def stream(doubler, lines, what: str, args) -> int:
    """Double lines as they come, in blocks the library batches (sorted by length), printing each block's
    results in order: constant memory however long the input. Stops at the first bad line, after
    doubling the lines before it."""
    number = 0
    with tqdm(unit="line", file=sys.stderr, disable=None, mininterval=1) as bar:
        for block in blocks(lines, STREAM_BLOCK):
            problem = None
            for i, line in enumerate(block):
                try:
                    if line.strip() or what == "argument":  # a blank stdin line simply comes out blank
                        check_sentence(line)
                except ValueError as error:
                    block, problem = block[:i], f"{what} {number + i + 1} {error}"
                    break
            filled = [line for line in block if line.strip()]
            results = iter(doubler.double(filled, top_k=args.top_k, beam_width=args.beam_width))
            out = [
                (json.dumps(next(results).to_dict(), ensure_ascii=False) if args.json else next(results).output)
                if line.strip()
                else ""
                for line in block
            ]
            if out:
                print("\n".join(out), flush=True)
            number += len(block)
            bar.update(len(block))
            if problem:
                print(f"error: {problem}", file=sys.stderr)
                return 2
    return 0


def blocks(lines, size: int):
    block = []
    for line in lines:
        block.append(line)
        if len(block) == size:
            yield block
            block = []
    if block:
        yield block


if __name__ == "__main__":
    sys.exit(main())
