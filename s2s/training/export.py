"""Measuring a checkpoint on the held-out families and exporting it: the deployable model and its card."""

from __future__ import annotations

import json
import platform
import sys
from dataclasses import asdict
from pathlib import Path

import torch

from ..model import Seq2Seq, Seq2SeqConfig
from .measure import best_chunk_length, native_exact_match, native_length, predicted_exact_match
from .mix import family_sources
from .model_card import write_model_card


def machine_description(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"


def measure_families(model, sources: dict[str, list[list[int]]], device) -> dict[str, dict[int, float]]:
    """Native exact match by length for each family's held-out set."""
    model.eval()
    return {name: native_exact_match(model, ids, device=device) for name, ids in sources.items()}


def pooled(by_family: dict[str, dict[int, float]]) -> dict[int, float]:
    """Exact match by length over all families, each family weighing the same."""
    lengths = sorted({n for by_length in by_family.values() for n in by_length})
    return {
        n: sum(b[n] for b in by_family.values() if n in b) / sum(n in b for b in by_family.values()) for n in lengths
    }


def export_checkpoint(model, tokenizer, state: dict, args, device) -> None:
    """--export-only: measure the checkpoint on larger fresh sets than the training evaluation's (whose
    64 sentences per length cannot tell 99.5% from 100%), one per evaluated family, then export it with
    the chunk length that best_chunk_length chooses over all of them."""
    sources = family_sources(
        tokenizer, args.eval_names, range(1, args.max_len + 1), args.export_per_length, seed=args.seed + 424_243
    )  # neither training's nor evaluation's sentences
    by_family = measure_families(model, sources, device)
    by_length = pooled(by_family)
    chunk_length = best_chunk_length(by_length, args.max_len, args.export_per_length * len(by_family))
    print(
        json.dumps(
            {
                "step": state["step"],
                "native_length": native_length(by_length),
                "chunk_length": chunk_length,
                "predicted_exact_match": predicted_exact_match(by_length, chunk_length, args.max_len),
                "exact_match_by_length": by_length,
                "exact_match_by_family": {name: sum(b.values()) / len(b) for name, b in by_family.items()},
            }
        ),
        file=sys.stderr,
    )
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
