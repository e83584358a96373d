"""The loss seen other ways: per sentence, unmasked (the tutorials' mistake), and each row's worst token.

The masked NLL itself, the one training minimises, is the lesson's: `s2s.model.masked_nll`."""

from __future__ import annotations

import torch

from .model import masked_nll, token_nll  # the lesson's definition, with the model

__all__ = ["masked_nll", "per_sentence_nll", "token_nll", "unmasked_nll", "worst_token_nll"]


def per_sentence_nll(log_probs: torch.Tensor, target: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Mean NLL of each row over its own non-pad targets: (B,)."""
    mask = target != pad_id
    return (token_nll(log_probs, target) * mask).sum(1) / mask.sum(1).clamp(min=1)


def unmasked_nll(log_probs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The mean that counts <pad> targets too: what a tutorial without a mask would minimise."""
    return token_nll(log_probs, target).mean()


def worst_token_nll(log_probs: torch.Tensor, target: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Each row's largest NLL over its non-pad targets: (B,). One unlikely token is enough to get a
    sentence wrong, so this, not the mean, says which sentences are nearest to a mistake."""
    return token_nll(log_probs, target).masked_fill(target == pad_id, 0.0).max(1).values
