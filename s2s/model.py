"""The lesson: a GRU encoder-decoder that doubles words, trained and decoded a whole padded batch at a time.

Read top to bottom: the config; the packed `Encoder`, with the tutorials' unpacked one beside it; the `Decoder`;
the model and its teacher-forced `forward`; the masked loss; and a plain batched beam search (width 1 = greedy).
Torch operations only. The same search, fast (native kernels, a stepped cell, a ranking without a full softmax),
is `s2s.fast.generate`, which the library serves with; tests hold the two equal.

A padded batch, as the blog draws it (https://learningdeep.xyz/unserstanding_seq2seq_batching/): one row per
sentence, padded on the right to the longest, with each row's true length beside it.

    src (B=3, T=4)                        lengths   target (2T + 1 = 9 steps)
    My    name  is     Sunil               4        My My name name is is Sunil Sunil <eos>
    I     love  CUDA   <pad>               3        I I love love CUDA CUDA <eos> <pad> <pad>
    TF    is    Aww    <pad>               3        TF TF is is Aww Aww <eos> <pad> <pad>

Two things must not see the <pad>: the encoder's final state (packing stops each row at its own last word) and the
loss (it averages over real target positions only). Then a sentence gets one answer alone or in any batch."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin, hf_hub_download
from huggingface_hub.constants import SAFETENSORS_SINGLE_FILE
from safetensors.torch import load_file, save_file
from torch import Tensor
from torch.nn.utils.rnn import pack_padded_sequence

from .tokenizer import EOS_ID, PAD_ID, SOS_ID


@dataclass
class Seq2SeqConfig:
    vocab_size: int = 5029
    # Small embeddings, tied to the output layer: the projection over the vocabulary
    # dominates the cost per token, so it goes through `embed_size`, not `hidden_size`.
    embed_size: int = 32
    # The whole sentence must fit in this one vector (no attention): it sets the length we can copy.
    hidden_size: int = 512
    num_layers: int = 1
    # Fixed random word vectors: the network learns to copy *any* vector instead of learning each of
    # thousands of words it sees rarely; random vectors in this many dimensions are far apart.
    freeze_embedding: bool = False
    dropout: float = 0.0
    # Longest sentence doubled in one row; longer ones are split into chunks by WordDoubler.
    max_src_len: int = 25
    # Feed the source reversed, so the first word to emit is the last one read (Sutskever et al. 2014).
    reverse_source: bool = True
    pad_id: int = PAD_ID
    sos_id: int = SOS_ID
    eos_id: int = EOS_ID


@dataclass
class Generation:
    """What decoding produced, step by step, for a batch: each row's chosen sequence."""

    tokens: torch.Tensor  # (B, S) emitted ids; PAD after a row has finished
    probs: torch.Tensor  # (B, S) probability of each emitted id, given the words before it
    top_ids: torch.Tensor  # (B, S, k) best ids at each step of the chosen sequence, best first
    top_probs: torch.Tensor  # (B, S, k) their probabilities
    num_steps: torch.Tensor  # (B,) steps each row actually took, its <eos> included
    log_prob: torch.Tensor  # (B,) log-probability of each row's whole chosen sequence
    history: list[BeamStep] | None = None  # every beam at every step, only when generate(keep_history=True)


@dataclass
class BeamStep:
    """One step of the search for every beam of the n rows still decoding: where it came from and what it recorded."""

    rows: torch.Tensor  # (n,) which rows of the batch these are
    parent: torch.Tensor  # (n, W) index of the beam it extends
    token: torch.Tensor  # (n, W)
    prob: torch.Tensor  # (n, W)
    top_ids: torch.Tensor  # (n, W, k)
    top_probs: torch.Tensor  # (n, W, k)
    score: torch.Tensor | None = None  # (n, W) log-probability of each beam's words so far; kept on request


def reverse_padded(src: torch.Tensor, lengths: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Reverse each row's first `length` tokens, keeping the padding on the right."""
    positions = torch.arange(src.size(1), device=src.device)
    index = lengths.to(src.device)[:, None] - 1 - positions[None, :]  # (B, T)
    valid = index >= 0
    return src.gather(1, index.clamp(min=0)).masked_fill(~valid, pad_id)


class Encoder(nn.Module):
    """Reads embedded words with a GRU; its final hidden state is the whole sentence."""

    def __init__(self, config: Seq2SeqConfig):
        super().__init__()
        dropout = config.dropout if config.num_layers > 1 else 0.0
        self.rnn = nn.GRU(config.embed_size, config.hidden_size, config.num_layers, batch_first=True, dropout=dropout)

    def forward(self, embedded: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        # Packing makes the GRU stop at each row's own last word: its state never sees a <pad>,
        # so a sentence encodes the same alone or padded inside any batch.
        packed = pack_padded_sequence(embedded, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, hidden = self.rnn(packed)
        return hidden  # (L, B, H), rows in the original order


class UnpackedEncoder(nn.Module):
    """The tutorials' encoder (pytorch/tutorials#3643), for the page's lesson: the same GRU run over the whole
    padded batch, so a short row's final state has also read every <pad> its longer companions put after it."""

    def __init__(self, rnn: nn.GRU):
        super().__init__()
        self.rnn = rnn  # shared with the real encoder: the same weights, only the padding handled differently

    def forward(self, embedded: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        _, hidden = self.rnn(embedded)  # lengths ignored: that is the bug
        return hidden  # (L, B, H)


class Decoder(nn.Module):
    """Embedded previous word -> dropout -> GRU -> projection into the embedding space."""

    def __init__(self, config: Seq2SeqConfig):
        super().__init__()
        dropout = config.dropout if config.num_layers > 1 else 0.0
        self.dropout = nn.Dropout(config.dropout)
        self.rnn = nn.GRU(config.embed_size, config.hidden_size, config.num_layers, batch_first=True, dropout=dropout)
        self.proj = nn.Linear(config.hidden_size, config.embed_size)

    def forward(self, embedded: torch.Tensor, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        output, hidden = self.rnn(self.dropout(embedded), hidden)  # (B, S, H), (L, B, H)
        return self.proj(output), hidden  # (B, S, E)


def token_nll(log_probs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """-log p of each target under (B, S, V) log-probabilities: (B, S)."""
    return -log_probs.gather(-1, target.unsqueeze(-1)).squeeze(-1)


def masked_nll(log_probs: torch.Tensor, target: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Sum of NLL over target positions that are not `pad_id`, divided by their count.

    log_probs: (B, S, V); target: (B, S). Only `target == pad_id` is masked: other special ids (<eos> above
    all) are real targets the model must learn. (The blog divides by the batch length and masks every id <= pad.)
    """
    mask = target != pad_id
    return (token_nll(log_probs, target) * mask).sum() / mask.sum().clamp(min=1)


class Seq2Seq(nn.Module, PyTorchModelHubMixin):
    """Encoder-decoder sharing one embedding table for source words, target words and the output layer."""

    def __init__(self, config: Seq2SeqConfig | dict):
        super().__init__()
        if isinstance(config, dict):  # as the Hub mixin reads it back from config.json
            config = Seq2SeqConfig(**config)
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embed_size, padding_idx=config.pad_id)
        self.embedding.weight.requires_grad_(not config.freeze_embedding)
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)
        self.out_bias = nn.Parameter(torch.zeros(config.vocab_size))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def encode(self, src: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if self.config.reverse_source:
            src = reverse_padded(src, lengths, self.config.pad_id)
        return self.encoder(self.embedding(src), lengths)  # (L, B, H)

    def decode_logits(self, tgt_in: torch.Tensor, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features, hidden = self.decoder(self.embedding(tgt_in), hidden)  # (B, S, E)
        return F.linear(features, self.embedding.weight, self.out_bias), hidden  # (B, S, V), tied weights

    def decode(self, tgt_in: torch.Tensor, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, hidden = self.decode_logits(tgt_in, hidden)
        return F.log_softmax(logits, dim=-1), hidden

    def forward(self, src: torch.Tensor, lengths: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: the whole target in one decoder GRU call. Returns log-probs (B, S, V)."""
        log_probs, _ = self.decode(tgt_in, self.encode(src, lengths))
        return log_probs

    @torch.inference_mode()
    def generate(
        self, src: Tensor, lengths: Tensor, top_k=5, beam_width=1, keep_history=False, prefix=None
    ) -> Generation:
        """Beam search over the whole batch at once (greedy at width 1), with the decoder's top-k at every step of
        each row's chosen sequence. Every row keeps its own `beam_width` beams, ranked by the log-probability of its
        words, and takes at most 2 * length + 1 steps: nothing a row does depends on its companions. A finished beam
        emits <pad> at no cost; as scores only fall, a row is done once its best beam has finished, and leaves.
        keep_history=True also returns every step's beams and scores (the page's tree). prefix (B, P): words each
        row must say first, <pad> after them; a forced row has one beam, at the decoder's own probability for them.
        """
        batch_size, device, width, vocab_size = src.size(0), src.device, beam_width, self.config.vocab_size
        k, per_beam = min(top_k, vocab_size), min(width, vocab_size)  # a row's best W are among each beam's best W
        lengths = lengths.to(device)
        if prefix is not None:
            prefix = self._checked_prefix(prefix.to(device), lengths)
        hidden = self.encode(src, lengths).repeat_interleave(width, dim=1)  # (L, B*W, H), row-major
        # The working batch: the n rows still decoding (ids into the batch), each with W beams.
        rows = torch.arange(batch_size, device=device)  # (n,)
        step_limit = (2 * lengths + 1)[:, None]  # (n, 1) each row's own limit
        score = torch.full((batch_size, width), float("-inf"), device=device)  # (n, W) log p of each beam so far
        score[:, 0] = 0.0  # all beams start as the same <sos>; only the first is live, so step 1 fans out from it
        token = torch.full((batch_size, width), self.config.sos_id, dtype=torch.long, device=device)
        finished, num_steps = torch.zeros_like(token, dtype=torch.bool), torch.zeros_like(token)  # (n, W)
        final_steps, final_score = token.new_zeros(batch_size), score.new_zeros(batch_size)  # of each row's best
        history: list[BeamStep] = []
        for t in range(int(step_limit.max()) if batch_size else 0):
            n = rows.numel()
            # 1. One decoder step for every beam of every live row.
            log_probs, new_hidden = self.decode(token.view(-1, 1), hidden)  # (n*W, 1, V), (L, n*W, H)
            log_probs = log_probs.view(n, width, -1)  # (n, W, V)
            ranked = log_probs.sort(dim=-1, descending=True, stable=True)  # ties: the lower id first
            top_log_probs, top_ids = (t_[..., : max(per_beam, k)] for t_ in ranked)
            words, word_log_probs = top_ids[..., :per_beam], top_log_probs[..., :per_beam]  # (n, W, per_beam)
            if prefix is not None and t < prefix.size(1):
                words, word_log_probs = self._force(prefix[rows, t], log_probs, words, word_log_probs)
            # 2. and 3. The candidates, and each row's best `width` of them.
            score, flat = self._best_extensions(score, finished, word_log_probs)
            parent = flat // per_beam
            token = words.masked_fill(finished[..., None], self.config.pad_id).view(n, -1).gather(1, flat)
            parent_finished = finished.gather(1, parent)
            index = (torch.arange(n, device=device)[:, None] * width + parent).view(-1)  # each new beam's parent
            hidden = torch.where(parent_finished.view(1, -1, 1), hidden[:, index], new_hidden[:, index])
            # 4. What each new beam's parent believed at this step: the tables the page shows.
            tables = (word_log_probs, top_ids[..., :k], top_log_probs[..., :k], score if keep_history else None)
            history.append(self._record(rows, parent, flat, token, parent_finished, *tables))
            # 5. Per-row step limits; a row whose best beam has finished leaves the working batch.
            num_steps = num_steps.gather(1, parent) + (~parent_finished).long()
            finished = parent_finished | (token == self.config.eos_id) | (num_steps >= step_limit)
            done = finished[:, 0]  # (n,) the best beam has finished: nothing can overtake it
            final_steps[rows], final_score[rows] = num_steps[:, 0], score[:, 0]
            if bool(done.all()):
                break
            if bool(done.any()):
                rows, score, token, finished, num_steps, step_limit = (
                    t_[~done] for t_ in (rows, score, token, finished, num_steps, step_limit)
                )
                hidden = hidden.view(hidden.size(0), n, width, -1)[:, ~done].flatten(1, 2)
        generation = self._backtrack(history, final_steps, final_score, batch_size, k, device)
        generation.history = history if keep_history else None
        return generation

    @staticmethod
    def _best_extensions(score: Tensor, finished: Tensor, word_log_probs: Tensor) -> tuple[Tensor, Tensor]:
        """2. Each beam (n, W) extended by each of its words (n, W, per_beam), a finished beam only by <pad> at no
        cost; 3. each row's best W, best first, ties to the first candidate (beam, then rank): scores, flat ids."""
        candidates = score[..., None] + word_log_probs
        stay = torch.full_like(candidates, float("-inf"))
        stay[..., 0] = score
        candidates = torch.where(finished[..., None], stay, candidates)
        best, flat = candidates.view(score.size(0), -1).sort(dim=-1, descending=True, stable=True)
        return best[:, : score.size(1)], flat[:, : score.size(1)]

    def _record(self, rows, parent, flat, token, parent_finished, word_log_probs, top_ids, top_log_probs, score):
        """4. The step's BeamStep: each new beam's word and probability, and its parent's top-k tables (nothing for
        a beam whose parent had finished: it believed nothing at this step)."""
        from_parent, gone = parent[..., None].expand(-1, -1, top_ids.size(-1)), parent_finished[..., None]
        prob = word_log_probs.reshape(rows.numel(), -1).gather(1, flat).exp().masked_fill(parent_finished, 0.0)
        beliefs = top_ids.gather(1, from_parent).masked_fill(gone, self.config.pad_id)
        belief_probs = top_log_probs.gather(1, from_parent).exp().masked_fill(gone, 0.0)
        return BeamStep(rows, parent, token, prob, beliefs, belief_probs, score)

    def _checked_prefix(self, prefix: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """A forced prefix (B, P), or ValueError saying what is wrong with it."""
        if prefix.dim() != 2 or prefix.size(0) != lengths.size(0):
            raise ValueError(f"a prefix is (batch, steps) ids, one row per sentence; got shape {tuple(prefix.shape)}")
        prefix = prefix.long()
        if bool(((prefix < 0) | (prefix >= self.config.vocab_size) | (prefix == self.config.sos_id)).any()):
            raise ValueError(
                f"a prefix holds ids of words the decoder can say: 0 < id < {self.config.vocab_size}, not <sos>"
            )
        said = prefix != self.config.pad_id
        steps = said.sum(1)  # (B,)
        positions = torch.arange(1, prefix.size(1) + 1, device=prefix.device)
        if bool((said.cumsum(1) != torch.minimum(positions, steps[:, None])).any()):
            raise ValueError("a row's prefix is its first words, then <pad>: no <pad> within it")
        ends = (prefix == self.config.eos_id) & (
            torch.arange(prefix.size(1), device=prefix.device) < steps[:, None] - 1
        )
        if bool(ends.any()):
            raise ValueError("<eos> may only be a prefix's last word: after it the row says nothing more")
        limit = 2 * lengths + 1
        if bool((steps > limit).any()):
            row = int((steps > limit).nonzero()[0])
            raise ValueError(
                f"a prefix of {int(steps[row])} words is longer than its row's {int(limit[row])} steps "
                f"(2 x {int(lengths[row])} words + <eos>)"
            )
        return prefix

    def _force(self, forced: torch.Tensor, log_probs: torch.Tensor, words: torch.Tensor, word_log_probs: torch.Tensor):
        """The beam extensions of one step, where rows with a forced word (forced (n,), <pad> for none) have one:
        beam 0 and that word, at its log-probability under the decoder (log_probs (n, W, V))."""
        forcing = (forced != self.config.pad_id)[:, None, None]  # (n, 1, 1)
        forced_log_prob = log_probs.gather(-1, forced[:, None, None].expand(-1, log_probs.size(1), 1))  # (n, W, 1)
        only = torch.full_like(word_log_probs, float("-inf"))
        only[:, 0, 0] = forced_log_prob[:, 0, 0]  # beam 0 is a forced row's only live beam
        said = torch.full_like(words, self.config.pad_id)
        said[:, 0, 0] = forced
        return torch.where(forcing, said, words), torch.where(forcing, only, word_log_probs)

    def _backtrack(self, history: list[BeamStep], num_steps, log_prob, batch_size: int, k: int, device) -> Generation:
        """Follow each row's best beam (beam 0) back to the start, collecting what it recorded. A row
        absent from a step had finished before it: its place there stays <pad>, probability 0."""
        size = (batch_size, len(history))
        tokens = torch.full(size, self.config.pad_id, dtype=torch.long, device=device)
        probs = torch.zeros(size, device=device)
        top_ids = torch.full((*size, k), self.config.pad_id, dtype=torch.long, device=device)
        top_probs = torch.zeros((*size, k), device=device)
        beam = torch.zeros(batch_size, 1, dtype=torch.long, device=device)  # (B, 1) each row's beam so far
        for t in reversed(range(len(history))):
            step = history[t]
            here = beam[step.rows]  # (n, 1)
            pick = here[..., None].expand(-1, -1, k)
            tokens[step.rows, t] = step.token.gather(1, here)[:, 0]
            probs[step.rows, t] = step.prob.gather(1, here)[:, 0]
            top_ids[step.rows, t] = step.top_ids.gather(1, pick)[:, 0]
            top_probs[step.rows, t] = step.top_probs.gather(1, pick)[:, 0]
            beam[step.rows] = step.parent.gather(1, here)
        return Generation(tokens, probs, top_ids, top_probs, num_steps, log_prob)

    # --- serialization: config.json (by the mixin) + model.safetensors in fp16, never pickle ---

    def _save_pretrained(self, save_directory) -> None:
        # fp16 storage halves the file (a Space rejects files over 10 MiB without LFS); upcast at load.
        state = {name: t.detach().to("cpu", torch.float16).contiguous() for name, t in self.state_dict().items()}
        save_file(state, os.path.join(save_directory, SAFETENSORS_SINGLE_FILE))

    @classmethod
    def _from_pretrained(cls, *, model_id: str, revision, map_location="cpu", strict=True, **options):
        download = {
            name: options.pop(name, None) for name in ("cache_dir", "force_download", "local_files_only", "token")
        }
        model = cls(**options)  # what is left: the config, as the mixin read it from config.json
        if os.path.isdir(model_id):
            path = os.path.join(model_id, SAFETENSORS_SINGLE_FILE)
        else:
            path = hf_hub_download(repo_id=model_id, filename=SAFETENSORS_SINGLE_FILE, revision=revision, **download)
        model.load_state_dict(load_file(path, device=str(map_location)), strict=strict)  # into fp32 parameters
        return model.eval()
