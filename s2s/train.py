"""`python -m s2s.train`: train the word doubler with a length curriculum, keep the best, export it.

One command reproduces a model from its committed recipe: `python -m s2s.train --config configs/NAME.toml`
(a TOML file whose keys are this command's flags; flags given on the command line win). The export goes to
the run directory, never to weights/: shipping a model is the explicit step of copying it there.

Runs unchanged on one CPU, one GPU, or several processes under
`torchrun --nproc_per_node=N -m s2s.train ...` (DistributedDataParallel; gloo on CPU, nccl on CUDA).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import sys
import time
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors.torch import load_file, save_file
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from .data import Curriculum, build_vocabulary
from .families import FAMILIES, FamilyMix, family_sources, parse_mix
from .loss import masked_nll
from .measure import best_chunk_length, native_exact_match, native_length, predicted_exact_match
from .model import Seq2Seq, Seq2SeqConfig
from .model_card import write_model_card
from .tokenizer import PAD_ID, WordTokenizer

# The shipped model's mix: 40% the original random sentences, 60% what visitors type (issue 16).
DEFAULT_MIX = "random=0.4,run=0.1,runs=0.08,phrase=0.08,unknown=0.1,unknown_share=0.08,counting=0.08,letters=0.08"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--config", default=None, help="a TOML recipe whose keys are these flags (dashes or underscores)")
    p.add_argument("--run-dir", default="runs/doubler", help="checkpoint, learning-curve log and plot go here")
    p.add_argument("--out", default=None, help="directory the best model is exported to (default: RUN_DIR/export)")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in --run-dir")
    p.add_argument("--init-from", default=None,
                   help="start from this exported model (weights/ or a run's export): its weights, tokenizer and "
                        "architecture, with a fresh optimizer and warm-up; the architecture flags are then ignored")
    p.add_argument("--vocab-size", type=int, default=5000, help="number of English words in the vocabulary")
    p.add_argument("--max-len", type=int, default=26, help="longest sentence (words) the curriculum reaches")
    p.add_argument("--embed-size", type=int, default=32, help="embedding size, tied to the output layer")
    p.add_argument("--hidden-size", type=int, default=512, help="GRU hidden size: the sentence's one vector")
    p.add_argument("--freeze-embedding", action="store_true", help="keep the random word vectors fixed (learn to copy any vector)")
    p.add_argument("--num-layers", type=int, default=1, help="GRU layers in encoder and decoder")
    p.add_argument("--dropout", type=float, default=0.0, help="dropout on decoder inputs (synthetic data cannot be memorised)")
    p.add_argument("--families", default=DEFAULT_MIX,
                   help=f"training mix of sentence families, name=share,... (families: {', '.join(FAMILIES)})")
    p.add_argument("--uniform-share", type=float, default=0.6,
                   help="in the random family: share of sentences with words drawn uniformly from the vocabulary, "
                        "the rest by a Zipf law as in English (rare words are the hard ones)")
    p.add_argument("--run-share", type=float, default=0.25,
                   help='in the random family: share of sentences that repeat one word 2-5 times in a row ("no no no")')
    p.add_argument("--batch-size", type=int, default=256, help="sentences per step (per process)")
    p.add_argument("--lr", type=float, default=2e-3, help="peak AdamW learning rate")
    p.add_argument("--weight-decay", type=float, default=0.0, help="AdamW weight decay")
    p.add_argument("--warmup", type=int, default=200, help="linear warm-up steps")
    p.add_argument("--steps", type=int, default=40000, help="total steps")
    p.add_argument("--decay-start", type=int, default=None, help="step where the cosine LR decay begins (default: 80%% of --steps)")
    p.add_argument("--min-lr-share", type=float, default=0.1, help="the cosine decay ends at this share of --lr")
    p.add_argument("--max-minutes", type=float, default=0.0, help="stop (with a checkpoint) after this long; 0 = no limit")
    p.add_argument("--clip", type=float, default=5.0, help="gradient-norm clip: GRU gradients can explode on long sentences")
    p.add_argument("--start-level", type=int, default=4, help="curriculum's first length level")
    p.add_argument("--level-step", type=int, default=2, help="words added to the level each time it is passed")
    p.add_argument("--level-threshold", type=float, default=0.95, help="exact match at the level that raises it")
    p.add_argument("--length-uniform-share", type=float, default=0.2,
                   help="share of batches with lengths uniform over 1..level (the rest: a narrow bucket near the level)")
    p.add_argument("--eval-every", type=int, default=250, help="steps between evaluations and checkpoints")
    p.add_argument("--eval-per-length", type=int, default=64,
                   help="held-out sentences per length 1..max-len and per evaluated family")
    p.add_argument("--eval-families", default=",".join(FAMILIES),
                   help="families the held-out evaluation (and so the model selection) covers")
    p.add_argument("--seed", type=int, default=1234, help="seed for weights and data")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:1, ...")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    p.add_argument("--export-only", action="store_true",
                   help="with --resume: train no further; measure the checkpoint on --export-per-length fresh sentences "
                        "per length and family, choose its chunk length and write it to --out")
    p.add_argument("--export-per-length", type=int, default=256, help="sentences per length (and family) measured by --export-only")
    config_only, _ = p.parse_known_args(argv)
    if config_only.config:
        p.set_defaults(**read_recipe(config_only.config, {a.dest for a in p._actions}))
    args = p.parse_args(argv)
    args.out = args.out or str(Path(args.run_dir) / "export")
    args.mix = parse_mix(args.families)
    args.eval_names = [name for name in args.eval_families.split(",") if name]
    unknown = [name for name in args.eval_names if name not in FAMILIES]
    if unknown:
        p.error(f"--eval-families: unknown families {unknown}; the families are {', '.join(FAMILIES)}")
    return args


def read_recipe(path: str, known: set[str]) -> dict:
    """A TOML recipe -> argparse defaults. A [families] table becomes the --families string."""
    with open(path, "rb") as f:
        recipe = {key.replace("-", "_"): value for key, value in tomllib.load(f).items()}
    if isinstance(recipe.get("families"), dict):
        recipe["families"] = ",".join(f"{name}={share}" for name, share in recipe["families"].items())
    wrong = sorted(set(recipe) - known - {"description"})
    if wrong:
        raise SystemExit(f"{path}: unknown keys {wrong}; the keys are the flags of python -m s2s.train")
    recipe.pop("description", None)
    return recipe


def learning_rate(step: int, args) -> float:
    """Warm-up, constant, then cosine decay to --min-lr-share from `--decay-start` (default: the last fifth) to the end."""
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    decay_start = int(0.8 * args.steps) if args.decay_start is None else args.decay_start
    if step < decay_start:
        return args.lr
    progress = min(1.0, (step - decay_start) / max(1, args.steps - decay_start))
    floor = args.min_lr_share
    return args.lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def machine_description(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"


# --- checkpoints: safetensors for tensors, JSON for the rest (never pickle) ---


def save_checkpoint(run_dir: Path, model, optimizer, state: dict) -> None:
    """Model and optimizer tensors in safetensors shards (one per kind, each small enough for a plain
    git or Space push), the rest in checkpoint.json, written last."""
    shards = {"model": {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}}
    for index, param_state in optimizer.state_dict()["state"].items():
        for name, value in param_state.items():
            shards.setdefault(f"optim-{name}", {})[f"optim.{index}.{name}"] = torch.as_tensor(value).detach().cpu().contiguous()
    for group, tensors in shards.items():
        path = run_dir / f"checkpoint-{group}.safetensors"
        save_file(tensors, path.with_suffix(".tmp"))
        os.replace(path.with_suffix(".tmp"), path)  # never leave a half-written shard
    (run_dir / "checkpoint.json").write_text(json.dumps(state, indent=1))


def load_checkpoint(run_dir: Path, model, optimizer) -> None:
    tensors = {}
    for path in sorted(run_dir.glob("checkpoint-*.safetensors")):
        tensors.update(load_file(path))
    model.load_state_dict({k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")})
    opt_state = optimizer.state_dict()
    opt_state["state"] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            opt_state["state"].setdefault(int(index), {})[name] = value
    optimizer.load_state_dict(opt_state)


def plot_curve(log_path: Path, png_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    if not rows:
        return
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    steps = [r["step"] for r in rows]
    ax_loss.plot(steps, [r["train_loss"] for r in rows])
    ax_loss.set(xlabel="step", ylabel="masked NLL", yscale="log", title="training loss")
    ax_acc.plot(steps, [r["exact_all"] for r in rows], label="exact match, 1..max len")
    ax_acc.plot(steps, [r["exact_level"] for r in rows], label="exact match, 1..level")
    ax_acc.plot(steps, [r["level"] / max(r["max_len"], 1) for r in rows], "--", label="curriculum level / max len")
    ax_acc.plot(steps, [r["native_length"] / max(r["max_len"], 1) for r in rows], ":", label="native length / max len")
    ax_acc.set(xlabel="step", ylim=(0, 1.01), title="held-out (native, no chunking)")
    ax_acc.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(png_path, dpi=90)
    plt.close(fig)


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
        model = Seq2Seq(Seq2SeqConfig(
            vocab_size=tokenizer.vocab_size, embed_size=args.embed_size, hidden_size=args.hidden_size,
            num_layers=args.num_layers, freeze_embedding=args.freeze_embedding, dropout=args.dropout,
            max_src_len=args.max_len,
        ))
    if args.max_len > tokenizer.num_slots:
        raise SystemExit(f"--max-len {args.max_len}: the tokenizer has only {tokenizer.num_slots} slots for unknown words")
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
    state["commands"].append(" ".join(["python -m s2s.train"] + (sys.argv[1:] if args.argv is None else list(args.argv))))
    if args.config:
        state["recipe"] = {"path": args.config, "text": Path(args.config).read_text(encoding="utf-8")}
    return state


def measure_families(model, sources: dict[str, list[list[int]]], device) -> dict[str, dict[int, float]]:
    """Native exact match by length for each family's held-out set."""
    model.eval()
    return {name: native_exact_match(model, ids, device=device) for name, ids in sources.items()}


def pooled(by_family: dict[str, dict[int, float]]) -> dict[int, float]:
    """Exact match by length over all families, each family weighing the same."""
    lengths = sorted({n for by_length in by_family.values() for n in by_length})
    return {n: sum(b[n] for b in by_family.values() if n in b) / sum(n in b for b in by_family.values()) for n in lengths}


def train_step(trainer, model, optimizer, sampler, lengths: list[int], device, args) -> tuple[float, float]:
    """One teacher-forced step on a fresh batch: masked loss, backward, clip, update. Returns (loss, token accuracy)."""
    model.train()
    batch = sampler.batch(lengths)
    log_probs = trainer(batch.src.to(device), batch.lengths, batch.tgt_in.to(device))  # (B, S, V)
    target = batch.tgt_out.to(device)
    loss = masked_nll(log_probs, target, PAD_ID)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    # GRU gradients can explode on long sentences; clipping keeps one bad batch from undoing many.
    torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
    optimizer.step()
    with torch.no_grad():
        mask = target != PAD_ID
        token_acc = ((log_probs.argmax(-1) == target) & mask).sum().item() / mask.sum().item()
    return loss.item(), token_acc


def evaluate_and_keep_best(model, tokenizer, optimizer, state: dict, curriculum: Curriculum, eval_sources, args,
                           runtime: Runtime, running_loss: float, token_acc: float, run_dir: Path) -> None:
    """Held-out exact match on every family, a log row, the best model exported, the curriculum raised,
    a checkpoint: all on the main process."""
    by_family = measure_families(model, eval_sources, runtime.device)
    by_length = pooled(by_family)
    native = native_length(by_length)
    level_lengths = [n for n in by_length if n <= curriculum.level]
    exact_level = sum(by_length[n] for n in level_lengths) / len(level_lengths)
    exact_all = sum(by_length.values()) / len(by_length)
    row = {
        "step": state["step"], "seconds": round(state["seconds"], 1), "train_loss": running_loss,
        "token_acc": token_acc, "level": curriculum.level, "max_len": args.max_len,
        "exact_level": exact_level, "exact_all": exact_all, "native_length": native,
        "exact_by_family": {name: sum(b.values()) / len(b) for name, b in by_family.items()},
        "lr": learning_rate(state["step"] - 1, args), "processes": runtime.world,
    }
    with (run_dir / "log.jsonl").open("a") as f:
        f.write(json.dumps(row) + "\n")
    tqdm.write(json.dumps(row))
    score = [native, exact_all]
    if state["best"] is None or score > state["best"]["score"]:
        state["best"] = {"score": score, "step": state["step"], "by_length": by_length}
        chunk_length = best_chunk_length(by_length, args.max_len, args.eval_per_length * len(by_family))
        export(model, tokenizer, chunk_length, Path(args.out), state, runtime.device, by_length)
    if exact_level >= args.level_threshold:
        curriculum.raise_level()
    state["level"] = curriculum.level
    state["config"] = asdict(model.config)
    save_checkpoint(run_dir, model, optimizer, state)
    plot_curve(run_dir / "log.jsonl", run_dir / "learning_curve.png")


def main(argv=None) -> None:
    args = parse_args(argv)
    args.argv = argv
    runtime = start_runtime(args)
    run_dir = Path(args.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)

    model, tokenizer = build_model(args)
    model.to(runtime.device)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr, weight_decay=args.weight_decay)
    state = restore(args, run_dir, model, optimizer, runtime)
    if args.export_only:
        if runtime.is_main:
            export_checkpoint(model, tokenizer, state, args, runtime.device)
        return

    # Data differ per rank and per resume, but are reproducible from (seed, rank, step).
    rng = random.Random(args.seed * 1_000_003 + runtime.rank * 7919 + state["step"])
    sampler = FamilyMix(tokenizer, rng.randrange(2**31), args.mix, uniform_share=args.uniform_share, run_share=args.run_share)
    curriculum = Curriculum(args.max_len, state["level"], step=args.level_step, uniform_share=args.length_uniform_share)
    eval_sources = family_sources(tokenizer, args.eval_names, range(1, args.max_len + 1), args.eval_per_length,
                                  seed=args.seed + 99_991)  # the fixed held-out sets
    trainer = DistributedDataParallel(model) if runtime.distributed else model

    started, seconds_before = time.time(), state["seconds"]
    bar = tqdm(total=args.steps, initial=state["step"], disable=not runtime.is_main, dynamic_ncols=True)
    running_loss = None
    while state["step"] < args.steps:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(state["step"], args)
        loss, token_acc = train_step(trainer, model, optimizer, sampler, curriculum.lengths(rng, args.batch_size),
                                     runtime.device, args)
        state["step"] += 1
        running_loss = loss if running_loss is None else 0.98 * running_loss + 0.02 * loss
        bar.update(1)
        bar.set_postfix(loss=f"{running_loss:.4f}", tok_acc=f"{token_acc:.4f}", level=curriculum.level)

        out_of_time = args.max_minutes and (time.time() - started) > 60 * args.max_minutes
        if state["step"] % args.eval_every == 0 or state["step"] == args.steps or out_of_time:
            level = torch.tensor([curriculum.level])
            if runtime.is_main:
                state["seconds"] = seconds_before + time.time() - started
                evaluate_and_keep_best(model, tokenizer, optimizer, state, curriculum, eval_sources, args, runtime,
                                       running_loss, token_acc, run_dir)
                level = torch.tensor([curriculum.level])
            if runtime.distributed:
                dist.broadcast(level, src=0)  # every rank follows rank 0's curriculum
                curriculum.level = int(level.item())
            if out_of_time:
                break
    bar.close()
    if runtime.distributed:
        dist.destroy_process_group()


def export_checkpoint(model, tokenizer, state: dict, args, device) -> None:
    """--export-only: measure the checkpoint on larger fresh sets than the training evaluation's (whose
    64 sentences per length cannot tell 99.5% from 100%), one per evaluated family, then export it with
    the chunk length that best_chunk_length chooses over all of them."""
    sources = family_sources(tokenizer, args.eval_names, range(1, args.max_len + 1), args.export_per_length,
                             seed=args.seed + 424_243)  # neither training's nor evaluation's sentences
    by_family = measure_families(model, sources, device)
    by_length = pooled(by_family)
    chunk_length = best_chunk_length(by_length, args.max_len, args.export_per_length * len(by_family))
    print(json.dumps({"step": state["step"], "native_length": native_length(by_length), "chunk_length": chunk_length,
                      "predicted_exact_match": predicted_exact_match(by_length, chunk_length, args.max_len),
                      "exact_match_by_length": by_length,
                      "exact_match_by_family": {name: sum(b.values()) / len(b) for name, b in by_family.items()}}),
          file=sys.stderr)
    export(model, tokenizer, chunk_length, Path(args.out), state, device, by_length)


def export(model, tokenizer, max_src_len: int, out: Path, state: dict, device, by_length: dict) -> None:
    """Write the deployable model; longer sentences than max_src_len will be doubled in chunks."""
    out.mkdir(parents=True, exist_ok=True)
    exported = Seq2Seq(Seq2SeqConfig(**{**asdict(model.config), "max_src_len": max(max_src_len, 1)}))
    exported.load_state_dict(model.state_dict())
    exported.save_pretrained(out)
    tokenizer.save(out / "tokenizer.json")
    write_model_card(
        out,
        config=exported.config,
        num_parameters=exported.num_parameters(),
        vocabulary_words=len(tokenizer.words),
        training={
            "commands": state["commands"],
            "recipe": state.get("recipe"),
            "steps": state["step"],
            "seconds": state["seconds"],
            "machine": machine_description(device),
            "native_by_length": by_length,
        },
    )


if __name__ == "__main__":
    main()
