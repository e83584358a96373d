"""The two ways of a decoding step's bookkeeping, timed in one process, rounds alternating: kernels.c's `beam_step`
and torch's loops (the greedy loop at width 1, generate's search otherwise). One process and alternating rounds,
because this machine's speed drifts by 10-20% over minutes, more than the difference asked about.

    python scripts/search_ways.py --width 1 --rounds 6
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from s2s import WordDoubler  # noqa: E402
from s2s.fast import beam_step  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    wd = WordDoubler.from_pretrained("weights")
    rng = random.Random(1)
    words = wd.tokenizer.words[10:3000]
    long = [" ".join(rng.choice(words) for _ in range(26)) for _ in range(64)]
    mixed = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 26))) for _ in range(2000)]
    native = beam_step.usable

    def timed(ways_native: bool) -> dict[str, float]:
        beam_step.usable = native if ways_native else (lambda hidden: False)
        times = {}
        start = time.perf_counter()
        for sentence in long:
            wd.double([sentence], 5, args.width)
        times["64 calls of one 26-word sentence"] = time.perf_counter() - start
        start = time.perf_counter()
        wd.double(long, 5, args.width)
        times["one batch of those 64"] = time.perf_counter() - start
        start = time.perf_counter()
        wd.double(mixed, 5, args.width)
        times["2,000 sentences of 1-26 words"] = time.perf_counter() - start
        return times

    timed(True), timed(False)  # warm both ways
    results: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    for round_ in range(args.rounds):
        for way in (True, False) if round_ % 2 == 0 else (False, True):
            results[way].append(timed(way))
    for way, name in ((False, "torch's loop"), (True, "beam_step")):
        print(f"{name}, width {args.width}:")
        for case in results[way][0]:
            times = sorted(1000 * r[case] for r in results[way])
            print(f"  {case}: {', '.join(f'{t:.1f}' for t in times)} ms")


if __name__ == "__main__":
    main()
