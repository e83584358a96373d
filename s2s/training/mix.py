"""The training mix of the sentence families, and the held-out sets drawn from them: sentences as ids."""

from __future__ import annotations

import random

from ..data import SentenceSampler, TrainingBatch, collate
from ..tokenizer import WordTokenizer
from .families import FAMILIES


def parse_mix(text: str) -> dict[str, float]:
    """ "random=0.4,run=0.1,..." -> {"random": 0.4, "run": 0.1, ...}, checked against FAMILIES."""
    mix = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, share = part.partition("=")
        if name.strip() not in FAMILIES:
            raise ValueError(f"unknown sentence family {name.strip()!r}; the families are {', '.join(FAMILIES)}")
        mix[name.strip()] = float(share)
    if not mix or min(mix.values()) < 0 or sum(mix.values()) <= 0:
        raise ValueError(f"a family mix needs shares >= 0 that add up to more than 0, got {text!r}")
    return mix


class FamilyMix:
    """Training sentences as ids, each drawn from a family with its share of the mix.

    The "random" family comes from the id-space SentenceSampler the model was first trained with
    (Zipf and uniform words, short runs), so that distribution is kept exactly; the others are text,
    encoded by the tokenizer as a visitor's sentence would be.
    """

    def __init__(self, tokenizer: WordTokenizer, seed: int, mix: dict[str, float], **random_mix_options):
        self.rng = random.Random(seed)
        self.tokenizer = tokenizer
        self.names = list(mix)
        self.weights = [mix[name] for name in self.names]
        self.random_mix = SentenceSampler(tokenizer, seed=self.rng.randrange(2**31), **random_mix_options)

    def sentence(self, length: int) -> list[int]:
        name = self.rng.choices(self.names, weights=self.weights)[0]
        if name == "random":
            return self.random_mix.sentence(length)
        return self.tokenizer.encode(FAMILIES[name](self.rng, self.tokenizer, length))[0]

    def batch(self, lengths: list[int]) -> TrainingBatch:
        return collate([self.sentence(n) for n in lengths])


def family_sources(tokenizer: WordTokenizer, names, lengths, per_length: int, seed: int) -> dict[str, list[list[int]]]:
    """Held-out sentences as ids: per_length of each length from each family, the same for the same seed."""
    rng = random.Random(seed)
    return {
        name: [tokenizer.encode(FAMILIES[name](rng, tokenizer, n))[0] for n in lengths for _ in range(per_length)]
        for name in names
    }
