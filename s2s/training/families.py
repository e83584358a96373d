"""Sentence families: what people actually type into a demo, as named generators for training and evaluation.

Each family is a function (rng, tokenizer, n) -> a sentence of exactly n words. Training encodes them
with the tokenizer (so slots are assigned exactly as at serving time) and evaluation doubles them
through WordDoubler with fresh seeds. The random mix the model was first trained on is one family
among them, so a model selected on all of them cannot trade it away.
"""

from __future__ import annotations

import functools
import itertools
import random
import string
from collections.abc import Callable

from ..data import random_text_sentence
from ..tokenizer import WordTokenizer

Family = Callable[[random.Random, WordTokenizer, int], str]

_LETTERS = string.ascii_lowercase
_SYLLABLES = [
    "lo",
    "rem",
    "ip",
    "sum",
    "do",
    "lor",
    "sit",
    "am",
    "et",
    "con",
    "sec",
    "te",
    "tur",
    "ad",
    "pi",
    "scing",
    "el",
    "it",
    "sed",
    "eius",
    "mod",
    "tem",
    "por",
    "in",
    "ci",
    "di",
    "dunt",
    "ut",
    "la",
    "bo",
    "re",
    "ma",
    "gna",
    "ali",
    "qua",
    "ve",
    "ni",
    "am",
    "qui",
    "nos",
    "trud",
    "ex",
    "er",
    "ta",
    "ti",
    "on",
]
_SCRIPTS = [
    "абвгдежзиклмнопрстуфхцчшщыэюя",
    "αβγδεζηθικλμνξοπρστυφχψω",
    "अआइईउऊएऐओकखगघचछजझटठडढणतथदधनपफबभमयरलवशसह",
    "日本語中文字漢明月山川水火木金土人大小上下東京",
    "ابتثجحخدذرزسشصضطظعغفقكلمنهوي",
    "אבגדהוזחטיכלמנסעפצקרשת",
    "가나다라마바사아자차카타파하한국어서울",
]
_EMOJI = ["🙂", "🚀", "🔥", "🎉", "👍", "🐍", "❤️", "🤖", "🌍", "☕", "😂", "✨", "🍕", "🎵", "💯"]
_PUNCTUATION = ".,!?;:…"


def _name(rng: random.Random) -> str:
    return rng.choice(_LETTERS).upper() + "".join(rng.choices(_LETTERS, k=rng.randint(2, 8)))


def _foreign(rng: random.Random) -> str:
    if rng.random() < 0.5:  # Latin-looking, as in Lorem ipsum
        return "".join(rng.choices(_SYLLABLES, k=rng.randint(1, 4)))
    return "".join(rng.choices(rng.choice(_SCRIPTS), k=rng.randint(1, 7)))


def _code(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(rng.choices(alphabet, k=rng.randint(3, 10))) + rng.choice(["", "-", "_", "()", ".py", "=1", "[0]"])


def _handle(rng: random.Random) -> str:
    return rng.choice("@#") + "".join(rng.choices(_LETTERS + string.digits + "_", k=rng.randint(3, 12)))


def _number(rng: random.Random) -> str:
    value = rng.randint(0, 10 ** rng.randint(1, 9))
    return rng.choice([str(value), f"{value:,}", f"{value / 100:.2f}", f"${value}", f"{value}%", f"#{value}"])


def _emoji(rng: random.Random) -> str:
    return "".join(rng.choices(_EMOJI, k=rng.randint(1, 3)))


def _punctuated(rng: random.Random) -> str:
    return "".join(rng.choices(_LETTERS, k=rng.randint(2, 9))) + rng.choice(_PUNCTUATION)


_UNKNOWN_KINDS = [_name, _foreign, _code, _handle, _number, _emoji, _punctuated]


def unknown_word(rng: random.Random, tokenizer: WordTokenizer) -> str:
    """A word outside the vocabulary: a name, a foreign word, a code, a handle or hashtag, a number, emoji."""
    while True:
        word = rng.choice(_UNKNOWN_KINDS)(rng)
        if word not in tokenizer.stoi:
            return word


def distinct(n: int, draw: Callable[[], str]) -> list[str]:
    """n different words from draw(), in the order first drawn."""
    words: dict[str, None] = {}
    while len(words) < n:
        words[draw()] = None
    return list(words)


def distinct_unknown_words(rng: random.Random, tokenizer: WordTokenizer, n: int) -> list[str]:
    return distinct(n, lambda: unknown_word(rng, tokenizer))


def any_word(rng: random.Random, tokenizer: WordTokenizer) -> str:
    """A vocabulary word in any case (lower, Capitalised, UPPER: the last two are often unknown), or an unknown one."""
    if rng.random() < 0.3:
        return unknown_word(rng, tokenizer)
    word = rng.choice(tokenizer.words)
    case = rng.random()
    return word.upper() if case < 0.15 else word.capitalize() if case < 0.3 else word


def distinct_words(rng: random.Random, tokenizer: WordTokenizer, n: int) -> list[str]:
    return distinct(n, lambda: any_word(rng, tokenizer))


# --- the families ---


def one_word_run(rng: random.Random, tokenizer: WordTokenizer, n: int) -> str:
    """One word said n times: "no no no no no no"."""
    return " ".join([any_word(rng, tokenizer)] * n)


def several_runs(rng: random.Random, tokenizer: WordTokenizer, n: int) -> str:
    """Runs of different words one after another: "yes yes yes no no no no", "very very very good"."""
    lengths, left = [], n
    while left:
        run = min(left, rng.choice([1, 2, 2, 3, 3, 4, 5, 6, 8, 10, 13]))
        lengths.append(run)
        left -= run
    words = distinct_words(rng, tokenizer, len(lengths))
    return " ".join(word for word, run in zip(words, lengths) for _ in range(run))


def repeated_phrase(rng: random.Random, tokenizer: WordTokenizer, n: int) -> str:
    """A phrase of 2-6 words said again and again, the last time perhaps cut short: "the cat the cat the"."""
    phrase = distinct_words(rng, tokenizer, rng.randint(2, 6))
    return " ".join(phrase[i % len(phrase)] for i in range(n))


def all_unknown(rng: random.Random, tokenizer: WordTokenizer, n: int) -> str:
    """n distinct words outside the vocabulary (a list of names, foreign text, codes): every slot in use."""
    return " ".join(distinct_unknown_words(rng, tokenizer, n))


def any_unknown_share(rng: random.Random, tokenizer: WordTokenizer, n: int) -> str:
    """Vocabulary words and unknown ones (sometimes repeated), the unknown share anywhere from 0 to 100%."""
    share, unknown, words = rng.random(), [], []
    for _ in range(n):
        if rng.random() < share:
            if unknown and rng.random() < 0.2:
                words.append(rng.choice(unknown))
            else:
                word = unknown_word(rng, tokenizer)
                unknown.append(word)
                words.append(word)
        else:
            words.append(rng.choice(tokenizer.words))
    return " ".join(words)


def counting(rng: random.Random, tokenizer: WordTokenizer, n: int) -> str:
    """Number sequences: "1 2 3 ...", "10 9 8 ...", every other, years, prices, percentages, ordinals."""
    step = rng.choice([1, 1, 1, -1, -1, 2, 5, 10, -10, 100])
    kind = rng.choice(["plain", "plain", "year", "price", "percent", "ordinal", "decimal"])
    start = {"year": rng.randint(1900, 2030), "ordinal": rng.randint(1, 20)}.get(
        kind, rng.choice([0, 1, 1, 1, rng.randint(0, 1000)])
    )
    if step < 0:
        start += -step * (n - 1)  # count down to around zero, as people do
    numbers = [start + step * i for i in range(n)]
    if kind == "ordinal":
        numbers = [abs(v) for v in numbers]
    form = {
        "price": lambda v: f"${v}",
        "percent": lambda v: f"{v}%",
        "decimal": lambda v: f"{v / 10:.1f}",
        "ordinal": lambda v: f"{v}{'th' if 10 <= v % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(v % 10, 'th')}",
    }.get(kind, str)
    return " ".join(form(v) for v in numbers)


def letters(rng: random.Random, tokenizer: WordTokenizer, n: int) -> str:
    """Single letters and short all-caps tokens: "A B C ...", "a b c", "AAAA BBBB ...", "NASA FBI ..."."""
    kind = rng.choice(["alphabet", "alphabet", "random", "repeated", "acronyms"])
    alphabet = string.ascii_uppercase if rng.random() < 0.7 else string.ascii_lowercase
    if kind == "alphabet":
        start = rng.choice([0, 0, rng.randrange(26)])
        return " ".join(alphabet[(start + i) % 26] for i in range(n))
    if kind == "random":
        return " ".join(rng.choices(alphabet, k=n))
    if kind == "repeated":
        size, start = rng.randint(2, 5), rng.randrange(26)
        return " ".join(alphabet[(start + i) % 26] * size for i in range(n))
    return " ".join("".join(rng.choices(string.ascii_uppercase, k=rng.randint(2, 5))) for _ in range(n))


@functools.lru_cache(maxsize=4)
def _by_frequency(tokenizer: WordTokenizer) -> tuple[list[str], list[float]]:
    """The vocabulary's lowercase words in frequency order with cumulative Zipf weights 1/rank: "the", "to",
    "and" come again and again within a sentence, as in English."""
    words = [w for w in tokenizer.words if not w[:1].isupper()]
    return words, list(itertools.accumulate(1.0 / rank for rank in range(1, len(words) + 1)))


def english_like(rng: random.Random, tokenizer: WordTokenizer, n: int) -> str:
    """Prose: words by their English frequency (function words repeat), a capital first word, some words with
    punctuation attached ("else," "right.": unknown to the vocabulary), now and then a name."""
    pool, cumulative = _by_frequency(tokenizer)
    words = rng.choices(pool, cum_weights=cumulative, k=n)
    for i in range(n):
        if rng.random() < 0.05:
            words[i] = _name(rng)
        elif rng.random() < 0.12:
            words[i] += rng.choice(",,,..!?;:")
    words[0] = words[0][:1].upper() + words[0][1:]
    return " ".join(words)


def already_doubled(rng: random.Random, tokenizer: WordTokenizer, n: int) -> str:
    """Text whose words already come in pairs, as a pasted-back output: "I I love love CUDA CUDA". Its doubling
    says each word four times; an odd n ends on half a pair."""
    family = rng.choice(_PASTABLE)
    half = family(rng, tokenizer, (n + 1) // 2).split()
    return " ".join([word for word in half for _ in (0, 1)][:n])


def random_mix(rng: random.Random, tokenizer: WordTokenizer, n: int) -> str:
    """The original random mix: vocabulary words with about one unknown word in five."""
    return random_text_sentence(rng, tokenizer, n)


# The families a pasted-back output may come from (not "doubled" itself: its doubling says a word 8 times).
_PASTABLE: list[Family] = [
    one_word_run,
    several_runs,
    repeated_phrase,
    all_unknown,
    any_unknown_share,
    counting,
    letters,
    random_mix,
    english_like,
]

FAMILIES: dict[str, Family] = {
    "run": one_word_run,
    "runs": several_runs,
    "phrase": repeated_phrase,
    "unknown": all_unknown,
    "unknown_share": any_unknown_share,
    "counting": counting,
    "letters": letters,
    "random": random_mix,
    "english": english_like,
    "doubled": already_doubled,
}
