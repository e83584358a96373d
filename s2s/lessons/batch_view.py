"""The padded batch as the blog's figure draws it: the [B, T] matrix, lengths, loss mask and the exact doubling's
loss."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import torch

from ..data import collate, doubling_text
from ..doubler import WordDoubler, rows_of, split_into_chunks
from ..limits import MIN_TOP_K, check_request
from ..loss import masked_nll, per_sentence_nll, token_nll, unmasked_nll
from ..tokenizer import EOS, PAD_ID


@dataclass
class BatchView:
    """One request laid out as the model sees it. A row is a sentence, or one chunk of a long one."""

    sentences: list[str]
    row_sentence: list[int]  # (B,) the sentence each row belongs to
    row_chunk: list[int]  # (B,) which chunk of its sentence the row is
    lengths: list[int]  # (B,) true words per row
    src_ids: list[list[int]]  # (B, T) token ids, <pad> = 0 after each row's length
    src_tokens: list[list[str]]  # (B, T) the tokens: vocabulary words, slot names "<w0>", "<pad>"
    src_words: list[list[str]]  # (B, T) what a person reads: slots shown as their original word
    target_ids: list[list[int]]  # (B, S) the exact doubling + <eos>, <pad> after; S = 2T + 1
    target_words: list[list[str]]  # (B, S)
    loss_mask: list[list[bool]]  # (B, S) True where the target counts in the loss (not <pad>)
    token_nll: list[list[float]]  # (B, S) -log p(target) under teacher forcing, at every cell, pads too
    row_loss: list[float]  # (B,) mean NLL over each row's own targets
    sentence_loss: list[float]  # per sentence: mean NLL over all its rows' targets
    sentence_targets: list[int]  # per sentence: how many targets that mean is over
    masked_loss: float  # the batch's loss: mean over non-<pad> targets (what training minimises)
    unmasked_loss: float  # the mean over every cell, <pad> targets included (the blog's bug)

    @property
    def shape(self) -> tuple[int, int]:
        """(B, T) of the padded source batch."""
        return len(self.src_ids), len(self.src_ids[0]) if self.src_ids else 0

    @property
    def target_shape(self) -> tuple[int, int]:
        return len(self.target_ids), len(self.target_ids[0]) if self.target_ids else 0

    @property
    def pad_cells(self) -> int:
        """<pad> cells in the source matrix."""
        return sum(row.count(PAD_ID) for row in self.src_ids)

    @property
    def masked_cells(self) -> int:
        """Target cells the loss mask drops."""
        return sum(not m for row in self.loss_mask for m in row)


def expected_steps(sentence: str, max_src_len: int) -> list[list[str]]:
    """Per chunk, the words the decoder should emit for the exact doubling: each word twice, then <eos>."""
    return [
        doubling_text(" ".join(chunk)).split() + [EOS] for chunk in split_into_chunks(sentence.split(), max_src_len)
    ]


def expected_per_step(sentence: str, step_chunks: list[int], max_src_len: int) -> list[str]:
    """The word each decoding step should have emitted, given the chunk each step belonged to: steps run chunk
    by chunk, and a chunk that ran past its <eos> gets "—" (nothing was expected there)."""
    expected = expected_steps(sentence, max_src_len)
    position = Counter()
    out = []
    for chunk in step_chunks:
        words = expected[chunk] if chunk < len(expected) else []
        out.append(words[position[chunk]] if position[chunk] < len(words) else "—")
        position[chunk] += 1
    return out


@torch.no_grad()
def batch_view(wd: WordDoubler, sentences: list[str]) -> BatchView:
    """Pad the sentences into one batch and score their exact doubling under the model (teacher forcing)."""
    check_request(sentences, MIN_TOP_K)  # the same size limits as a request
    rows, row_sentence, row_chunk = rows_of(sentences, wd.max_src_len)
    tokenizer = wd.tokenizer
    encoded = tokenizer.encode_batch(rows)
    sources = [encoded.src[r, :n].tolist() for r, n in enumerate(encoded.lengths.tolist())]
    batch = collate(sources)  # src (B, T), tgt_in and tgt_out (B, 2T + 1)

    device = wd.device
    target = batch.tgt_out.to(device)
    log_probs = wd.model(batch.src.to(device), batch.lengths, batch.tgt_in.to(device))  # (B, S, V)
    nll = token_nll(log_probs, target)  # (B, S)
    mask = target != PAD_ID

    # A sentence's loss pools the targets of all its chunks.
    owner = torch.tensor(row_sentence, device=device)
    nll_sum = torch.zeros(len(sentences), device=device).index_add_(0, owner, (nll * mask).sum(1))
    counts = torch.zeros(len(sentences), device=device).index_add_(0, owner, mask.sum(1).float())

    def words(ids: list[int], slots: list[str]) -> list[str]:
        return [tokenizer.token(i, slots) for i in ids]

    src_ids = batch.src.tolist()
    target_ids = batch.tgt_out.tolist()
    return BatchView(
        sentences=list(sentences),
        row_sentence=row_sentence,
        row_chunk=row_chunk,
        lengths=batch.lengths.tolist(),
        src_ids=src_ids,
        src_tokens=[[tokenizer.itos[i] for i in row] for row in src_ids],
        src_words=[words(row, slots) for row, slots in zip(src_ids, encoded.slots)],
        target_ids=target_ids,
        target_words=[words(row, slots) for row, slots in zip(target_ids, encoded.slots)],
        loss_mask=mask.cpu().tolist(),
        token_nll=nll.cpu().tolist(),
        row_loss=per_sentence_nll(log_probs, target, PAD_ID).cpu().tolist(),
        sentence_loss=(nll_sum / counts.clamp(min=1)).cpu().tolist(),
        sentence_targets=[int(c) for c in counts.tolist()],
        masked_loss=float(masked_nll(log_probs, target, PAD_ID)),
        unmasked_loss=float(unmasked_nll(log_probs, target)),
    )
