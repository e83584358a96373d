"""`python -m s2s.evaluate`: exact match and token accuracy by length, natively and through WordDoubler."""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from pathlib import Path

import torch

from .data import LENGTH_BUCKETS, collate, doubling, doubling_text, random_text_sentence, with_repeated_word
from .doubler import split_into_chunks
from .limits import DEFAULT_BEAM_WIDTH, MAX_BEAM_WIDTH, MAX_CHARS, MAX_SENTENCES, MIN_BEAM_WIDTH

REAL_SENTENCES = Path(__file__).resolve().parent.parent / "tests" / "data" / "real_sentences.txt"


@torch.no_grad()
def native_exact_match(model, sources: list[list[int]], device="cpu", batch_size: int = 512,
                       beam_width: int = 1) -> dict[int, float]:
    """Decode id sentences in one row each (no chunking): exact match per source length."""
    hits: dict[int, list[int]] = {}
    for start in range(0, len(sources), batch_size):
        chunk = sources[start : start + batch_size]
        batch = collate(chunk)
        generation = model.generate(batch.src.to(device), batch.lengths, top_k=1, beam_width=beam_width)
        tokens = generation.tokens.cpu().tolist()
        for ids, out, steps in zip(chunk, tokens, generation.num_steps.tolist()):
            hits.setdefault(len(ids), []).append(int(out[:steps] == doubling(ids)))
    return {n: sum(h) / len(h) for n, h in sorted(hits.items())}


def native_length(by_length: dict[int, float], threshold: float = 0.99, window: int = 4) -> int:
    """Longest L such that every window of `window` consecutive lengths up to L averages >= threshold."""
    native = 0
    lengths = sorted(by_length)
    for n in lengths:
        recent = [by_length[m] for m in lengths if n - window < m <= n]
        if sum(recent) / len(recent) < threshold or by_length[n] < threshold - 0.05:
            break
        native = n
    return native


def _chunked_sentences(rates: dict[int, float], chunk_length: int, max_len: int):
    """For each sentence length 1..max_len: its chunks' lengths and the chance all of them come out right."""
    for n in range(1, max_len + 1):
        chunks = [len(c) for c in split_into_chunks(list(range(n)), chunk_length)]
        yield chunks, math.prod(rates[k] for k in chunks)


def predicted_exact_match(by_length: dict[int, float], chunk_length: int, max_len: int) -> float:
    """Expected exact match over sentences of 1..max_len words (each length equally likely) when they are
    doubled in chunks of at most chunk_length words, each chunk right at its length's measured rate."""
    return sum(right for _, right in _chunked_sentences(by_length, chunk_length, max_len)) / max_len


def _sensitivity(rates: dict[int, float], chunk_length: int, max_len: int) -> dict[int, float]:
    """How much predicted_exact_match moves per unit of each length's rate (its partial derivatives)."""
    grad = dict.fromkeys(rates, 0.0)
    for chunks, right in _chunked_sentences(rates, chunk_length, max_len):
        for k in chunks:
            grad[k] += right / rates[k] / max_len
    return grad


def best_chunk_length(by_length: dict[int, float], max_len: int, per_length: int) -> int:
    """The max_src_len to ship: the longest chunk length that no other chunk length beats by more than one
    standard error (after the one-standard-error rule of model selection, Breiman et al. 1984). Longer is
    the goal (the model's native length, fewer rows), but a long native row can lose to shorter chunks that
    are each surer. The standard error is that of the difference of two predictions (delta method; each length's rate
    is a binomial estimate from per_length sentences). Rates are taken as (hits + 1) / (per_length + 2)
    (Laplace's rule of succession): a length that never failed in 1,024 tries is not certain."""
    rates = {n: (rate * per_length + 1) / (per_length + 2) for n, rate in by_length.items()}
    predicted = {m: predicted_exact_match(rates, m, max_len) for m in rates}
    sensitivity = {m: _sensitivity(rates, m, max_len) for m in rates}

    def stderr_of_difference(m: int, other: int) -> float:
        return math.sqrt(sum((sensitivity[m][k] - sensitivity[other][k]) ** 2 * r * (1 - r) / per_length
                             for k, r in rates.items()))

    def beaten(m: int) -> bool:
        return any(predicted[other] - predicted[m] > stderr_of_difference(m, other) for other in rates)

    return max(m for m in rates if not beaten(m))


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
    overall = {"n": total["n"], "exact_match": total["exact"] / max(total["n"], 1),
               "token_accuracy": total["right"] / max(total["tokens"], 1)}
    return {"overall": overall, "buckets": table}


def double_all(doubler, sentences: list[str], beam_width: int = DEFAULT_BEAM_WIDTH):
    """Any number of sentences, in the largest requests the API takes (by sentences and by characters)."""
    results, request, chars = [], [], 0
    for sentence in sentences:
        if request and (len(request) == MAX_SENTENCES or chars + len(sentence) > MAX_CHARS):
            results += doubler.double(request, top_k=1, beam_width=beam_width)
            request, chars = [], 0
        request.append(sentence)
        chars += len(sentence)
    return results + (doubler.double(request, top_k=1, beam_width=beam_width) if request else [])


def score_doubling(doubler, sentences: list[str], beam_width: int = DEFAULT_BEAM_WIDTH) -> dict:
    """Double the sentences through WordDoubler and score them; the sentences it got wrong are listed too."""
    results = double_all(doubler, sentences, beam_width)
    report = score([(r.input, r.output) for r in results])
    report["wrong"] = [r.input for r in results if not r.is_exact]
    return report


def evaluate(doubler, n: int, min_len: int, max_len: int, seed: int, beam_width: int = DEFAULT_BEAM_WIDTH) -> dict:
    """Through WordDoubler.double (chunking included) on fresh random sentences and the real-sentence file."""
    rng = random.Random(seed)
    sentences = [random_text_sentence(rng, doubler.tokenizer, rng.randint(min_len, max_len)) for _ in range(n)]
    report = {"beam_width": beam_width, "random": score_doubling(doubler, sentences, beam_width)}
    if REAL_SENTENCES.exists():
        real = [line for line in REAL_SENTENCES.read_text(encoding="utf-8").splitlines() if line.strip()]
        report["real"] = score_doubling(doubler, real, beam_width)
    # Natively: the same kind of sentences, only as long as the model doubles in one row.
    native_max = doubler.model.config.max_src_len
    native_sentences = [random_text_sentence(rng, doubler.tokenizer, rng.randint(1, native_max)) for _ in range(n)]
    native_sources = [doubler.tokenizer.encode(sentence)[0] for sentence in native_sentences]
    by_length = native_exact_match(doubler.model, native_sources, device=doubler.device, beam_width=beam_width)
    report["native"] = {"max_src_len": native_max, "exact_match_by_length": by_length}
    # One word said 2-5 times in a row ("no no no"): the decoder has to count its copies.
    rng = random.Random(seed + 1)
    repeats = [with_repeated_word(rng, random_text_sentence(rng, doubler.tokenizer, rng.randint(max(2, min_len), max_len)))
               for _ in range(max(1, n // 4))]
    report["repeats"] = score_doubling(doubler, repeats, beam_width)
    # Longer than any training sentence (27-52 words for max_len 26): right only if the chunking is.
    rng = random.Random(seed + 2)
    long = [random_text_sentence(rng, doubler.tokenizer, rng.randint(max_len + 1, 2 * max_len))
            for _ in range(max(1, n // 4))]
    report["long"] = score_doubling(doubler, long, beam_width)
    return report


def main(argv=None) -> None:
    from .doubler import WordDoubler

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="weights", help="local directory or Hub repo id")
    p.add_argument("--n", type=int, default=2000, help="fresh random sentences")
    p.add_argument("--min-len", type=int, default=1, help="shortest sentence, words")
    p.add_argument("--max-len", type=int, default=26, help="longest sentence, words (longer ones are chunked)")
    p.add_argument("--seed", type=int, default=2026, help="seed of the fresh sentences")
    p.add_argument("--beam-width", type=int, default=DEFAULT_BEAM_WIDTH,
                   help=f"beams per sentence, {MIN_BEAM_WIDTH}-{MAX_BEAM_WIDTH} (1 = greedy; default: the library's)")
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: CUDA when present)")
    p.add_argument("--write-card", action="store_true", help="put the results into the model card (local --model only)")
    args = p.parse_args(argv)
    doubler = WordDoubler.from_pretrained(args.model, device=args.device)
    report = evaluate(doubler, args.n, args.min_len, args.max_len, args.seed, args.beam_width)
    report["command"] = "python -m s2s.evaluate " + " ".join(sys.argv[1:] if argv is None else argv)
    print(json.dumps(report, indent=1))
    if args.write_card:
        from .model_card import write_evaluation

        write_evaluation(Path(args.model), report)


if __name__ == "__main__":
    main()
