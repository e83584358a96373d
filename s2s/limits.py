"""Every limit and default of a request, in one place."""

import operator

MAX_SENTENCES = 128  # sentences (lines) in one request
MAX_CHARS = 20_000  # characters in one request
MAX_COMPARE_SENTENCES = 32  # the page's one-at-a-time comparison runs at most this many sentences alone
MAX_WORDS_PER_SENTENCE = 260  # ten times the blog's 26; longer sentences are chunked, so this only bounds work
MIN_TOP_K, MAX_TOP_K, DEFAULT_TOP_K = 1, 10, 5
# Candidate doublings kept per sentence while decoding (1 = greedy); each costs one more decoder row.
MIN_BEAM_WIDTH, MAX_BEAM_WIDTH, DEFAULT_BEAM_WIDTH = 1, 8, 2
# How WordDoubler.double cuts any number of sentences into forward passes (rows sorted by length):
# at most this many rows, and at most this many row-words x beams, so memory stays flat however many.
DEFAULT_BATCH_SIZE = 512
DEFAULT_MAX_BATCH_TOKENS = 16_384

# What a public server holds at once (app.py's launch and queue; s2s/serve/guard.py enforces the body and queue bounds).
# Sessions whose state and shown outputs the server keeps (oldest dropped first): a page keeps what it needs to
# redraw, API calls keep nothing once answered; sized for the visitors a demo Space sees at once.
SESSION_CAPACITY = 64
# Requests waiting for a worker, past the 32 being served; one more gets "busy" at once instead of a long wait.
MAX_QUEUED_REQUESTS = 64
# A request body: MAX_CHARS characters JSON-escaped as surrogate pairs are 12 bytes each (240 KB); 1 MiB leaves room.
MAX_BODY_BYTES = 1 << 20
MAX_FILE_SIZE = "1kb"  # the app takes no files; Gradio's own cap, behind the guard's refusal of every upload
BUSY = f"busy: {MAX_QUEUED_REQUESTS} requests are already waiting; try again in a moment"


def _check_whole_number(name: str, value, low: int, high: int) -> int:
    """The value as an int; integer-like numbers (numpy, 0-d torch tensors) are welcome, bools and floats are not."""
    try:
        number = None if isinstance(value, bool) else operator.index(value)
    except TypeError:
        number = None
    if number is None or not low <= number <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    return number


def check_top_k(top_k) -> int:
    return _check_whole_number("top_k", top_k, MIN_TOP_K, MAX_TOP_K)


def check_beam_width(beam_width) -> int:
    return _check_whole_number("beam_width", beam_width, MIN_BEAM_WIDTH, MAX_BEAM_WIDTH)


def check_sentence(sentence) -> None:
    """Raise ValueError saying what is wrong with one sentence, worded to follow "sentence 3 ..."."""
    if not isinstance(sentence, str):
        raise ValueError("is not text")
    words = len(sentence.split())
    if words == 0:
        raise ValueError("is empty: every sentence needs at least one word")
    if words > MAX_WORDS_PER_SENTENCE:
        raise ValueError(f"has {words} words, at most {MAX_WORDS_PER_SENTENCE} per sentence")


def check_each_sentence(sentences) -> None:
    """check_sentence for each, the message saying which: "sentence 3 is empty: ..."."""
    for number, sentence in enumerate(sentences, 1):
        try:
            check_sentence(sentence)
        except ValueError as error:
            raise ValueError(f"sentence {number} {error}") from None


def as_sentences(sentences) -> list[str]:
    """A string (one sentence) or a list or tuple of strings -> a list, checked as the library needs:
    text, at least one word, at most MAX_WORDS_PER_SENTENCE words. Any number of sentences."""
    if isinstance(sentences, str):
        sentences = [sentences]
    if not isinstance(sentences, (list, tuple)):
        raise ValueError(f"sentences must be a string or a list of strings, got {type(sentences).__name__}")
    check_each_sentence(sentences)
    return list(sentences)


def check_request(sentences: list[str], top_k: int, beam_width: int = DEFAULT_BEAM_WIDTH) -> None:
    """Raise ValueError naming the limit a request breaks; the message is meant for the user."""
    check_top_k(top_k)
    check_beam_width(beam_width)
    if not sentences:
        raise ValueError("no sentences given: write at least one sentence, one per line")
    if len(sentences) > MAX_SENTENCES:
        raise ValueError(f"too many sentences: {len(sentences)} given, at most {MAX_SENTENCES} per request")
    check_each_sentence(sentences)
    total = sum(len(s) for s in sentences)
    if total > MAX_CHARS:
        raise ValueError(f"too much text: {total:,} characters given, at most {MAX_CHARS:,} per request")


def check_unicode(text: str) -> None:
    """A lone surrogate (JSON's "\\ud800" decodes to one) cannot be sent back as UTF-8: refuse it before any work."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(
            f"the text is not valid Unicode: a lone surrogate U+{ord(text[error.start]):04X} at "
            f"character {error.start + 1}; send UTF-8 text"
        ) from None


def split_lines(text: str) -> list[str]:
    """A text box's content -> its non-blank lines (one sentence per line), checking the size first."""
    if not isinstance(text, str):
        raise ValueError("the input must be text, one sentence per line")
    if len(text) > MAX_CHARS:
        raise ValueError(f"too much text: {len(text):,} characters given, at most {MAX_CHARS:,} per request")
    check_unicode(text)
    return [line.strip() for line in text.splitlines() if line.strip()]
