"""The GRU encoder-decoder: config, encoder, decoder, and the whole model with batched greedy decoding."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin, hf_hub_download
from huggingface_hub.constants import SAFETENSORS_SINGLE_FILE
from safetensors.torch import load_file, save_file
from torch.nn.utils.rnn import pack_padded_sequence

from .tokenizer import EOS_ID, PAD_ID, SOS_ID


@dataclass
class Seq2SeqConfig:
    vocab_size: int = 5029
    # Small embeddings, tied to the output layer: the projection over the vocabulary
    # dominates the cost per token, so it goes through `embed_size`, not `hidden_size`.
    embed_size: int = 128
    # The whole sentence must fit in this one vector (no attention): it sets the length we can copy.
    hidden_size: int = 512
    num_layers: int = 1
    # Fixed random word vectors: the network learns to copy *any* vector instead of learning each of
    # thousands of words it sees rarely; random vectors in this many dimensions are far apart.
    freeze_embedding: bool = False
    dropout: float = 0.0
    # Longest sentence doubled in one row; longer ones are split into chunks by WordDoubler.
    max_src_len: int = 26
    # Feed the source reversed, so the first word to emit is the last one read (Sutskever et al. 2014).
    reverse_source: bool = True
    pad_id: int = PAD_ID
    sos_id: int = SOS_ID
    eos_id: int = EOS_ID


@dataclass
class Generation:
    """What greedy decoding produced, step by step, for a batch."""

    tokens: torch.Tensor  # (B, S) emitted ids; PAD after a row has finished
    probs: torch.Tensor  # (B, S) probability of each emitted id
    top_ids: torch.Tensor  # (B, S, k) best ids at each step, best first
    top_probs: torch.Tensor  # (B, S, k) their probabilities
    num_steps: torch.Tensor  # (B,) steps each row actually took, its <eos> included


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

    def decode(self, tgt_in: torch.Tensor, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features, hidden = self.decoder(self.embedding(tgt_in), hidden)  # (B, S, E)
        logits = F.linear(features, self.embedding.weight, self.out_bias)  # (B, S, V), tied weights
        return F.log_softmax(logits, dim=-1), hidden

    def forward(self, src: torch.Tensor, lengths: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: the whole target in one decoder GRU call. Returns log-probs (B, S, V)."""
        log_probs, _ = self.decode(tgt_in, self.encode(src, lengths))
        return log_probs

    @torch.no_grad()
    def generate(self, src: torch.Tensor, lengths: torch.Tensor, top_k: int = 5) -> Generation:
        """Greedy decoding of the whole batch at once, recording the top-k at every step.

        Each row may take at most 2 * length + 1 steps (its doubling and <eos>), so a row's
        steps never depend on how long its companions in the batch are. A finished row
        emits <pad> and keeps its hidden state; the loop ends when every row is finished.
        """
        batch_size = src.size(0)
        lengths = lengths.to(src.device)
        hidden = self.encode(src, lengths)
        step_limit = 2 * lengths + 1  # (B,)
        token = torch.full((batch_size,), self.config.sos_id, dtype=torch.long, device=src.device)
        finished = torch.zeros(batch_size, dtype=torch.bool, device=src.device)
        num_steps = torch.zeros(batch_size, dtype=torch.long, device=src.device)
        k = min(top_k, self.config.vocab_size)
        tokens, probs, top_ids, top_probs = [], [], [], []
        for step in range(int(step_limit.max()) if batch_size else 0):
            log_probs, new_hidden = self.decode(token[:, None], hidden)
            step_probs = log_probs[:, 0].exp()  # (B, V)
            best_probs, best_ids = step_probs.topk(k, dim=-1)  # (B, k)
            active = ~finished
            token = torch.where(active, best_ids[:, 0], self.config.pad_id)
            hidden = torch.where(active[None, :, None], new_hidden, hidden)
            tokens.append(token)
            probs.append(torch.where(active, best_probs[:, 0], 0.0))
            top_ids.append(best_ids.masked_fill(~active[:, None], self.config.pad_id))
            top_probs.append(best_probs.masked_fill(~active[:, None], 0.0))
            num_steps += active.long()
            finished |= (token == self.config.eos_id) | (num_steps >= step_limit)
            if bool(finished.all()):
                break
        if not tokens:  # an empty batch
            empty = torch.zeros(batch_size, 0, dtype=torch.long, device=src.device)
            return Generation(empty, empty.float(), empty[..., None], empty[..., None].float(), num_steps)
        return Generation(
            tokens=torch.stack(tokens, 1),
            probs=torch.stack(probs, 1),
            top_ids=torch.stack(top_ids, 1),
            top_probs=torch.stack(top_probs, 1),
            num_steps=num_steps,
        )

    # --- serialization: config.json (by the mixin) + model.safetensors in fp16, never pickle ---

    def _save_pretrained(self, save_directory) -> None:
        # fp16 storage halves the file (a Space rejects files over 10 MiB without LFS); upcast at load.
        state = {name: t.detach().to("cpu", torch.float16).contiguous() for name, t in self.state_dict().items()}
        save_file(state, os.path.join(save_directory, SAFETENSORS_SINGLE_FILE))

    @classmethod
    def _from_pretrained(
        cls,
        *,
        model_id: str,
        revision: str | None,
        cache_dir,
        force_download: bool,
        local_files_only: bool,
        token,
        map_location: str = "cpu",
        strict: bool = True,
        **model_kwargs,
    ):
        model = cls(**model_kwargs)
        if os.path.isdir(model_id):
            path = os.path.join(model_id, SAFETENSORS_SINGLE_FILE)
        else:
            path = hf_hub_download(
                repo_id=model_id,
                filename=SAFETENSORS_SINGLE_FILE,
                revision=revision,
                cache_dir=cache_dir,
                force_download=force_download,
                local_files_only=local_files_only,
                token=token,
            )
        state = load_file(path, device=str(map_location))
        model.load_state_dict(state, strict=strict)  # copies into fp32 parameters
        return model.eval()
