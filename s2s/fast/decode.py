"""`generate`: `Seq2Seq.generate`'s beam search, fast: the same words, probabilities within 1e-5.

The lesson's search (s2s/model.py) steps nn.GRU and takes a full log-softmax over the vocabulary for every beam
at every step. Here, for a one-layer model:
- the encoder is stepped by the decoder's own cell (`gru_cell.read`), longest rows first, each row stopping at its
  own last word as packing does: 3 operations a word where nn.GRU takes some twelve;
- the decoder step is `gru_cell`'s (its input gates looked up from a (V, 3H) table), and the ranking is
  `ranking`'s: each beam's best words and their log-probabilities without a (N, V) log-softmax;
- where s2s/fast/kernels.c is built, the search's bookkeeping is one C call a step (`beam_step`), at every width;
  elsewhere, at width 1, a greedy loop with the search taken out (`_greedy`).
What none of these covers (several layers, beams without the kernels, a search history, a forced prefix) falls
back to the lesson's own search. tests/test_model.py, test_native.py and test_beam_step.py hold the two equal.
"""

from __future__ import annotations

import threading

import torch
import torch.nn.functional as F

from ..model import Encoder, Generation, Seq2Seq, reverse_padded
from . import beam_step, gru_cell, native
from .ranking import TOPK_CHUNK, OutputLayer, ranker

# Decoding layouts of the weights are built one at a time (reentrant: a build may ask for another layout).
_LAYOUTS_LOCK = threading.RLock()


@torch.inference_mode()
def generate(
    model: Seq2Seq, src: torch.Tensor, lengths: torch.Tensor, top_k: int = 5, beam_width: int = 1, encoded=None
) -> Generation:
    """`model.generate(src, lengths, top_k, beam_width)`, by the fastest way this model and machine allow.

    encoded (L, B, H): `model.encode(src, lengths)`, where the caller has it already (the page's unpacked lesson
    measures those states too); the routes that fall back to the lesson's search encode again, to the same states."""
    config = model.config
    if config.num_layers != 1:
        return model.generate(src, lengths, top_k=top_k, beam_width=beam_width)
    lengths = lengths.to(src.device)
    k = min(top_k, config.vocab_size)
    encoded = encode(model, src, lengths) if encoded is None else encoded  # (1, B, H)
    if beam_step.usable(encoded):
        per_beam = min(beam_width, config.vocab_size)
        ids = (config.sos_id, config.eos_id, config.pad_id)
        rank = ranker(output_layer(model), max(per_beam, k))
        return Generation(*beam_step.search(cell_step(model), rank, encoded, lengths, beam_width, per_beam, k, ids))
    if beam_width == 1:
        return _greedy(model, encoded[0], lengths, k)
    return model.generate(src, lengths, top_k=top_k, beam_width=beam_width)


def encode(model: Seq2Seq, src: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """`model.encode` (1, B, H), stepped by the decoder's native cell where kernels.c is built. Rows sorted longest
    first, so the rows still reading at a step are a prefix, as packing does."""
    packed = type(model.encoder) is Encoder  # the stepped cell stops each row at its last word, as packing does
    if not packed or src.size(0) == 0 or not native.usable(src, lengths, model.encoder.rnn.weight_hh_l0):
        return model.encode(src, lengths)
    rnn = model.encoder.rnn
    weights = kept_until_changed(
        model,
        "encoder",
        (rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0, model.embedding.weight),
        lambda: gru_cell.CellWeights.of(rnn, model.embedding.weight),
    )
    if model.config.reverse_source:
        src = reverse_padded(src, lengths, model.config.pad_id)
    order = lengths.argsort(descending=True, stable=True)  # (B,)
    words = src[order].t().contiguous()  # (T, B): row t is every row's word t, longest rows first
    reading = (lengths[order][None, :] > torch.arange(src.size(1))[:, None]).sum(dim=1).tolist()  # rows at step t
    hidden = gru_cell.read(weights, words, reading)  # (B, H), longest first
    return torch.empty_like(hidden).index_copy_(0, order, hidden)[None]  # (1, B, H), rows in the original order


def cell_step(model: Seq2Seq):
    """The search's decoder step: (n,) words and (1, n, H) states -> the new states and the last layer's (n, H),
    which the ranking takes through the output layer (8% faster than a one-step nn.GRU call)."""
    stepper = gru_cell.stepper(step_weights(model))

    def step(token, hidden):
        new_hidden = stepper(token, hidden[0])
        return new_hidden[None], new_hidden

    return step


def _greedy(model: Seq2Seq, hidden: torch.Tensor, lengths: torch.Tensor, k: int) -> Generation:
    """Beam search at width 1 from the encoder's states (B, H), with the search taken out: each step is a GRU
    cell, the output layer, a top-k and a log-normaliser, and the records go straight into the result (nothing
    to backtrack). Where the kernels are built, `beam_step` does a step's bookkeeping in one call instead."""
    config = model.config
    batch_size, device = hidden.size(0), hidden.device
    step, rank = gru_cell.stepper(step_weights(model)), ranker(output_layer(model), k)
    num_steps = 2 * lengths + 1  # a row that never says <eos> stops at its limit
    limits = set(num_steps.tolist())  # the steps at which some row reaches its limit
    rows, limit = torch.arange(batch_size, device=device), num_steps.clone()
    token = torch.full((batch_size,), config.sos_id, dtype=torch.long, device=device)
    log_prob = torch.zeros(batch_size, device=device)
    # Each step's top-k (ids, log-probabilities) of the rows then live; the first id is the emitted token.
    # A run of steps over the same rows is written into the result with one copy (and one exp), after the loop.
    spans: list[tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]] = []
    for used in range(1, int(num_steps.max()) + 1 if batch_size else 1):
        hidden = step(token, hidden)  # (n, H)
        best_log_probs, best_ids = rank(hidden)  # (n, k)
        token = best_ids[:, 0]
        if not spans or spans[-1][0] is not rows:
            spans.append((rows, [], []))
        spans[-1][1].append(best_ids)
        spans[-1][2].append(best_log_probs)
        log_prob.index_add_(0, rows, best_log_probs[:, 0])
        done = token == config.eos_id
        if used in limits:
            done |= limit <= used
        if bool(done.any()):  # the stop test: the one host sync per step
            num_steps[rows[done]] = used
            live = ~done
            if not bool(live.any()):
                break
            rows, hidden, token, limit = rows[live], hidden[live], token[live], limit[live]
    steps = sum(len(ids) for _, ids, _ in spans)
    top_ids = torch.full((batch_size, steps, k), config.pad_id, dtype=torch.long, device=device)
    top_probs = torch.zeros(batch_size, steps, k, device=device)
    start = 0
    for span_rows, ids, span_log_probs in spans:
        end = start + len(ids)
        top_ids[span_rows, start:end] = torch.stack(ids, dim=1)
        top_probs[span_rows, start:end] = torch.stack(span_log_probs, dim=1).exp_()
        start = end
    return Generation(top_ids[..., 0], top_probs[..., 0], top_ids, top_probs, num_steps, log_prob)


# --- the weights laid out for decoding, made once and kept until they change ---


def kept_until_changed(model: Seq2Seq, name: str, sources: tuple[torch.Tensor, ...], build):
    """`build()`, made once and kept on the model until one of `sources` changes (training updates parameters in
    place, which bumps their version; `to()` moves them): decoding layouts of the weights, which cost as much as a
    decoder step to copy for every call. Built under a lock: threads decoding at once (a server's batcher and a
    program's own call) share one layout, and none is replaced while another thread has just taken it."""
    key = tuple((t.data_ptr(), t._version, t.device) for t in sources)
    kept = model.__dict__.setdefault("_kept_layouts", {})
    entry = kept.get(name)
    if entry is None or entry[0] != key:
        with _LAYOUTS_LOCK:
            entry = kept.get(name)
            if entry is None or entry[0] != key:
                entry = kept[name] = (key, build())
    return entry[1]


def step_weights(model: Seq2Seq) -> gru_cell.CellWeights:
    """The one-layer decoder's GRU weights laid out for `gru_cell`."""
    rnn = model.decoder.rnn
    return kept_until_changed(
        model,
        "step",
        (rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0, model.embedding.weight),
        lambda: gru_cell.CellWeights.of(rnn, model.embedding.weight),
    )


def output_layer(model: Seq2Seq) -> OutputLayer:
    """The projection and the tied output layer for `ranking`, the output layer's rows padded to a multiple of
    TOPK_CHUNK: a padding id's logit is -inf, so it is never chosen and adds nothing to the softmax's sum."""
    proj, weight, bias = model.decoder.proj, model.embedding.weight, model.out_bias
    pad = -weight.size(0) % TOPK_CHUNK
    return kept_until_changed(
        model,
        "output",
        (proj.weight, proj.bias, weight, bias),
        lambda: OutputLayer.of(
            proj.weight,
            proj.bias,
            F.pad(weight.detach(), (0, 0, 0, pad)),
            F.pad(bias.detach(), (0, pad), value=float("-inf")),
        ),
    )
