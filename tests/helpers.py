"""Small shared builders for the library tests: a tiny tokenizer and a seeded untrained model."""

from __future__ import annotations

import torch

from s2s.model import Seq2Seq, Seq2SeqConfig
from s2s.tokenizer import WordTokenizer

WORDS = ["I", "love", "CUDA", "the", "cat", "sat", "on", "mat", "is", "my", "name", "a", "dog", "TF", "Aww"]


def tiny_tokenizer(num_slots: int = 8) -> WordTokenizer:
    return WordTokenizer(WORDS, num_slots=num_slots)


def tiny_model(
    tokenizer: WordTokenizer, seed: int = 0, hidden: int = 32, max_src_len: int = 8, layers: int = 1
) -> Seq2Seq:
    torch.manual_seed(seed)
    config = Seq2SeqConfig(
        vocab_size=tokenizer.vocab_size, embed_size=16, hidden_size=hidden, max_src_len=max_src_len, num_layers=layers
    )
    return Seq2Seq(config).eval()


def save_tiny_doubler(directory, max_src_len: int = 8, seed: int = 0) -> None:
    """Write a tiny untrained model + tokenizer in the layout of weights/."""
    tok = tiny_tokenizer()
    tiny_model(tok, seed=seed, max_src_len=max_src_len).save_pretrained(directory)
    tok.save(f"{directory}/tokenizer.json")
