"""The model card (weights/README.md): Hub YAML metadata, how the model was made, how well it doubles."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard

from ..model import Seq2Seq
from .measure import native_length

EVAL_START, EVAL_END = "<!-- evaluation:start -->", "<!-- evaluation:end -->"


# Where the code lives is the publisher's to say: `python -m s2s.publish push --code-url URL` links it in this line.
CODE_LINE = "Code: the Word Doubler repository, whose `s2s` package also ships inside every Space built from it."


def with_code_link(card: str, url: str) -> str:
    """The card with its code line linking `url` (the mixin's own cards say "- Code: URL" the same way)."""
    return card.replace(CODE_LINE, f"Code: [{url}]({url}), the Word Doubler repository (its `s2s` package).")


def write_model_card(out: Path, config, num_parameters: int, vocabulary_words: int, training: dict) -> None:
    """Write README.md for a freshly exported model, keeping any evaluation section already there."""
    path = Path(out) / "README.md"
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    evaluation = (
        _section(old)
        or f"{EVAL_START}\nNot evaluated yet: run `python -m s2s.evaluate --model {out} --write-card`.\n{EVAL_END}"
    )
    slots = config.vocab_size - vocabulary_words - 3
    card = f"""{_front_matter()}
# Word Doubler GRU

A GRU encoder-decoder without attention that doubles every word of a sentence:
`I love CUDA` -> `I I love love CUDA CUDA`. Made for the Word Doubler demo, a lesson in
batching sequence-to-sequence models (padding, packing, masked loss, batch invariance).

{CODE_LINE}

Loading needs the project's `s2s` package (the Word Doubler repository):

```python
from s2s import WordDoubler
wd = WordDoubler.from_pretrained("owner/name", revision="<commit>")
wd.double(["I love CUDA"])[0].output  # 'I I love love CUDA CUDA'
```

{_architecture(config, num_parameters, vocabulary_words)}
{_training(training)}
## Evaluation

{evaluation}

## Limits

- Sentences longer than {config.max_src_len} words are doubled in chunks of at most that many words.
- A sentence (chunk) may hold at most {slots} distinct unknown words.
- No attention: everything the decoder knows is one {config.hidden_size}-unit vector per sentence.

## Config

```json
{json.dumps(asdict(config), indent=1)}
```
"""
    path.write_text(card, encoding="utf-8")


def _front_matter() -> str:
    """The Hub's metadata: the project's own tags, then the ones the Hub mixin gives every model it saves."""
    tags = ["seq2seq", "gru", "word-doubling", *Seq2Seq._hub_mixin_info.model_card_data.tags]
    tag_lines = "\n".join(f"- {tag}" for tag in tags)
    return f"""---
license: mit
library_name: pytorch
language: en
metrics:
- exact_match
tags:
{tag_lines}
pipeline_tag: text2text-generation
---
"""


def _architecture(config, num_parameters: int, vocabulary_words: int) -> str:
    slots = config.vocab_size - vocabulary_words - 3
    return f"""## Architecture

| | |
|---|---|
| parameters | {num_parameters:,} |
| vocabulary | {vocabulary_words:,} English words + {slots} slot tokens + `<pad>` `<sos>` `<eos>` |
| embedding | {config.embed_size}, shared by encoder input, decoder input and output layer |
| GRU | {config.num_layers} layer(s) x {config.hidden_size} units, encoder and decoder |
| chunk length (`max_src_len`) | {config.max_src_len} words in one row; longer sentences are split into chunks (the longest length that no shorter one measurably beats) |
| source order | {"reversed" if config.reverse_source else "as written"} |
| storage | `model.safetensors` in float16, upcast to float32 at load; `config.json`; `tokenizer.json` |

Words outside the vocabulary (names, numbers, emoji, other scripts) take slot tokens `<w0>`, `<w1>`, ...
in order of first appearance, and decoding puts the original word back, so any word is doubled.
"""


def _training(training: dict) -> str:
    native = ", ".join(f"{n}: {acc:.3f}" for n, acc in training["native_by_length"].items())
    commands = "\n".join(training["commands"])
    recipe = training.get("recipe")
    recipe_text = f"\nThe recipe, `{recipe['path']}`:\n\n```toml\n{recipe['text'].strip()}\n```\n" if recipe else ""
    return f"""## Training

Trained by the project's own code (`s2s/training/train.py`) on synthetic sentences generated on the fly,
with a combined length curriculum:

```
{commands}
```
{recipe_text}
- steps: {training["steps"]:,}; wall time: {training["seconds"] / 3600:.2f} h on {training["machine"]}
- native length (every 4 consecutive lengths up to it at >= 99% exact): {native_length(training["native_by_length"])} words
- held-out exact match by length at export (one row each, no chunking): {native}
"""


def _section(card: str) -> str | None:
    match = re.search(re.escape(EVAL_START) + ".*?" + re.escape(EVAL_END), card, flags=re.S)
    return match.group(0) if match else None


def _bucket_table(sets: dict[str, dict]) -> list[str]:
    """Markdown rows: one set per row, exact match per length bucket, then overall (exact, token, n)."""
    buckets = list(dict.fromkeys(b for part in sets.values() for b in part["buckets"]))
    rows = [
        "| sentences | " + " | ".join(buckets) + " | **all** | token accuracy | n |",
        "|---|" + "---|" * (len(buckets) + 3),
    ]
    for name, part in sets.items():
        cells = [f"{part['buckets'][b]['exact_match']:.4f}" if b in part["buckets"] else "" for b in buckets]
        o = part["overall"]
        rows.append(
            f"| {name} | "
            + " | ".join(cells)
            + f" | **{o['exact_match']:.4f}** | {o['token_accuracy']:.4f} | {o['n']:,} |"
        )
    return rows


def _with_model_index(card: str, sets: dict[str, dict]) -> str:
    """The card with its Hub metadata's model-index set to the exact match of every evaluated set."""
    parsed = ModelCard(card)  # parses the YAML front matter offline
    parsed.data.model_name = "Word Doubler GRU"
    parsed.data.eval_results = [
        # The Hub groups results by dataset type, so each set is a type of its own.
        EvalResult(
            task_type="text2text-generation",
            task_name="word doubling",
            dataset_type="word-doubling-" + re.sub(r"[^a-z0-9]+", "-", name).strip("-"),
            dataset_name=name,
            metric_type="exact_match",
            metric_name="exact match",
            metric_value=round(part["overall"]["exact_match"], 4),
        )
        for name, part in sets.items()
    ]
    return str(parsed)


def _shortened(sentence: str, limit: int = 90) -> str:
    sentence = sentence.replace("`", "'")  # a backtick would end the code span
    return sentence if len(sentence) <= limit else sentence[: limit - 1] + "…"


def write_evaluation(out: Path, report: dict) -> None:
    """Replace the card's evaluation section with an `s2s.evaluate` report, and save the report itself as
    evaluation.json beside the weights (for the page and the Hub)."""
    path = Path(out) / "README.md"
    sets = {"random (1-26)": report["random"], **report.get("families", {}), "real text": report["real"]}
    rows = _bucket_table(sets)
    native = report["native"]
    native_line = ", ".join(f"{n}: {a:.3f}" for n, a in native["exact_match_by_length"].items())
    width = report.get("beam_width", 1)
    decoding = "greedy decoding" if width == 1 else f"beam search of width {width}"
    wrong = [(name, sentence) for name, part in sets.items() for sentence in part.get("wrong", [])]
    wrong_lines = "\n".join(f"- {name}: `{_shortened(sentence)}`" for name, sentence in wrong[:40]) or "- none"
    section = (
        f"{EVAL_START}\nThrough `WordDoubler.double` (chunking included), {decoding}, measured by\n"
        f"`{report['command']}`: exact match by length bucket (words). *random (1-26)*: fresh random sentences\n"
        f"of the mix first trained on; then each sentence family of `s2s/training/families.py` (fresh seeds) in every\n"
        f"bucket, 27-52 words doubled chunk by chunk; *real text*: every line of `s2s/training/eval_data/real_text.txt`\n"
        f"(many languages, lists, code, chants, numbers).\n\n"
        + "\n".join(rows)
        + f"\n\nWrong sentences ({len(wrong)}{', the first 40' if len(wrong) > 40 else ''}):\n\n{wrong_lines}\n"
        f"\nNative (one row, lengths 1-{native['max_src_len']}), exact match by length: {native_line}\n{EVAL_END}"
    )
    card = path.read_text(encoding="utf-8")
    card = card.replace(_section(card), section) if _section(card) else card + "\n" + section
    path.write_text(_with_model_index(card, sets), encoding="utf-8")
    (Path(out) / "evaluation.json").write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
