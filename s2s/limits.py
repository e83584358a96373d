"""Every limit and default of a request, in one place."""

MAX_SENTENCES = 128  # sentences (lines) in one request
MAX_CHARS = 20_000  # characters in one request
MAX_WORDS_PER_SENTENCE = 260  # ten times the blog's 26; longer sentences are chunked, so this only bounds work
MIN_TOP_K, MAX_TOP_K, DEFAULT_TOP_K = 1, 10, 5


def check_top_k(top_k) -> None:
    if not isinstance(top_k, int) or isinstance(top_k, bool) or not MIN_TOP_K <= top_k <= MAX_TOP_K:
        raise ValueError(f"top_k must be a whole number from {MIN_TOP_K} to {MAX_TOP_K}, got {top_k!r}")


def check_sentence(sentence) -> None:
    """Raise ValueError saying what is wrong with one sentence, worded to follow "sentence 3 ..."."""
    if not isinstance(sentence, str):
        raise ValueError("is not text")
    words = len(sentence.split())
    if words == 0:
        raise ValueError("is empty: every sentence needs at least one word")
    if words > MAX_WORDS_PER_SENTENCE:
        raise ValueError(f"has {words} words, at most {MAX_WORDS_PER_SENTENCE} per sentence")


def check_request(sentences: list[str], top_k: int) -> None:
    """Raise ValueError naming the limit a request breaks; the message is meant for the user."""
    check_top_k(top_k)
    if not sentences:
        raise ValueError("no sentences given: write at least one sentence, one per line")
    if len(sentences) > MAX_SENTENCES:
        raise ValueError(f"too many sentences: {len(sentences)} given, at most {MAX_SENTENCES} per request")
    for number, sentence in enumerate(sentences, 1):
        try:
            check_sentence(sentence)
        except ValueError as error:
            raise ValueError(f"sentence {number} {error}") from None
    total = sum(len(s) for s in sentences)
    if total > MAX_CHARS:
        raise ValueError(f"too much text: {total:,} characters given, at most {MAX_CHARS:,} per request")


def split_lines(text: str) -> list[str]:
    """A text box's content -> its non-blank lines (one sentence per line), checking the size first."""
    if not isinstance(text, str):
        raise ValueError("the input must be text, one sentence per line")
    if len(text) > MAX_CHARS:
        raise ValueError(f"too much text: {len(text):,} characters given, at most {MAX_CHARS:,} per request")
    return [line.strip() for line in text.splitlines() if line.strip()]
