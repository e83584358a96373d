"""The beam search of one sentence as a tree: every beam at every step with its score, the path kept, the beams
pruned."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..doubler import WordDoubler, rows_of
from ..limits import DEFAULT_BEAM_WIDTH, as_sentences, check_beam_width
from ..model import BeamStep
from ..tokenizer import PAD_ID, WordTokenizer


@dataclass
class BeamNode:
    """One beam after one step: the word it added to the beam it extends, and its score so far."""

    beam: int  # its rank among the row's beams at this step (0 = the best so far)
    parent: int  # the rank of the beam it extends at the step before (every first-step beam extends <sos>: 0)
    word: str  # the word it emitted; "" when a finished beam passes through the step unchanged
    score: float  # log-probability of all its words so far
    kept: bool  # on the path the search returned
    alive: bool  # some beam of the row's last step descends from it; else the search pruned it on the way


@dataclass
class BeamTree:
    """One row's search: a sentence, or one chunk of a long one."""

    chunk: int  # which chunk of its sentence the row is (0 for a sentence of one row)
    source: str  # the row's words
    width: int
    steps: list[list[BeamNode]]  # (S, W) each step's beams, best first

    @property
    def kept_words(self) -> list[str]:
        """The words of the kept path, <eos> included: the row's result."""
        return [node.word for step in self.steps for node in step if node.kept and node.word]

    @property
    def kept_score(self) -> float:
        return next(node.score for node in self.steps[-1] if node.kept) if self.steps else 0.0

    @property
    def overtakes(self) -> int:
        """Steps at which the kept path was not the best beam: where greedy decoding would have left it."""
        return sum(not step[0].kept for step in self.steps if any(node.kept and node.word for node in step))


@torch.inference_mode()
def beam_trees(wd: WordDoubler, sentence: str, beam_width: int = DEFAULT_BEAM_WIDTH) -> list[BeamTree]:
    """Decode one sentence (its chunks as one batch, as the library does) keeping the search's history:
    one extra pass, of at most a sentence's chunks x beam_width decoder rows."""
    (sentence,) = as_sentences([sentence])
    beam_width = check_beam_width(beam_width)
    rows, _, chunks = rows_of([sentence], wd.max_src_len)
    batch = wd.tokenizer.encode_batch(rows)
    generation = wd.model.generate(
        batch.src.to(wd.device), batch.lengths, top_k=1, beam_width=beam_width, keep_history=True
    )
    history = [_on_cpu(step) for step in generation.history]
    return [
        _tree(history, row, chunk, source, slots, beam_width, wd.tokenizer)
        for row, (chunk, source, slots) in enumerate(zip(chunks, rows, batch.slots))
    ]


def _on_cpu(step: BeamStep) -> dict[str, list]:
    return {
        "rows": step.rows.tolist(),
        "parent": step.parent.tolist(),
        "token": step.token.tolist(),
        "score": step.score.tolist(),
    }


def _tree(
    history: list[dict], row: int, chunk: int, source: str, slots: list[str], width: int, tokenizer: WordTokenizer
) -> BeamTree:
    """The steps in which `row` was still decoding (a row leaves the working batch once its best beam ends)."""
    mine = [(step, step["rows"].index(row)) for step in history if row in step["rows"]]
    parents = [step["parent"][i] for step, i in mine]  # (S, W)
    kept = _ancestors(parents, {0})  # the returned path ends in the last step's best beam
    alive = _ancestors(parents, set(range(width)))
    steps = []
    for t, (step, i) in enumerate(mine):
        steps.append(
            [
                BeamNode(
                    beam=b,
                    parent=step["parent"][i][b],
                    word="" if step["token"][i][b] == PAD_ID else tokenizer.token(step["token"][i][b], slots),
                    score=step["score"][i][b],
                    kept=b in kept[t],
                    alive=b in alive[t],
                )
                for b in range(width)
            ]
        )
    return BeamTree(chunk=chunk, source=source, width=width, steps=steps)


def _ancestors(parents: list[list[int]], last: set[int]) -> list[set[int]]:
    """Per step, the beams from which one of `last` (beams of the final step) descends."""
    found = [set() for _ in parents]
    current = set(last)
    for t in reversed(range(len(parents))):
        found[t] = current
        current = {parents[t][b] for b in current}
    return found
