"""What if we forgot to pack? The same batch encoded straight through its padding, and what the decoder makes of it."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from ..data import doubling_text
from ..doubler import WordDoubler, rows_of
from ..fast import generate
from ..limits import DEFAULT_BEAM_WIDTH, check_beam_width, check_request
from ..model import Seq2Seq, UnpackedEncoder


class ForgotToPack(Seq2Seq):
    """A model's weights (shared, not copied) behind the unpacked encoder: `generate` (the lesson's search, which
    encodes with `self.encoder`) and everything else as usual."""

    def __init__(self, model: Seq2Seq):
        nn.Module.__init__(self)  # not Seq2Seq.__init__: it would make new weights
        self.config = model.config
        self.embedding, self.decoder, self.out_bias = model.embedding, model.decoder, model.out_bias
        self.encoder = UnpackedEncoder(model.encoder.rnn)


@dataclass
class UnpackedView:
    """One request's batch encoded both ways. A row is a sentence, or one chunk of a long one."""

    sentences: list[str]
    row_sentence: list[int]  # (B,) the sentence each row belongs to
    row_chunk: list[int]  # (B,) which chunk of its sentence the row is
    lengths: list[int]  # (B,) true words per row
    pads_read: list[int]  # (B,) <pad> steps the unpacked GRU ran after the row's last word
    distance: list[float]  # (B,) |h_unpacked - h_packed| / |h_packed|, the final states over all layers
    rows: list[str]  # (B,) each row's source text
    outputs: list[str]  # (B,) what the decoder writes from the unpacked state
    exact: list[bool]  # (B,) whether that is still the row's exact doubling
    beam_width: int

    @property
    def sentence_outputs(self) -> list[str]:
        """Per sentence: its rows' unpacked outputs, joined as the library joins chunks."""
        joined = [""] * len(self.sentences)
        for sentence, output in zip(self.row_sentence, self.outputs):
            joined[sentence] = f"{joined[sentence]} {output}".strip()
        return joined

    @property
    def sentence_exact(self) -> list[bool]:
        return [output == doubling_text(s) for s, output in zip(self.sentences, self.sentence_outputs)]


@torch.inference_mode()
def unpacked_view(wd: WordDoubler, sentences: list[str], beam_width: int = DEFAULT_BEAM_WIDTH) -> UnpackedView:
    """Encode the request's rows with and without packing, and decode every row from its unpacked state.

    One extra pass over the batch, as the page's request ran it (all rows in one padded batch, like
    `WordDoubler.double_batch`): with packing the outputs would be the request's own results.
    """
    beam_width = check_beam_width(beam_width)
    check_request(sentences, 1, beam_width)  # the same size limits as a request: this pass is as big as one
    rows, row_sentence, row_chunk = rows_of(sentences, wd.max_src_len)
    batch = wd.tokenizer.encode_batch(rows)
    src, lengths = batch.src.to(wd.device), batch.lengths
    forgot = ForgotToPack(wd.model)
    packed = wd.model.encode(src, lengths)  # (L, B, H)
    unpacked = forgot.encode(src, lengths)  # (L, B, H)
    distance = (unpacked - packed).norm(dim=(0, 2)) / packed.norm(dim=(0, 2)).clamp(min=1e-12)  # (B,)
    # The lesson is the encoder: the search itself may be the fast one, from the unpacked states.
    generation = generate(forgot, src, lengths, top_k=1, beam_width=beam_width, encoded=unpacked)
    tokens, steps = generation.tokens.cpu().tolist(), generation.num_steps.tolist()
    outputs = [wd.tokenizer.decode(row[:n], slots) for row, n, slots in zip(tokens, steps, batch.slots)]
    width = src.size(1)
    return UnpackedView(
        sentences=list(sentences),
        row_sentence=row_sentence,
        row_chunk=row_chunk,
        lengths=lengths.tolist(),
        pads_read=[width - n for n in lengths.tolist()],
        distance=distance.cpu().tolist(),
        rows=rows,
        outputs=outputs,
        exact=[output == doubling_text(row) for row, output in zip(rows, outputs)],
        beam_width=beam_width,
    )
