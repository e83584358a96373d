"""Loading a weights folder (config.json, model.safetensors, tokenizer.json), checked so that it can serve.

A folder that loads but cannot double (a chunk length of 0, no slots for unknown words, a tokenizer of
another model, tensors of other shapes) is refused at load with one line naming the file and the field,
instead of failing every request later or dumping a stack of shape errors on a page.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

from safetensors import safe_open

from .model import Seq2Seq, Seq2SeqConfig
from .tokenizer import FIRST_SLOT_ID, WordTokenizer

CONFIG, WEIGHTS, TOKENIZER = "config.json", "model.safetensors", "tokenizer.json"


def read_json(path: Path) -> dict:
    if not path.is_file():
        raise ValueError(f"{path.name}: missing")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path.name}: not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path.name}: not a JSON object")
    return data


_OF_TYPE = {
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
}
_TYPE_NAMES = {"int": "a whole number", "float": "a number", "bool": "true or false"}


def checked_config(data: dict) -> Seq2SeqConfig:
    """config.json -> Seq2SeqConfig, every field present, of its type and in range."""
    known = {f.name: f for f in fields(Seq2SeqConfig)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(f"{CONFIG}: unknown field {unknown[0]!r}")
    for name, field in known.items():
        if name not in data:
            raise ValueError(f"{CONFIG}: {name} is missing")
        value, kind = data[name], field.type  # "int", "float" or "bool" (annotations are strings here)
        if not _OF_TYPE[kind](value):
            raise ValueError(f"{CONFIG}: {name} must be {_TYPE_NAMES[kind]}, got {value!r}")
    config = Seq2SeqConfig(**data)
    lowest = {"embed_size": 1, "hidden_size": 1, "num_layers": 1, "max_src_len": 1, "vocab_size": FIRST_SLOT_ID + 1}
    for name, low in lowest.items():
        if getattr(config, name) < low:
            raise ValueError(f"{CONFIG}: {name} must be at least {low}, got {getattr(config, name)}")
    if not 0 <= config.dropout < 1:
        raise ValueError(f"{CONFIG}: dropout must be from 0 to below 1, got {config.dropout}")
    specials = {"pad_id": config.pad_id, "sos_id": config.sos_id, "eos_id": config.eos_id}
    for name, value in specials.items():
        if not 0 <= value < FIRST_SLOT_ID:
            raise ValueError(f"{CONFIG}: {name} must be below {FIRST_SLOT_ID}, got {value}")
    if len(set(specials.values())) < 3:
        raise ValueError(f"{CONFIG}: pad_id, sos_id and eos_id must differ, got {specials}")
    return config


def checked_tokenizer(folder: Path, config: Seq2SeqConfig) -> WordTokenizer:
    data = read_json(folder / TOKENIZER)
    words, slots = data.get("words"), data.get("num_slots")
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        raise ValueError(f"{TOKENIZER}: words must be a list of strings")
    if not isinstance(slots, int) or isinstance(slots, bool) or slots < config.max_src_len:
        # A chunk of max_src_len words may be all unknown words, each needing a slot of its own.
        raise ValueError(
            f"{TOKENIZER}: num_slots must be a whole number of at least config.json's max_src_len "
            f"({config.max_src_len}), got {slots!r}"
        )
    try:
        tokenizer = WordTokenizer(words, num_slots=slots)
    except ValueError as error:
        raise ValueError(f"{TOKENIZER}: {error}") from None
    if tokenizer.vocab_size != config.vocab_size:
        raise ValueError(
            f"{TOKENIZER}: has {tokenizer.vocab_size:,} ids ({len(words):,} words + {slots} slots + 3), "
            f"config.json's vocab_size is {config.vocab_size:,}"
        )
    return tokenizer


def check_tensors(path: Path, config: Seq2SeqConfig) -> None:
    """Every tensor the model needs, of the shape config.json gives it, read from the file's header only."""
    if not path.is_file():
        raise ValueError(f"{WEIGHTS}: missing")
    expected = {name: list(t.shape) for name, t in Seq2Seq(config).state_dict().items()}
    try:
        with safe_open(path, "pt") as f:
            found = {name: list(f.get_slice(name).get_shape()) for name in f.keys()}
    except Exception as error:  # not a safetensors file at all
        raise ValueError(f"{WEIGHTS}: not a safetensors file ({type(error).__name__})") from None
    for name, shape in expected.items():
        if name not in found:
            raise ValueError(f"{WEIGHTS}: {name} is missing")
        if found[name] != shape:
            raise ValueError(f"{WEIGHTS}: {name} has shape {found[name]}, config.json makes it {shape}")
    extra = sorted(set(found) - set(expected))
    if extra:
        raise ValueError(f"{WEIGHTS}: {extra[0]} is not part of the model config.json describes")


def load_checked(folder: Path) -> tuple[Seq2Seq, WordTokenizer]:
    """The model (in eval mode) and its tokenizer from a weights folder, or ValueError naming what is wrong."""
    folder = Path(folder)
    config = checked_config(read_json(folder / CONFIG))
    tokenizer = checked_tokenizer(folder, config)
    check_tensors(folder / WEIGHTS, config)
    return Seq2Seq.from_pretrained(folder), tokenizer
