"""s2s: a batched GRU encoder-decoder that doubles every word of a sentence. Importing it starts nothing."""

from .doubler import WordDoubler
from .model import Generation, Seq2Seq, Seq2SeqConfig
from .results import DoubleResult, Step
from .tokenizer import WordTokenizer

__all__ = ["WordDoubler", "DoubleResult", "Step", "Seq2Seq", "Seq2SeqConfig", "Generation", "WordTokenizer"]
