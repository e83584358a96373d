"""`python -m s2s.bench`: what batching buys, measured against this machine's own matmul rate in one run."""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from .. import hub
from ..data import SentenceSampler, random_text_sentence
from ..doubler import DoubleResult, WordDoubler, split_into_chunks
from ..fast import native
from ..lessons.compare import same_result
from ..limits import DEFAULT_BEAM_WIDTH, DEFAULT_TOP_K
from ..loss import masked_nll
from ..tokenizer import PAD_ID
from ..training.evaluate import real_text
from ..training.families import one_word_run
from ..training.train_step import bf16_is_fast, training_loss
from .yardstick import best_ms, decode_gflop, decoder_rows, gru_step_flops, matmul_gflops, sync


@dataclass
class Case:
    name: str
    sentences: int
    ms: float  # the fastest of --repeat runs
    gflop: float  # the work done, counted from the model's shapes
    matmul_gflops: float  # this machine's rate for a plain fp32 matmul of the case's main shape, same run
    identical: bool | None = None  # outputs equal to the reference way's, where there is one
    bf16_matmul_gflops: float | None = None  # the same matmul in bf16 (training cases: AMX makes it 4-8x the fp32)
    tokens_per_s: float | None = None  # training cases: target tokens trained on per second

    @property
    def sentences_per_s(self) -> float:
        return 1000 * self.sentences / self.ms

    @property
    def gflops(self) -> float:
        return self.gflop / (self.ms / 1000)

    @property
    def of_matmul(self) -> float:
        return self.gflops / self.matmul_gflops

    @property
    def of_bf16_matmul(self) -> float | None:
        return self.gflops / self.bf16_matmul_gflops if self.bf16_matmul_gflops else None

    def row(self) -> dict:
        return {
            **asdict(self),
            "sentences_per_s": self.sentences_per_s,
            "gflops": self.gflops,
            "of_matmul": self.of_matmul,
            "of_bf16_matmul": self.of_bf16_matmul,
        }


# --- the ways of decoding compared ---


@torch.inference_mode()
def blog_style_greedy(model, ids: list[int]) -> list[int]:
    """The blog's way: one sentence, the encoder stepped word by word, a full log-softmax every step."""
    config, device = model.config, model.embedding.weight.device
    src = torch.tensor(ids[::-1] if config.reverse_source else ids, device=device)[None]  # (1, T)
    hidden = None
    for t in range(src.size(1)):
        _, hidden = model.encoder.rnn(model.embedding(src[:, t : t + 1]), hidden)
    token, out = torch.tensor([[config.sos_id]], device=device), []
    for _ in range(2 * len(ids) + 1):
        log_probs, hidden = model.decode(token, hidden)  # (1, 1, V)
        token = log_probs.argmax(-1)
        if token.item() == config.eos_id:
            break
        out.append(token.item())
    return out


def forcing_case(wd: WordDoubler, sentence: str, repeat: int) -> Case:
    """The page's "what if the decoder had said...": one sentence re-decoded with its second-best word forced at
    each of a few steps (`WordDoubler.force`, the lesson's search), at the default width; ms per forced decode."""
    result = wd.double([sentence], DEFAULT_TOP_K, DEFAULT_BEAM_WIDTH)[0]
    picks = list(range(0, len(result.steps), max(1, len(result.steps) // 8)))

    def force_each():
        forced = []
        for step in picks:
            chunk = result.steps[step].chunk
            before = [s.token for s in result.steps[:step] if s.chunk == chunk]
            word = result.steps[step].top_k[min(1, len(result.steps[step].top_k) - 1)][0]
            forced.append(wd.force(sentence, [*before, word], chunk, DEFAULT_TOP_K, DEFAULT_BEAM_WIDTH))
        return forced

    forced, ms = best_ms(force_each, repeat)
    config = wd.model.config
    return Case(
        f"force a word, {len(sentence.split())} words, beam width {DEFAULT_BEAM_WIDTH} (ms per decode)",
        len(picks),
        ms / len(picks),
        decode_gflop(config, forced, DEFAULT_BEAM_WIDTH) / len(picks),
        matmul_gflops(decoder_rows(forced[:1], DEFAULT_BEAM_WIDTH), config, wd.device),
    )


def training_cases(wd: WordDoubler, batch_size: int, words: int, steps: int, repeat: int) -> list[Case]:
    """Teacher-forced training steps (forward, masked loss, backward, AdamW) on a copy of the model, two ways on the
    same batch: the plain step (`model(...)` then `masked_nll`, fp32) and the training command's own
    (`train_step.training_loss`: the fused loss, bf16 autocast where it is fast)."""
    import copy

    model = copy.deepcopy(wd.model).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-9)
    sampler = SentenceSampler(wd.tokenizer, seed=0)
    batch = sampler.batch([words] * batch_size)
    src, tgt_in, tgt_out = (t.to(wd.device) for t in (batch.src, batch.tgt_in, batch.tgt_out))
    bf16 = bf16_is_fast(torch.device(wd.device))
    ways = {
        "plain step (model + masked_nll, fp32)": lambda: masked_nll(model(src, batch.lengths, tgt_in), tgt_out, PAD_ID),
        f"training step ({'bf16' if bf16 else 'fp32'}, fused loss)": lambda: training_loss(
            model, src, batch.lengths, tgt_in, tgt_out, bf16
        )[0],
    }
    config = wd.model.config
    targets = int((tgt_out != PAD_ID).sum())
    per_target = (
        gru_step_flops(config) + 2 * config.hidden_size * config.embed_size + 2 * config.embed_size * config.vocab_size
    )
    forward = (batch_size * words * gru_step_flops(config) + targets * per_target) / 1e9
    fp32_rate = matmul_gflops(batch_size, config, wd.device)
    bf16_rate = matmul_gflops(batch_size, config, wd.device, dtype=torch.bfloat16)
    cases = []
    for name, loss_of in ways.items():

        def run(loss_of=loss_of):
            for _ in range(steps):
                loss = loss_of()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            sync(wd.device)

        run()  # warm-up
        _, ms = best_ms(run, repeat)
        # Backward costs about twice the forward: gradients for both the inputs and the weights.
        cases.append(
            Case(
                f"training, {name}, batch {batch_size} x {words} words",
                batch_size * steps,
                ms,
                3 * forward * steps,
                fp32_rate,
                bf16_matmul_gflops=bf16_rate,
                tokens_per_s=1000 * steps * targets / ms,
            )
        )
    return cases


def cli_case(model: str, sentences: list[str], beam_width: int) -> tuple[float, float]:
    """`python -m s2s` over a file of the sentences: (seconds in all, seconds for a one-line file)."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        f.write("\n".join(sentences) + "\n")
    command = [sys.executable, "-m", "s2s", "--model", str(model), "--beam-width", str(beam_width), "--top-k", "1"]
    root = hub.ROOT
    times = []
    for lines in (f.name, None):
        start = time.perf_counter()
        with open(lines or os.devnull, encoding="utf-8") as stdin:
            done = subprocess.run(
                command + ([] if lines else ["hi"]),
                stdin=stdin,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                cwd=root,
            )
        if done.returncode:
            raise SystemExit(f"python -m s2s failed: {done.stderr[-500:]}")
        times.append(time.perf_counter() - start)
    os.unlink(f.name)
    return times[0], times[1]


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def random_sentences(wd: WordDoubler, count: int, min_words: int, max_words: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [random_text_sentence(rng, wd.tokenizer, rng.randint(min_words, max_words)) for _ in range(count)]


def run_bench(wd: WordDoubler, args) -> dict:
    """Every case in one run, on the same weights and sentences."""
    config, top_k, repeat = wd.model.config, args.top_k, args.repeat
    cases: list[Case] = []
    full = random_sentences(wd, max(args.sizes), args.words, args.words, args.seed)
    base = full[: args.sentences]
    wd.double(base[:2], top_k)  # warm-up: the first calls pay for allocation and kernel selection

    def batched(name: str, sentences: list[str], width: int, fn=None) -> list[DoubleResult]:
        fn = fn or (lambda: wd.double(sentences, top_k, width))
        results, ms = best_ms(fn, repeat)
        rows = decoder_rows(results, width)
        cases.append(
            Case(name, len(sentences), ms, decode_gflop(config, results, width), matmul_gflops(rows, config, wd.device))
        )
        return results

    # The blog's way and one call per sentence, against the batched greedy and default-width decodes.
    greedy = batched(f"batched greedy, {len(base)} x {args.words} words", base, 1)
    # Chunked as the library chunks a sentence longer than the model's rows, so that the outputs compare.
    chunks = [
        [wd.tokenizer.encode(" ".join(c)) for c in split_into_chunks(s.split(), config.max_src_len)] for s in base
    ]
    blog, ms = best_ms(lambda: [[blog_style_greedy(wd.model, ids) for ids, _ in parts] for parts in chunks], 1)
    blog_same = all(
        " ".join(wd.tokenizer.decode(out, slots) for out, (_, slots) in zip(outs, parts)) == r.output
        for outs, parts, r in zip(blog, chunks, greedy)
    )
    cases.append(
        Case(
            "blog-style: one sentence at a time, encoder stepped word by word",
            len(base),
            ms,
            decode_gflop(config, greedy, 1),
            matmul_gflops(1, config, wd.device),
            blog_same,
        )
    )
    for width in (1, 2):
        together = greedy if width == 1 else batched(f"batched beam width 2, {len(base)} x {args.words} words", base, 2)
        alone, ms = best_ms(lambda width=width: [wd.double(s, top_k, width)[0] for s in base], 1)
        cases.append(
            Case(
                f"one call per sentence, beam width {width}",
                len(base),
                ms,
                decode_gflop(config, alone, width),
                matmul_gflops(decoder_rows(alone[:1], width), config, wd.device),
                all(map(same_result, together, alone)),
            )
        )
    for size in args.sizes:
        batched(f"batched greedy, B = {size}", full[:size], 1)
    # What visitors type, whose decoder steps differ from random text's: runs of one word, real lines.
    rng = random.Random(args.seed + 3)
    runs = [one_word_run(rng, wd.tokenizer, rng.randint(1, args.words)) for _ in range(args.sentences)]
    texts = real_text()
    lines = rng.sample(texts, min(args.sentences, len(texts)))
    for family, sentences in (("runs of one word", runs), ("real-text lines", lines)):
        for width in (1, 2):
            batched(f"{family}, {len(sentences)} of them, beam width {width}", sentences, width)
    # Mixed lengths: one batch as sent, against the same rows in batches of one length each.
    mixed = random_sentences(wd, args.mixed, 1, args.words, args.seed + 1)
    as_sent = batched(
        f"mixed 1-{args.words} words, one batch as sent", mixed, 1, lambda: wd.double_batch(mixed, top_k, 1)
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

    sorted_results = batched(f"mixed 1-{args.words} words, equal-length batches", mixed, 1, equal_length_batches)
    cases[-1].identical = all(map(same_result, as_sent, sorted_results))
    cases.append(forcing_case(wd, base[0], repeat))
    cases.extend(training_cases(wd, args.train_batch, args.words, args.train_steps, repeat))
    # Any number of sentences through the library, and the CLI over a file of them.
    many = random_sentences(wd, args.many, 1, args.words, args.seed + 2)
    before = rss_mb()
    results, ms = best_ms(lambda: wd.double(many, 1, 1), 1)
    cases.append(
        Case(
            f"wd.double, {len(many):,} sentences of 1-{args.words} words, greedy",
            len(many),
            ms,
            decode_gflop(config, results, 1),
            matmul_gflops(512, config, wd.device),
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
    return {**report, "cases": [c.row() for c in cases]}


def measure_app(
    model: str, sentences: list[str], top_k: int, beam_width: int, repeat: int
) -> tuple[float, list[float]]:
    """Start `python app.py`; time it to the first served page, then `repeat` /double requests of `sentences`
    through gradio_client, end to end."""
    from gradio_client import Client

    from .loadtest import launched_app

    with launched_app({"S2S_MODEL": str(model)}) as (url, _, startup):
        client = Client(url, verbose=False)
        client.predict("I love CUDA", top_k, beam_width, api_name="/double")  # warm-up
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            results = client.predict("\n".join(sentences), top_k, beam_width, api_name="/double")
            times.append(time.perf_counter() - started)
            assert len(results) == len(sentences)
        return startup, times


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
