"""The training recipe: the flags of `python -m s2s.train`, TOML recipe files that set them, the learning-rate
schedule."""

from __future__ import annotations

import argparse
import math
import tomllib
from pathlib import Path

from .families import FAMILIES
from .mix import parse_mix

DEFAULT_MIX = "random=0.4,run=0.1,runs=0.08,phrase=0.08,unknown=0.1,unknown_share=0.08,counting=0.08,letters=0.08"


DESCRIPTION = (
    "Train the word doubler with a length curriculum, keep the best, export it. "
    "A recipe file (--config) sets the flags; flags on the command line win."
)


def _run_flags(p: argparse.ArgumentParser) -> None:
    """Where the run lives: its recipe, its directory, its export, resuming."""
    p.add_argument("--config", default=None, help="a TOML recipe whose keys are these flags (dashes or underscores)")
    p.add_argument("--run-dir", default="runs/doubler", help="checkpoint, learning-curve log and plot go here")
    p.add_argument("--out", default=None, help="directory the best model is exported to (default: RUN_DIR/export)")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in --run-dir")
    p.add_argument(
        "--init-from",
        default=None,
        help="start from this exported model (weights/ or a run's export): its weights, tokenizer and "
        "architecture, with a fresh optimizer and warm-up; the architecture flags are then ignored",
    )


def _model_flags(p: argparse.ArgumentParser) -> None:
    """The model's shape (ignored with --init-from)."""
    p.add_argument("--vocab-size", type=int, default=5000, help="number of English words in the vocabulary")
    p.add_argument("--max-len", type=int, default=26, help="longest sentence (words) the curriculum reaches")
    p.add_argument("--embed-size", type=int, default=32, help="embedding size, tied to the output layer")
    p.add_argument("--hidden-size", type=int, default=512, help="GRU hidden size: the sentence's one vector")
    p.add_argument(
        "--freeze-embedding", action="store_true", help="keep the random word vectors fixed (learn to copy any vector)"
    )
    p.add_argument("--num-layers", type=int, default=1, help="GRU layers in encoder and decoder")
    p.add_argument(
        "--dropout", type=float, default=0.0, help="dropout on decoder inputs (synthetic data cannot be memorised)"
    )


def _data_flags(p: argparse.ArgumentParser) -> None:
    """The training sentences: the family mix, the batch, hard-example mining."""
    p.add_argument(
        "--families",
        default=DEFAULT_MIX,
        help=f"training mix of sentence families, name=share,... (families: {', '.join(FAMILIES)})",
    )
    p.add_argument(
        "--uniform-share",
        type=float,
        default=0.6,
        help="in the random family: share of sentences with words drawn uniformly from the vocabulary, "
        "the rest by a Zipf law as in English (rare words are the hard ones)",
    )
    p.add_argument(
        "--run-share",
        type=float,
        default=0.25,
        help='in the random family: share of sentences that repeat one word 2-5 times in a row ("no no no")',
    )
    p.add_argument("--batch-size", type=int, default=256, help="sentences per step (per process)")
    p.add_argument(
        "--mine-factor",
        type=int,
        default=1,
        help="hard-example mining: draw this many candidates per hard row and keep those the model finds "
        "hardest (1 = off)",
    )
    p.add_argument(
        "--mine-share", type=float, default=0.5, help="with --mine-factor > 1: share of each batch that is mined"
    )
    p.add_argument(
        "--mine-last",
        type=int,
        default=0,
        help="with --mine-factor > 1: mine only the last this many steps of the schedule (0 = every step)",
    )


def _schedule_flags(p: argparse.ArgumentParser) -> None:
    """The learning rate's schedule, clipping, and the length curriculum."""
    p.add_argument("--lr", type=float, default=2e-3, help="peak AdamW learning rate")
    p.add_argument("--weight-decay", type=float, default=0.0, help="AdamW weight decay")
    p.add_argument("--warmup", type=int, default=200, help="linear warm-up steps")
    p.add_argument("--steps", type=int, default=40000, help="total steps")
    p.add_argument(
        "--decay-start", type=int, default=None, help="step where the cosine LR decay begins (default: 80%% of --steps)"
    )
    p.add_argument("--min-lr-share", type=float, default=0.1, help="the cosine decay ends at this share of --lr")
    p.add_argument(
        "--max-minutes",
        type=float,
        default=0.0,
        help="the run's length in minutes of training, over all its resumes; the schedule follows whichever of "
        "the steps and the minutes is further along, so a run the clock ends still ends its decay; 0 = no limit",
    )
    p.add_argument(
        "--clip", type=float, default=5.0, help="gradient-norm clip: GRU gradients can explode on long sentences"
    )
    p.add_argument("--start-level", type=int, default=4, help="curriculum's first length level")
    p.add_argument("--level-step", type=int, default=2, help="words added to the level each time it is passed")
    p.add_argument("--level-threshold", type=float, default=0.95, help="exact match at the level that raises it")
    p.add_argument(
        "--length-uniform-share",
        type=float,
        default=0.2,
        help="share of batches with lengths uniform over 1..level (the rest: a narrow bucket near the level)",
    )


def _evaluation_flags(p: argparse.ArgumentParser) -> None:
    """The held-out evaluation that keeps the best model."""
    p.add_argument("--eval-every", type=int, default=250, help="steps between evaluations and checkpoints")
    p.add_argument(
        "--eval-per-length",
        type=int,
        default=64,
        help="held-out sentences per length 1..max-len and per evaluated family",
    )
    p.add_argument(
        "--eval-families",
        default=",".join(FAMILIES),
        help="families the held-out evaluation (and so the model selection) covers",
    )


def _machine_flags(p: argparse.ArgumentParser) -> None:
    """Seed, device, threads, precision, and --export-only."""
    p.add_argument("--seed", type=int, default=1234, help="seed for weights and data")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:1, ...")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    p.add_argument(
        "--precision",
        choices=["auto", "bf16", "fp32"],
        default="auto",
        help="the training step's matmuls: bf16 autocast (weights and optimizer stay fp32), or fp32; auto = "
        "bf16 where the hardware multiplies it fast (CUDA, a CPU with AMX or AVX-512 BF16)",
    )
    p.add_argument(
        "--fp32-last",
        type=int,
        default=0,
        help="with bf16: the last this many steps in fp32, so the model is polished in the precision it decodes in",
    )
    p.add_argument(
        "--export-only",
        action="store_true",
        help="with --resume: train no further; measure the checkpoint on --export-per-length fresh sentences "
        "per length and family, choose its chunk length and write it to --out",
    )
    p.add_argument(
        "--export-per-length", type=int, default=256, help="sentences per length (and family) measured by --export-only"
    )


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m s2s.train", description=DESCRIPTION, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    _run_flags(p)
    _model_flags(p)
    _data_flags(p)
    _schedule_flags(p)
    _evaluation_flags(p)
    _machine_flags(p)
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


def schedule_position(step: int, minutes: float, args) -> float:
    """Where a run is on its schedule, counted in steps: the step, or with --max-minutes the share of the minutes
    spent times --steps, whichever is further. The rate's decay, the fp32 steps and the end follow it, so a run
    on a slower machine than its recipe expected finishes its decay on time instead of being cut mid-way."""
    if not args.max_minutes:
        return float(step)
    return max(float(step), args.steps * minutes / args.max_minutes)


def in_last_steps(at: float, steps: int, args) -> bool:
    """Whether schedule position `at` is within the last `steps` steps of the run (the fp32 tail, the mined
    tail)."""
    return at >= args.steps - steps


def learning_rate(step: float, args) -> float:
    """Warm-up, constant, then cosine decay to --min-lr-share from `--decay-start` (default: the last fifth) to
    the end."""
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    decay_start = int(0.8 * args.steps) if args.decay_start is None else args.decay_start
    if step < decay_start:
        return args.lr
    progress = min(1.0, (step - decay_start) / max(1, args.steps - decay_start))
    floor = args.min_lr_share
    return args.lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))
