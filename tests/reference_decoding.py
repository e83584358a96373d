"""The beam search as it was before the decode loop was made fast: one full-vocabulary log-softmax per
step, every row in the working batch until all are done. Tests check the fast path against it."""

from dataclasses import dataclass

import torch

from s2s.model import Generation


@dataclass
class _BeamStep:
    parent: torch.Tensor  # (B, W)
    token: torch.Tensor  # (B, W)
    prob: torch.Tensor  # (B, W)
    top_ids: torch.Tensor  # (B, W, k)
    top_probs: torch.Tensor  # (B, W, k)


@torch.no_grad()
def reference_generate(self, src: torch.Tensor, lengths: torch.Tensor, top_k: int = 5, beam_width: int = 1) -> Generation:
    """Beam search over the whole batch at once (greedy decoding at width 1), recording the
    decoder's top-k at every step of each row's chosen sequence.

    Every row keeps its own `beam_width` beams, ranked by the log-probability of the words so
    far, and may take at most 2 * length + 1 steps (its doubling and <eos>): nothing a row does
    depends on its companions in the batch. A finished beam emits <pad> at no cost, so it keeps
    its score; as scores only fall, a row is done once its best beam has finished, and the loop
    ends when every row is done.
    """
    batch_size, vocab_size, device = src.size(0), self.config.vocab_size, src.device
    width, k = beam_width, min(top_k, vocab_size)
    per_beam = min(width, vocab_size)  # extensions of one beam worth ranking
    lengths = lengths.to(device)
    hidden = self.encode(src, lengths).repeat_interleave(width, dim=1)  # (L, B*W, H), row-major
    step_limit = (2 * lengths + 1)[:, None]  # (B, 1)
    # All beams start as the same <sos>; only the first is live, so the first step fans out from it.
    score = torch.full((batch_size, width), float("-inf"), device=device)
    score[:, 0] = 0.0
    token = torch.full((batch_size, width), self.config.sos_id, dtype=torch.long, device=device)
    finished = torch.zeros(batch_size, width, dtype=torch.bool, device=device)
    num_steps = torch.zeros(batch_size, width, dtype=torch.long, device=device)
    done = torch.zeros(batch_size, dtype=torch.bool, device=device)
    keep = torch.arange(width, device=device).expand(batch_size, width)  # a done row's beams stay put
    row_offset = torch.arange(batch_size, device=device)[:, None] * width
    history: list[_BeamStep] = []
    for _ in range(int(step_limit.max()) if batch_size else 0):
        log_probs, new_hidden = self.decode(token.view(-1, 1), hidden)
        log_probs = log_probs.view(batch_size, width, vocab_size)
        # A row's best `width` extensions are among each beam's own best `width` words, so only
        # those are ranked: (B, W, W) candidates instead of (B, W, V).
        top_log_probs, top_ids = log_probs.topk(max(per_beam, k), dim=-1)  # (B, W, max(W, k))
        words, word_log_probs = top_ids[..., :per_beam], top_log_probs[..., :per_beam]
        candidates = score[..., None] + word_log_probs
        # A finished beam extends only by <pad>, at no cost, so it keeps its score and its place.
        stay = torch.full_like(candidates, float("-inf"))
        stay[..., 0] = score
        candidates = torch.where(finished[..., None], stay, candidates)
        words = words.masked_fill(finished[..., None], self.config.pad_id)
        best, flat = candidates.view(batch_size, -1).topk(width, dim=-1)  # (B, W), best first
        score = torch.where(done[:, None], score, best)
        parent = torch.where(done[:, None], keep, flat // per_beam)
        token = torch.where(done[:, None], self.config.pad_id, words.view(batch_size, -1).gather(1, flat))
        chosen_log_prob = word_log_probs.reshape(batch_size, -1).gather(1, flat)
        parent_finished = finished.gather(1, parent)
        index = (row_offset + parent).view(-1)  # each new beam's parent among the B*W
        hidden = torch.where(parent_finished.view(1, -1, 1), hidden[:, index], new_hidden[:, index])
        # What each new beam's parent believed at this step: the tables the page shows.
        from_parent = parent[..., None].expand(-1, -1, k)
        history.append(
            _BeamStep(
                parent=parent,
                token=token,
                prob=chosen_log_prob.exp().masked_fill(parent_finished, 0.0),
                top_ids=top_ids[..., :k].gather(1, from_parent).masked_fill(parent_finished[..., None], self.config.pad_id),
                top_probs=top_log_probs[..., :k].gather(1, from_parent).exp().masked_fill(parent_finished[..., None], 0.0),
            )
        )
        num_steps = num_steps.gather(1, parent) + (~parent_finished).long()
        finished = parent_finished | (token == self.config.eos_id) | (num_steps >= step_limit)
        done |= finished[:, 0]
        if bool(done.all()):
            break
    return _reference_backtrack(self, history, num_steps[:, 0], score[:, 0], batch_size, k, device)


def _reference_backtrack(self, history: list[_BeamStep], num_steps, log_prob, batch_size: int, k: int, device) -> Generation:
    """Follow each row's best beam (beam 0) back to the start, collecting what it recorded."""
    beam = torch.zeros(batch_size, 1, dtype=torch.long, device=device)
    steps = []
    for step in reversed(history):
        pick = beam[..., None].expand(-1, -1, k)
        steps.append((step.token.gather(1, beam), step.prob.gather(1, beam),
                      step.top_ids.gather(1, pick), step.top_probs.gather(1, pick)))
        beam = step.parent.gather(1, beam)
    if not steps:  # an empty batch
        empty = torch.zeros(batch_size, 0, dtype=torch.long, device=device)
        return Generation(empty, empty.float(), empty[..., None], empty[..., None].float(), num_steps, log_prob)
    tokens, probs, top_ids, top_probs = (torch.cat(parts[::-1], dim=1) for parts in zip(*steps))
    return Generation(tokens, probs, top_ids, top_probs, num_steps, log_prob)
