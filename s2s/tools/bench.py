"""`python -m s2s.bench`: what batching buys, measured against this machine's own matmul rate in one run."""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from pathlib import Path

import torch

from ..data import random_text_sentence
from ..doubler import WordDoubler, split_into_chunks
from ..fast import native
from ..lessons.compare import same_result
from ..limits import DEFAULT_BEAM_WIDTH, DEFAULT_TOP_K
from ..results import DoubleResult
from ..training.evaluate import real_text
from ..training.families import one_word_run
from .cases import Case, blog_style_greedy, cli_case, forcing_case, measure_app, training_cases
from .yardstick import best_ms, decode_gflop, decoder_rows, matmul_gflops


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def random_sentences(wd: WordDoubler, count: int, min_words: int, max_words: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [random_text_sentence(rng, wd.tokenizer, rng.randint(min_words, max_words)) for _ in range(count)]


class Bench:
    """The cases of one run, on the same weights and sentences, in the order they are timed."""

    def __init__(self, wd: WordDoubler, args):
        self.wd, self.args, self.config = wd, args, wd.model.config
        self.cases: list[Case] = []

    def batched(self, name: str, sentences: list[str], width: int, fn=None) -> list[DoubleResult]:
        """Time one batched way (wd.double unless fn) and add its case; returns its results."""
        wd, top_k = self.wd, self.args.top_k
        results, ms = best_ms(fn or (lambda: wd.double(sentences, top_k, width)), self.args.repeat)
        rows = decoder_rows(results, width)
        gflop = decode_gflop(self.config, results, width)
        self.cases.append(Case(name, len(sentences), ms, gflop, matmul_gflops(rows, self.config, wd.device)))
        return results

    def against_one_at_a_time(self, base: list[str]) -> None:
        """The blog's way and one call per sentence, against the batched greedy and default-width decodes."""
        wd, config, words, top_k = self.wd, self.config, self.args.words, self.args.top_k
        greedy = self.batched(f"batched greedy, {len(base)} x {words} words", base, 1)
        # Chunked as the library chunks a sentence longer than the model's rows, so that the outputs compare.
        chunks = [
            [wd.tokenizer.encode(" ".join(c)) for c in split_into_chunks(s.split(), config.max_src_len)] for s in base
        ]
        blog, ms = best_ms(lambda: [[blog_style_greedy(wd.model, ids) for ids, _ in parts] for parts in chunks], 1)
        same = all(
            " ".join(wd.tokenizer.decode(out, slots) for out, (_, slots) in zip(outs, parts)) == r.output
            for outs, parts, r in zip(blog, chunks, greedy)
        )
        self.cases.append(
            Case(
                "blog-style: one sentence at a time, encoder stepped word by word",
                len(base),
                ms,
                decode_gflop(config, greedy, 1),
                matmul_gflops(1, config, wd.device),
                same,
            )
        )
        for width in (1, 2):
            together = (
                greedy if width == 1 else self.batched(f"batched beam width 2, {len(base)} x {words} words", base, 2)
            )
            alone, ms = best_ms(lambda width=width: [wd.double(s, top_k, width)[0] for s in base], 1)
            rows = decoder_rows(alone[:1], width)
            self.cases.append(
                Case(
                    f"one call per sentence, beam width {width}",
                    len(base),
                    ms,
                    decode_gflop(config, alone, width),
                    matmul_gflops(rows, config, wd.device),
                    all(map(same_result, together, alone)),
                )
            )

    def what_visitors_type(self) -> None:
        """Runs of one word and real-text lines, whose decoder steps differ from random text's."""
        rng = random.Random(self.args.seed + 3)
        count, words = self.args.sentences, self.args.words
        runs = [one_word_run(rng, self.wd.tokenizer, rng.randint(1, words)) for _ in range(count)]
        texts = real_text()
        lines = rng.sample(texts, min(count, len(texts)))
        for family, sentences in (("runs of one word", runs), ("real-text lines", lines)):
            for width in (1, 2):
                self.batched(f"{family}, {len(sentences)} of them, beam width {width}", sentences, width)

    def mixed_lengths(self) -> None:
        """Mixed lengths: one batch as sent, against the same rows in batches of one length each."""
        wd, words, top_k = self.wd, self.args.words, self.args.top_k
        mixed = random_sentences(wd, self.args.mixed, 1, words, self.args.seed + 1)
        as_sent = self.batched(
            f"mixed 1-{words} words, one batch as sent", mixed, 1, lambda: wd.double_batch(mixed, top_k, 1)
        )
        by_length: dict[int, list[int]] = {}
        for i, s in enumerate(mixed):
            by_length.setdefault(len(s.split()), []).append(i)

        def equal_length_batches():
            out: list = [None] * len(mixed)
            for rows in by_length.values():
                for i, r in zip(rows, wd.double_batch([mixed[i] for i in rows], top_k, 1)):
                    out[i] = r
            return out

        together = self.batched(f"mixed 1-{words} words, equal-length batches", mixed, 1, equal_length_batches)
        self.cases[-1].identical = all(map(same_result, as_sent, together))

    def any_number(self) -> dict:
        """Any number of sentences through the library, and the CLI over a file of them."""
        wd, args = self.wd, self.args
        many = random_sentences(wd, args.many, 1, args.words, args.seed + 2)
        before = rss_mb()
        results, ms = best_ms(lambda: wd.double(many, 1, 1), 1)
        self.cases.append(
            Case(
                f"wd.double, {len(many):,} sentences of 1-{args.words} words, greedy",
                len(many),
                ms,
                decode_gflop(self.config, results, 1),
                matmul_gflops(512, self.config, wd.device),
            )
        )
        report = {"rss_mb_before_many": before, "rss_mb_after_many": rss_mb()}
        if args.cli:
            total, startup = cli_case(args.model, many, 1)
            report |= {
                "cli_seconds": total,
                "cli_startup_seconds": startup,
                "cli_sentences_per_s": len(many) / total,
                "cli_sentences_per_s_after_startup": len(many) / (total - startup),
            }
        return report


def run_bench(wd: WordDoubler, args) -> dict:
    """Every case in one run, on the same weights and sentences."""
    bench = Bench(wd, args)
    full = random_sentences(wd, max(args.sizes), args.words, args.words, args.seed)
    base = full[: args.sentences]
    wd.double(base[:2], args.top_k)  # warm-up: the first calls pay for allocation and kernel selection
    bench.against_one_at_a_time(base)
    for size in args.sizes:
        bench.batched(f"batched greedy, B = {size}", full[:size], 1)
    bench.what_visitors_type()
    bench.mixed_lengths()
    bench.cases.append(forcing_case(wd, base[0], args.repeat))
    bench.cases.extend(training_cases(wd, args.train_batch, args.words, args.train_steps, args.repeat))
    report = bench.any_number()
    return {**report, "cases": [c.row() for c in bench.cases]}


def machine(device) -> str:
    if torch.device(device).type == "cuda":
        return torch.cuda.get_device_name(device)
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"
    )


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument(
        "--model",
        default=os.environ.get("S2S_MODEL", "weights"),
        help="weights directory or Hub repo id (env S2S_MODEL)",
    )
    p.add_argument("--revision", default=os.environ.get("S2S_REVISION"), help="Hub revision (env S2S_REVISION)")
    p.add_argument("--sentences", type=int, default=64, help="sentences of the one-at-a-time comparisons")
    p.add_argument(
        "--words", type=int, default=26, help="words per sentence (26 = the blog's longest); mixed: 1 to this"
    )
    p.add_argument(
        "--sizes",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[1, 8, 64, 256, 1024],
        help="batch sizes of the batched greedy cases",
    )
    p.add_argument("--mixed", type=int, default=256, help="sentences of the mixed-length cases")
    p.add_argument(
        "--many", type=int, default=10_000, help="sentences of the any-number library case (and the CLI's file)"
    )
    p.add_argument("--train-batch", type=int, default=256, help="batch of the training-throughput cases (the recipe's)")
    p.add_argument("--train-steps", type=int, default=3, help="steps of the training-throughput case")
    p.add_argument("--top-k", type=int, default=DEFAULT_TOP_K, help="candidates recorded per step")
    p.add_argument("--repeat", type=int, default=3, help="runs of each batched case; the fastest counts (less noise)")
    p.add_argument("--seed", type=int, default=0, help="seed for the random sentences")
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: CUDA when available)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    p.add_argument("--no-cli", dest="cli", action="store_false", help="skip timing `python -m s2s` over a file")
    p.add_argument(
        "--app",
        action="store_true",
        help="also time `python app.py` to its first page and --sentences through gradio_client",
    )
    p.add_argument("--json", default=None, help="also write the report as JSON to this file")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    wd = WordDoubler.from_pretrained(args.model, revision=args.revision, device=args.device)
    started = time.strftime("%Y-%m-%d %H:%M")
    report = {
        "machine": machine(wd.device),
        "date": started,
        "model": wd.source,
        "device": str(wd.device),
        "kernels": native.status(),
        "command": "python -m s2s.bench " + " ".join(sys.argv[1:] if argv is None else argv),
        **run_bench(wd, args),
    }
    print(
        f"{report['machine']}, {report['date']}, model {report['model']} on {report['device']}; "
        f"kernels: {report['kernels']}"
    )
    print(f"{'case':<66} {'ms':>9} {'sent/s':>9} {'GFLOP/s':>8} {'matmul':>8} {'share':>6}  same")
    for c in report["cases"]:
        same = "" if c["identical"] is None else ("yes" if c["identical"] else "NO")
        print(
            f"{c['name']:<66} {c['ms']:9.1f} {c['sentences_per_s']:9.1f} {c['gflops']:8.1f} "
            f"{c['matmul_gflops']:8.1f} {c['of_matmul']:6.0%}  {same}"
        )
    for c in report["cases"]:
        if c["tokens_per_s"]:
            print(
                f"{c['name']}: {c['tokens_per_s']:,.0f} tokens/s, {c['of_matmul']:.0%} of the fp32 matmul rate "
                f"({c['matmul_gflops']:.0f} GFLOP/s), {c['of_bf16_matmul']:.0%} of the bf16 one "
                f"({c['bf16_matmul_gflops']:.0f})"
            )
    print(
        f"memory around the any-number case: {report['rss_mb_before_many']:.0f} -> "
        f"{report['rss_mb_after_many']:.0f} MB RSS"
    )
    if "cli_seconds" in report:
        print(
            f"python -m s2s over {args.many:,} lines: {report['cli_seconds']:.1f} s, "
            f"{report['cli_sentences_per_s']:.0f} lines/s ({report['cli_sentences_per_s_after_startup']:.0f} after its "
            f"{report['cli_startup_seconds']:.1f} s start-up)"
        )
    if args.app:
        startup, times = measure_app(
            args.model,
            random_sentences(wd, args.sentences, args.words, args.words, args.seed),
            args.top_k,
            DEFAULT_BEAM_WIDTH,
            args.repeat,
        )
        report |= {"app_startup_seconds": startup, "app_request_seconds": min(times)}
        print(
            f"python app.py to first served page: {startup:.2f} s; /double via gradio_client, {args.sentences} x "
            f"{args.words} words, beam width {DEFAULT_BEAM_WIDTH}: best {min(times):.3f} s"
        )
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
