"""`python -m s2s.evaluate`: exact match and token accuracy per sentence family and length bucket, and on real text."""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import torch

from ..data import LENGTH_BUCKETS, doubling_text, random_text_sentence
from ..doubler import WordDoubler
from ..limits import DEFAULT_BEAM_WIDTH, MAX_BEAM_WIDTH, MIN_BEAM_WIDTH
from .families import FAMILIES
from .measure import native_exact_match
from .model_card import write_evaluation

# What visitors paste (many languages, lists, code, chants, numbers), written for this evaluation.
REAL_TEXT = Path(__file__).resolve().parent / "eval_data" / "real_text.txt"


def bucket_of(n: int) -> str:
    for lo, hi in LENGTH_BUCKETS:
        if lo <= n <= hi:
            return f"{lo}-{hi}"
    return f">{LENGTH_BUCKETS[-1][1]}"


def score(pairs: list[tuple[str, str]]) -> dict:
    """pairs of (input, output) -> exact match and token accuracy, overall and per length bucket."""
    buckets: dict[str, dict] = {}
    for sentence, output in pairs:
        words, expected, got = sentence.split(), doubling_text(sentence).split(), output.split()
        b = buckets.setdefault(bucket_of(len(words)), {"n": 0, "exact": 0, "tokens": 0, "right": 0})
        b["n"] += 1
        b["exact"] += int(got == expected)
        b["tokens"] += len(expected)
        b["right"] += sum(e == g for e, g in zip(expected, got))
    table = {
        name: {"n": b["n"], "exact_match": b["exact"] / b["n"], "token_accuracy": b["right"] / b["tokens"]}
        for name, b in sorted(buckets.items(), key=lambda kv: int(kv[0].lstrip(">").split("-")[0]))
    }
    total = {k: sum(b[k] for b in buckets.values()) for k in ("n", "exact", "tokens", "right")}
    overall = {
        "n": total["n"],
        "exact_match": total["exact"] / max(total["n"], 1),
        "token_accuracy": total["right"] / max(total["tokens"], 1),
    }
    return {"overall": overall, "buckets": table}


def score_doubling(doubler, sentences: list[str], beam_width: int = DEFAULT_BEAM_WIDTH) -> dict:
    """Double the sentences through WordDoubler and score them; the sentences it got wrong are listed too."""
    results = doubler.double(sentences, top_k=1, beam_width=beam_width)
    report = score([(r.input, r.output) for r in results])
    report["wrong"] = [r.input for r in results if not r.is_exact]
    return report


def family_sentences(tokenizer, name: str, per_bucket: int, seed: int) -> list[str]:
    """Fresh sentences of one family: per_bucket in each length bucket (1-5 ... 27-52), lengths uniform in it."""
    rng = random.Random(f"{seed}:{name}")
    return [FAMILIES[name](rng, tokenizer, rng.randint(lo, hi)) for lo, hi in LENGTH_BUCKETS for _ in range(per_bucket)]


def real_text() -> list[str]:
    return [line.strip() for line in REAL_TEXT.read_text(encoding="utf-8").splitlines() if line.strip()]


def evaluate(
    doubler,
    n: int,
    min_len: int,
    max_len: int,
    seed: int,
    beam_width: int = DEFAULT_BEAM_WIDTH,
    per_bucket: int = 100,
    families=tuple(FAMILIES),
) -> dict:
    """Through WordDoubler.double (chunking included): fresh random sentences, every family in every length
    bucket, and the real-text file; natively (one row each) by length too."""
    rng = random.Random(seed)
    sentences = [random_text_sentence(rng, doubler.tokenizer, rng.randint(min_len, max_len)) for _ in range(n)]
    report = {"beam_width": beam_width, "random": score_doubling(doubler, sentences, beam_width)}
    report["families"] = {
        name: score_doubling(doubler, family_sentences(doubler.tokenizer, name, per_bucket, seed), beam_width)
        for name in families
    }
    report["real"] = score_doubling(doubler, real_text(), beam_width)
    # Natively: the same kind of random sentences, only as long as the model doubles in one row.
    native_max = doubler.model.config.max_src_len
    native_sentences = [random_text_sentence(rng, doubler.tokenizer, rng.randint(1, native_max)) for _ in range(n)]
    native_sources = [doubler.tokenizer.encode(sentence)[0] for sentence in native_sentences]
    by_length = native_exact_match(doubler.model, native_sources, device=doubler.device, beam_width=beam_width)
    report["native"] = {"max_src_len": native_max, "exact_match_by_length": by_length}
    return report


def shortfalls(report: dict, baseline: dict) -> list[str]:
    """Where `report` is worse than `baseline` (two evaluations' reports): every family's every length bucket, the
    random mix and the real text, by exact match. Empty: at least as good everywhere the baseline measured."""
    pairs = [
        ("random", report.get("random"), baseline.get("random")),
        ("real text", report.get("real"), baseline.get("real")),
    ]
    pairs += [(name, report.get("families", {}).get(name), old) for name, old in baseline.get("families", {}).items()]
    worse = []
    for name, new, old in pairs:
        if old is None:
            continue
        if new is None:
            worse.append(f"{name}: not measured")
            continue
        for bucket, was in old["buckets"].items():
            now = new["buckets"].get(bucket, {}).get("exact_match")
            if now is None or now < was["exact_match"]:
                shown = "not measured" if now is None else f"{100 * now:.2f}%"
                worse.append(f"{name} {bucket} words: {shown}, was {100 * was['exact_match']:.2f}%")
    return worse


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="weights", help="local directory or Hub repo id")
    p.add_argument("--n", type=int, default=2000, help="fresh random sentences (the random mix)")
    p.add_argument("--min-len", type=int, default=1, help="shortest random sentence, words")
    p.add_argument("--max-len", type=int, default=26, help="longest random sentence, words (longer ones are chunked)")
    p.add_argument(
        "--per-bucket",
        type=int,
        default=100,
        help=f"fresh sentences of each family in each of the {len(LENGTH_BUCKETS)} length buckets",
    )
    p.add_argument("--families", default=",".join(FAMILIES), help="the families to evaluate, comma-separated")
    p.add_argument("--seed", type=int, default=2026, help="seed of the fresh sentences")
    p.add_argument(
        "--beam-width",
        type=int,
        default=DEFAULT_BEAM_WIDTH,
        help=f"beams per sentence, {MIN_BEAM_WIDTH}-{MAX_BEAM_WIDTH} (1 = greedy; default: the library's)",
    )
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: CUDA when present)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    p.add_argument(
        "--write-card",
        action="store_true",
        help="put the results into the model card and evaluation.json beside it (local --model only)",
    )
    p.add_argument(
        "--against",
        default=None,
        help="an evaluation.json to compare with (e.g. weights/evaluation.json, the same seed): list every family "
        "and length bucket where this model is worse, and exit with status 1 if there is any",
    )
    args = p.parse_args(argv)
    families = [name for name in args.families.split(",") if name]
    unknown = [name for name in families if name not in FAMILIES]
    if unknown:
        p.error(f"--families: unknown families {unknown}; the families are {', '.join(FAMILIES)}")
    if args.threads:
        torch.set_num_threads(args.threads)
    doubler = WordDoubler.from_pretrained(args.model, device=args.device)
    report = evaluate(
        doubler, args.n, args.min_len, args.max_len, args.seed, args.beam_width, args.per_bucket, families
    )
    report["command"] = "python -m s2s.evaluate " + " ".join(sys.argv[1:] if argv is None else argv)
    print(json.dumps(report, indent=1, ensure_ascii=False))
    if args.write_card:
        write_evaluation(Path(args.model), report)
    if args.against:
        worse = shortfalls(report, json.loads(Path(args.against).read_text(encoding="utf-8")))
        print(
            f"against {args.against}: " + ("at least as good in every bucket" if not worse else "worse in"),
            file=sys.stderr,
        )
        for line in worse:
            print(f"  {line}", file=sys.stderr)
        if worse:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
