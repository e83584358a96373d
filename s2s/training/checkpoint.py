"""A training run's files: model and optimizer in safetensors shards, the rest in JSON (never pickle), and its learning
curve."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


def save_checkpoint(run_dir: Path, model, optimizer, state: dict) -> None:
    """Model and optimizer tensors in safetensors shards (one per kind, each small enough for a plain
    git or Space push), the rest in checkpoint.json, written last."""
    shards = {"model": {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}}
    for index, param_state in optimizer.state_dict()["state"].items():
        for name, value in param_state.items():
            shards.setdefault(f"optim-{name}", {})[f"optim.{index}.{name}"] = (
                torch.as_tensor(value).detach().cpu().contiguous()
            )
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
