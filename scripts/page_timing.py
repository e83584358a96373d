"""Server time of each of the page's views for one 64 x 26-word request: `python scripts/page_timing.py`.

It calls app.py's handlers in process, as the server does, and then Gradio's own postprocessing of what they
return (a figure encoded to PNG, a table to JSON): the time a visitor waits beyond the network. The fastest of
--repeat runs is reported (the least disturbed). Take it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def served(app, handler):
    """The handler, then Gradio's postprocessing of each output it returns."""

    def run(*args):
        out = handler(*args)
        for component, value in out.items():
            if isinstance(value, app.gr.components.Component):  # an update: its value was encoded when built
                continue
            if value is not None:
                component.postprocess(value)
        return out

    return run


def fastest(fn, *args, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sentences", type=int, default=64)
    p.add_argument("--words", type=int, default=26)
    p.add_argument("--widths", default="1,2,8", help="beam widths, comma-separated")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    import app

    rng = random.Random(0)
    words = app.wd.tokenizer.words
    text = "\n".join(" ".join(rng.choice(words) for _ in range(args.words)) for _ in range(args.sentences))
    rows = []
    for width in (int(w) for w in args.widths.split(",")):
        _, state = app.double_on_page(text, 5, width)
        row = {
            "beam_width": width,
            "double_s": fastest(app.double, text, 5, width, repeat=args.repeat),
            "default_view_s": fastest(served(app, app.show_run), state, False, repeat=args.repeat),
            "beam_tree_s": fastest(served(app, app.show_tree), state, args.sentences - 1, repeat=args.repeat),
            "unpacked_s": fastest(served(app, app.show_unpacked), state, repeat=args.repeat),
        }
        rows.append(row)
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
    print(
        f"{args.sentences} x {args.words} words, {args.threads} threads, evaluation "
        f"{'present' if app.EVALUATION else 'absent'}; fastest of {args.repeat}"
    )


if __name__ == "__main__":
    main()
