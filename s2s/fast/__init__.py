"""The same decoding as the lesson's `Seq2Seq.generate`, fast: native kernels (kernels.c through `native`), the
decoder's cell stepped by hand (`gru_cell`), a ranking without a full softmax (`ranking`), the beam search's
bookkeeping in one C call a step (`beam_step`), and the route choice (`decode.generate`), which falls back to the
lesson's search for what it does not cover."""

from .decode import generate

__all__ = ["generate"]
