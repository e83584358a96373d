"""The cases of `python -m s2s.bench`: what each way of decoding, training and serving is timed by."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass

import torch

from .. import hub
from ..data import SentenceSampler
from ..doubler import WordDoubler
from ..limits import DEFAULT_BEAM_WIDTH, DEFAULT_TOP_K
from ..loss import masked_nll
from ..tokenizer import PAD_ID
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
