"""`python -m s2s.train`: train the word doubler with a length curriculum, keep the best, export it.

One command reproduces a model from its committed recipe: `python -m s2s.train --config configs/NAME.toml`
(a TOML file whose keys are this command's flags; flags given on the command line win). The export goes to
the run directory, never to weights/: shipping a model is the explicit step of copying it there.

Runs unchanged on one CPU, one GPU, or several processes under
`torchrun --nproc_per_node=N -m s2s.train ...` (DistributedDataParallel; gloo on CPU, nccl on CUDA).
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from ..data import Curriculum, build_vocabulary
from ..model import Seq2Seq, Seq2SeqConfig
from ..tokenizer import WordTokenizer
from .checkpoint import load_checkpoint, plot_curve, save_checkpoint
from .export import export, export_checkpoint, measure_families, pooled
from .measure import best_chunk_length, native_length
from .mining import mined_batch, mined_rows
from .mix import FamilyMix, family_sources
from .recipe import in_last_steps, learning_rate, parse_args, schedule_position
from .train_step import TrainingLoss, bf16_is_fast

# --- the phases of a run ---


@dataclass
class Runtime:
    device: torch.device
    rank: int = 0
    world: int = 1

    @property
    def distributed(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def start_runtime(args) -> Runtime:
    """Device, and the process group when launched by torchrun."""
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    if int(os.environ.get("WORLD_SIZE", 1)) <= 1:
        return Runtime(device)
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    return Runtime(device, dist.get_rank(), dist.get_world_size())


def use_bf16(args, device: torch.device) -> bool:
    return args.precision == "bf16" or (args.precision == "auto" and bf16_is_fast(device))


def build_model(args) -> tuple[Seq2Seq, WordTokenizer]:
    """A fresh model from the flags, or (--init-from) an exported one trained further at --max-len."""
    torch.manual_seed(args.seed)  # identical initial weights on every rank
    if args.init_from:
        tokenizer = WordTokenizer.load(Path(args.init_from) / "tokenizer.json")
        start = Seq2Seq.from_pretrained(args.init_from)
        config = Seq2SeqConfig(**{**asdict(start.config), "max_src_len": args.max_len})
        model = Seq2Seq(config)
        model.load_state_dict(start.state_dict())
    else:
        tokenizer = WordTokenizer(build_vocabulary(args.vocab_size), num_slots=args.max_len)
        model = Seq2Seq(
            Seq2SeqConfig(
                vocab_size=tokenizer.vocab_size,
                embed_size=args.embed_size,
                hidden_size=args.hidden_size,
                num_layers=args.num_layers,
                freeze_embedding=args.freeze_embedding,
                dropout=args.dropout,
                max_src_len=args.max_len,
            )
        )
    if args.max_len > tokenizer.num_slots:
        raise SystemExit(
            f"--max-len {args.max_len}: the tokenizer has only {tokenizer.num_slots} slots for unknown words"
        )
    return model, tokenizer


def restore(args, run_dir: Path, model, optimizer, runtime: Runtime) -> dict:
    """The run's state: from its checkpoint with --resume, else fresh."""
    state = {"step": 0, "level": args.start_level, "best": None, "seconds": 0.0, "commands": []}
    if args.resume and (run_dir / "checkpoint.json").exists():
        saved = json.loads((run_dir / "checkpoint.json").read_text())
        config = asdict(model.config)
        if saved.get("config", config) != config:  # the flags must describe the checkpoint's model
            raise SystemExit(f"--resume: the flags describe the model {config}, the checkpoint holds {saved['config']}")
        load_checkpoint(run_dir, model, optimizer)
        state = saved
        if runtime.is_main:
            print(f"resumed from {run_dir} at step {state['step']}, level {state['level']}", file=sys.stderr)
    elif args.export_only:
        raise SystemExit(f"--export-only: no checkpoint in {run_dir} (and --resume is needed to read one)")
    state["commands"].append(
        " ".join(["python -m s2s.train"] + (sys.argv[1:] if args.argv is None else list(args.argv)))
    )
    if args.config:
        state["recipe"] = {"path": args.config, "text": Path(args.config).read_text(encoding="utf-8")}
    return state


def train_step(trainer, model, optimizer, sampler, lengths: list[int], device, args, at: float) -> tuple[float, float]:
    """One teacher-forced step on a fresh (or mined) batch: masked loss, backward, clip, update.
    Returns (loss, token accuracy). `trainer` is a TrainingLoss (perhaps inside DistributedDataParallel):
    the masked NLL without a (B, S, V) tensor, bf16 where chosen (train_step.py). `at`: the schedule's position."""
    batch = mined_batch(model, sampler, lengths, device, args, at, getattr(trainer, "module", trainer).bf16)
    model.train()
    loss, token_acc = trainer(batch.src.to(device), batch.lengths, batch.tgt_in.to(device), batch.tgt_out.to(device))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    # GRU gradients can explode on long sentences; clipping keeps one bad batch from undoing many.
    torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
    optimizer.step()
    return loss.item(), token_acc


@dataclass
class Run:
    """What a training run works with: the model and its optimizer, the run's state, its data and held-out sets."""

    args: object
    runtime: Runtime
    run_dir: Path
    model: Seq2Seq
    tokenizer: WordTokenizer
    optimizer: torch.optim.Optimizer
    state: dict
    loss_module: TrainingLoss | None = None
    trainer: object = None  # the loss module, inside DistributedDataParallel when several processes train
    rng: random.Random | None = None
    sampler: FamilyMix | None = None
    curriculum: Curriculum | None = None
    eval_sources: dict | None = None


def evaluate_and_keep_best(run: Run, running_loss: float, token_acc: float) -> None:
    """Held-out exact match on every family, a log row, the best model exported, the curriculum raised,
    a checkpoint: all on the main process."""
    model, state, curriculum, args, run_dir = run.model, run.state, run.curriculum, run.args, run.run_dir
    eval_sources, runtime = run.eval_sources, run.runtime
    by_family = measure_families(model, eval_sources, runtime.device)
    by_length = pooled(by_family)
    native = native_length(by_length)
    level_lengths = [n for n in by_length if n <= curriculum.level]
    exact_level = sum(by_length[n] for n in level_lengths) / len(level_lengths)
    exact_all = sum(by_length.values()) / len(by_length)
    row = {
        "step": state["step"],
        "seconds": round(state["seconds"], 1),
        "train_loss": running_loss,
        "token_acc": token_acc,
        "level": curriculum.level,
        "max_len": args.max_len,
        "exact_level": exact_level,
        "exact_all": exact_all,
        "native_length": native,
        "exact_by_family": {name: sum(b.values()) / len(b) for name, b in by_family.items()},
        "lr": run.optimizer.param_groups[0]["lr"],
        "processes": runtime.world,
        "precision": "bf16" if run.loss_module.bf16 else "fp32",
    }
    with (run_dir / "log.jsonl").open("a") as f:
        f.write(json.dumps(row) + "\n")
    tqdm.write(json.dumps(row))
    score = [native, exact_all]
    if state["best"] is None or score > state["best"]["score"]:
        state["best"] = {"score": score, "step": state["step"], "by_length": by_length}
        chunk_length = best_chunk_length(by_length, args.max_len, args.eval_per_length * len(by_family))
        export(model, run.tokenizer, chunk_length, Path(args.out), state, runtime.device, by_length)
    if exact_level >= args.level_threshold:
        curriculum.raise_level()
    state["level"] = curriculum.level
    state["config"] = asdict(model.config)
    save_checkpoint(run_dir, model, run.optimizer, state)
    plot_curve(run_dir / "log.jsonl", run_dir / "learning_curve.png")


def prepare(args, runtime: Runtime) -> Run:
    """The model (fresh, or from --init-from), its optimizer, and the run's state (restored with --resume)."""
    run_dir = Path(args.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    model, tokenizer = build_model(args)
    model.to(runtime.device)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=args.lr, weight_decay=args.weight_decay)
    state = restore(args, run_dir, model, optimizer, runtime)
    return Run(args, runtime, run_dir, model, tokenizer, optimizer, state)


def add_data(run: Run) -> None:
    """The training sentences, the curriculum, the fixed held-out sets and the loss. Data differ per rank and per
    resume, but are reproducible from (seed, rank, step)."""
    args, runtime = run.args, run.runtime
    run.rng = random.Random(args.seed * 1_000_003 + runtime.rank * 7919 + run.state["step"])
    run.sampler = FamilyMix(
        run.tokenizer, run.rng.randrange(2**31), args.mix, uniform_share=args.uniform_share, run_share=args.run_share
    )
    run.curriculum = Curriculum(
        args.max_len, run.state["level"], step=args.level_step, uniform_share=args.length_uniform_share
    )
    lengths = range(1, args.max_len + 1)
    run.eval_sources = family_sources(
        run.tokenizer, args.eval_names, lengths, args.eval_per_length, seed=args.seed + 99_991
    )
    run.loss_module = TrainingLoss(run.model, bf16=use_bf16(args, runtime.device))
    run.trainer = DistributedDataParallel(run.loss_module) if runtime.distributed else run.loss_module


def evaluate_and_share(run: Run, running_loss: float, token_acc: float, seconds: float) -> None:
    """On the main process, evaluate, keep the best and checkpoint; every rank then follows its curriculum."""
    level = torch.tensor([run.curriculum.level])
    if run.runtime.is_main:
        run.state["seconds"] = seconds
        evaluate_and_keep_best(run, running_loss, token_acc)
        level = torch.tensor([run.curriculum.level])
    if run.runtime.distributed:
        dist.broadcast(level, src=0)  # every rank follows rank 0's curriculum
        run.curriculum.level = int(level.item())


def train(run: Run) -> None:
    """The loop: set the rate, one step, log; every --eval-every steps (and at the end) evaluate. The schedule
    follows `schedule_position`: the steps, or the minutes of --max-minutes where they are further along."""
    args, state = run.args, run.state
    started, seconds_before = time.time(), state["seconds"]

    def seconds() -> float:
        return seconds_before + time.time() - started

    def position() -> float:
        at = schedule_position(state["step"], seconds() / 60, args)
        if run.runtime.distributed and args.max_minutes:  # rank 0's clock: every rank sets one rate, ends at one step
            shared = torch.tensor([at], dtype=torch.float64, device=run.runtime.device)
            dist.broadcast(shared, src=0)
            at = float(shared.item())
        return at

    bar = tqdm(total=args.steps, initial=state["step"], disable=not run.runtime.is_main, dynamic_ncols=True)
    running_loss, at = None, position()
    while at < args.steps:
        for group in run.optimizer.param_groups:
            group["lr"] = learning_rate(at, args)
        if args.fp32_last and in_last_steps(at, args.fp32_last, args):
            run.loss_module.bf16 = False  # polish in the precision the model decodes in
        lengths = run.curriculum.lengths(run.rng, mined_rows(args, at))
        loss, token_acc = train_step(
            run.trainer, run.model, run.optimizer, run.sampler, lengths, run.runtime.device, args, at
        )
        state["step"] += 1
        running_loss = loss if running_loss is None else 0.98 * running_loss + 0.02 * loss
        bar.update(1)
        bar.set_postfix(loss=f"{running_loss:.4f}", tok_acc=f"{token_acc:.4f}", level=run.curriculum.level)
        at = position()
        if state["step"] % args.eval_every == 0 or at >= args.steps:
            evaluate_and_share(run, running_loss, token_acc, seconds())
    bar.close()


def main(argv=None) -> None:
    args = parse_args(argv)
    args.argv = argv
    runtime = start_runtime(args)
    run = prepare(args, runtime)
    if args.export_only:
        if runtime.is_main:
            export_checkpoint(run.model, run.tokenizer, run.state, args, runtime.device)
        return
    add_data(run)
    train(run)
    if runtime.distributed:
        # Every rank at the same point before any closes its connections: a rank that exits while a peer's
        # transport still reads from it can make gloo abort that peer (seen once in CI: rank 1, SIGABRT).
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
