"""`python -m s2s "I love CUDA" "TF is Aww"`: double sentences from the command line or stdin."""

from __future__ import annotations

import argparse
import json
import sys

from tqdm import tqdm

from .limits import (DEFAULT_BEAM_WIDTH, DEFAULT_TOP_K, MAX_BEAM_WIDTH, MAX_SENTENCES, MAX_TOP_K, MIN_BEAM_WIDTH,
                     MIN_TOP_K, check_beam_width, check_sentence, check_top_k)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m s2s",
        description="Double every word of each sentence. With no sentences given, reads one per line from stdin.",
    )
    p.add_argument("sentences", nargs="*", help="sentences to double (quote each one)")
    p.add_argument("--json", action="store_true", help="print each result's to_dict() as one JSON line")
    p.add_argument("--top-k", type=int, default=DEFAULT_TOP_K, help=f"alternatives kept per step ({MIN_TOP_K}-{MAX_TOP_K})")
    p.add_argument("--beam-width", type=int, default=DEFAULT_BEAM_WIDTH,
                   help=f"candidate doublings kept per sentence ({MIN_BEAM_WIDTH}-{MAX_BEAM_WIDTH}; 1 = greedy)")
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
    lines = args.sentences if from_args else sys.stdin.read().splitlines()
    what = "argument" if from_args else "line"
    with tqdm(total=len(lines), unit="line", file=sys.stderr, disable=len(lines) < 2 * MAX_SENTENCES) as bar:
        for start in range(0, len(lines), MAX_SENTENCES):
            group, problem = lines[start : start + MAX_SENTENCES], None
            for i, line in enumerate(group):
                try:
                    if line.strip() or from_args:  # a blank stdin line simply comes out blank
                        check_sentence(line)
                except ValueError as error:  # double what came before it, then stop
                    group, problem = group[:i], f"{what} {start + i + 1} {error}"
                    break
            filled = [line for line in group if line.strip()]
            results = iter(doubler.double(filled, top_k=args.top_k, beam_width=args.beam_width) if filled else [])
            for line in group:
                if not line.strip():
                    print("")
                    continue
                result = next(results)
                print(json.dumps(result.to_dict(), ensure_ascii=False) if args.json else result.output, flush=True)
            bar.update(len(group))
            if problem:
                print(f"error: {problem}", file=sys.stderr)
                return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
