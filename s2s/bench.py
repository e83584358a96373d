"""`python -m s2s.bench`: batched vs one-at-a-time decoding — the speed-up batching buys, and that outputs agree."""

from __future__ import annotations

import argparse
import os
import random
import time
from dataclasses import dataclass

import torch

from .data import random_text_sentence
from .doubler import DoubleResult, WordDoubler
from .limits import DEFAULT_BEAM_WIDTH, DEFAULT_TOP_K

# Probabilities of a sentence decoded alone and inside a batch agree to this (DESIGN: batch invariance).
PROB_TOLERANCE = 1e-5


@dataclass
class Comparison:
    sentences: int
    batched_ms: float  # one padded batch for all sentences
    one_at_a_time_ms: float  # a batch of one per sentence, in turn
    speedup: float  # one_at_a_time_ms / batched_ms
    identical: bool  # every sentence: same words, same steps, probabilities within PROB_TOLERANCE
    mismatches: list[int]  # indices of sentences that came out differently


def same_result(a: DoubleResult, b: DoubleResult, tolerance: float = PROB_TOLERANCE) -> bool:
    """Same output, same emitted word at every step, and the same probabilities within `tolerance`."""
    return (
        a.output == b.output
        and [s.token for s in a.steps] == [s.token for s in b.steps]
        and all(abs(x.prob - y.prob) <= tolerance for x, y in zip(a.steps, b.steps))
    )


def timed(fn, *args) -> tuple[object, float]:
    start = time.perf_counter()
    value = fn(*args)
    return value, 1000 * (time.perf_counter() - start)


def compare(wd: WordDoubler, sentences: list[str], top_k: int = DEFAULT_TOP_K,
            beam_width: int = DEFAULT_BEAM_WIDTH) -> Comparison:
    """Decode `sentences` as one batch and then one by one; time both and check they agree."""
    batched, batched_ms = timed(wd.double, sentences, top_k, beam_width)
    start = time.perf_counter()
    alone = [wd.double([s], top_k, beam_width)[0] for s in sentences]
    one_ms = 1000 * (time.perf_counter() - start)
    mismatches = [i for i, (a, b) in enumerate(zip(batched, alone)) if not same_result(a, b)]
    return Comparison(
        sentences=len(sentences),
        batched_ms=batched_ms,
        one_at_a_time_ms=one_ms,
        speedup=one_ms / max(batched_ms, 1e-9),
        identical=not mismatches,
        mismatches=mismatches,
    )


def random_sentences(wd: WordDoubler, count: int, min_words: int, max_words: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [random_text_sentence(rng, wd.tokenizer, rng.randint(min_words, max_words)) for _ in range(count)]


def measure_app(model: str, sentences: list[str], top_k: int, beam_width: int, repeat: int) -> tuple[float, list[float]]:
    """Start `python app.py` on a free port; time it to the first served page, then time `repeat`
    /double requests of `sentences` through gradio_client, end to end."""
    import socket
    import subprocess
    import sys
    import urllib.request
    from pathlib import Path

    from gradio_client import Client

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, GRADIO_SERVER_PORT=str(port), GRADIO_SERVER_NAME="127.0.0.1", S2S_MODEL=str(model))
    root = Path(__file__).resolve().parent.parent
    start = time.perf_counter()
    server = subprocess.Popen([sys.executable, "app.py"], cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        while True:
            try:
                with urllib.request.urlopen(url, timeout=1) as page:
                    if page.status == 200:
                        break
            except OSError:
                time.sleep(0.05)
            if server.poll() is not None or time.perf_counter() - start > 120:
                raise SystemExit("python app.py did not serve a page within 120 s")
        startup = time.perf_counter() - start
        client = Client(url, verbose=False)
        client.predict("I love CUDA", top_k, beam_width, api_name="/double")  # warm-up
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            results = client.predict("\n".join(sentences), top_k, beam_width, api_name="/double")
            times.append(time.perf_counter() - t)
            assert len(results) == len(sentences)
        return startup, times
    finally:
        server.terminate()
        server.wait()


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", default=os.environ.get("S2S_MODEL", "weights"), help="weights directory or Hub repo id (env S2S_MODEL)")
    p.add_argument("--revision", default=os.environ.get("S2S_REVISION"), help="Hub revision (env S2S_REVISION)")
    p.add_argument("--sentences", type=int, default=64, help="number of random sentences")
    p.add_argument("--min-words", type=int, default=26, help="shortest sentence, in words")
    p.add_argument("--max-words", type=int, default=26, help="longest sentence, in words (26 = the blog's longest)")
    p.add_argument("--top-k", type=int, default=DEFAULT_TOP_K, help="candidates recorded per step")
    p.add_argument("--beam-width", type=int, default=DEFAULT_BEAM_WIDTH, help="beams per sentence (1 = greedy)")
    p.add_argument("--repeat", type=int, default=3, help="runs of each way; the fastest counts (less noise)")
    p.add_argument("--seed", type=int, default=0, help="seed for the random sentences")
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: CUDA when available)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    p.add_argument("--app", action="store_true",
                   help="also time `python app.py` to its first page and the same request through gradio_client")
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    wd = WordDoubler.from_pretrained(args.model, revision=args.revision, device=args.device)
    sentences = random_sentences(wd, args.sentences, args.min_words, args.max_words, args.seed)
    wd.double(sentences[:2], args.top_k, args.beam_width)  # warm-up: first calls pay for allocation and kernel selection
    runs = [compare(wd, sentences, args.top_k, args.beam_width) for _ in range(args.repeat)]
    batched = min(r.batched_ms for r in runs)
    alone = min(r.one_at_a_time_ms for r in runs)
    n = len(sentences)
    print(f"model: {wd.source} on {wd.device}, {n} sentences of {args.min_words}-{args.max_words} words, top-k {args.top_k}, "
          f"beam width {args.beam_width}")
    print(f"batched:        {batched:9.1f} ms  {1000 * n / batched:9.1f} sentences/s")
    print(f"one at a time:  {alone:9.1f} ms  {1000 * n / alone:9.1f} sentences/s")
    print(f"speed-up:       {alone / batched:9.1f}x")
    identical = all(r.identical for r in runs)
    mismatches = sorted({i for r in runs for i in r.mismatches})
    print(f"identical:      {'yes' if identical else f'no, sentences {mismatches}'}")
    if args.app:
        startup, times = measure_app(args.model, sentences, args.top_k, args.beam_width, args.repeat)
        print(f"python app.py to first served page: {startup:.2f} s")
        print(f"/double via gradio_client, {n} sentences: best {min(times):.3f} s, median {sorted(times)[len(times) // 2]:.3f} s")


if __name__ == "__main__":
    main()
