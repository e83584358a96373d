"""Sentence families: each generator yields what it promises, and the training mix encodes them as the tokenizer
would."""

import random
import re

import pytest
from helpers import tiny_tokenizer

from s2s.tokenizer import WordTokenizer
from s2s.training.families import FAMILIES
from s2s.training.mix import FamilyMix, family_sources, parse_mix

LENGTHS = [1, 2, 3, 7, 13, 25, 26, 40, 52]


@pytest.fixture(scope="module")
def tok():
    # Enough English-looking words that "not in the vocabulary" means something; 26 slots as shipped.
    words = ["the", "a", "no", "yes", "I", "love", "1", "2", "10", "A"] + [f"w{i}" for i in range(300)]
    return WordTokenizer(words, num_slots=26)


def sample(family, tok, n, count=40, seed=0):
    rng = random.Random(seed)
    return [FAMILIES[family](rng, tok, n).split() for _ in range(count)]


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_family_yields_exactly_n_words(family, tok):
    for n in LENGTHS:
        assert all(len(words) == n for words in sample(family, tok, n, count=10))


def test_a_run_is_one_word_said_n_times_in_any_case_and_vocabulary(tok):
    runs = sample("run", tok, 9, count=300)
    assert all(len(set(words)) == 1 for words in runs)
    firsts = [words[0] for words in runs]
    assert any(w in tok.stoi for w in firsts) and any(w not in tok.stoi for w in firsts)
    assert any(w.isupper() and len(w) > 1 for w in firsts)


def test_several_runs_are_different_words_one_after_another(tok):
    for words in sample("runs", tok, 20, count=100):
        groups = [w for i, w in enumerate(words) if i == 0 or words[i - 1] != w]
        assert len(groups) == len(set(groups))  # each word has one run
    assert any(max(map(words.count, words)) >= 3 for words in sample("runs", tok, 20, count=20))


def test_a_repeated_phrase_has_a_period_of_two_to_six_words(tok):
    for words in sample("phrase", tok, 30, count=100):
        period = next(p for p in range(2, 7) if all(words[i] == words[i % p] for i in range(len(words))))
        assert len(set(words[:period])) == period


def test_all_unknown_fills_every_slot_with_distinct_words(tok):
    for words in sample("unknown", tok, 26, count=50):
        assert len(set(words)) == 26 and not any(w in tok.stoi for w in words)
        ids, slots = tok.encode(" ".join(words))
        assert len(slots) == tok.num_slots  # every slot the tokenizer has


def test_unknown_share_spans_none_to_all(tok):
    shares = [
        sum(w not in tok.stoi for w in words) / len(words) for words in sample("unknown_share", tok, 20, count=300)
    ]
    assert min(shares) <= 0.1 and max(shares) >= 0.9 and 0.3 < sum(shares) / len(shares) < 0.7


def test_counting_is_an_arithmetic_sequence(tok):
    for words in sample("counting", tok, 12, count=200):
        numbers = [float(re.sub(r"[^0-9.]", "", re.sub(r"(st|nd|rd|th)$", "", w))) for w in words]
        steps = {round(b - a, 6) for a, b in zip(numbers, numbers[1:])}
        assert len(steps) == 1 and steps != {0}, words


def test_letters_are_letters(tok):
    for words in sample("letters", tok, 30, count=100):
        assert all(w.isalpha() and w.isascii() and (w.isupper() or w.islower()) and len(w) <= 5 for w in words)
    alphabets = sample("letters", tok, 26, count=200, seed=3)
    assert [chr(ord("A") + i) for i in range(26)] in alphabets  # "A B C ... Z", as people type it


def test_the_training_mix_encodes_like_the_tokenizer_and_keeps_the_random_mix():
    tok = tiny_tokenizer(num_slots=8)
    only_unknown = FamilyMix(tok, seed=1, mix={"unknown": 1.0})
    for _ in range(20):
        ids = only_unknown.sentence(8)
        assert ids == [3 + i for i in range(8)]  # 8 distinct unknown words take the 8 slots in order
    mixed = FamilyMix(tok, seed=1, mix=parse_mix("random=0.5,run=0.5"))
    batch = mixed.batch([5] * 64)
    assert batch.src.shape == (64, 5) and (batch.lengths == 5).all()
    assert any(len(set(row.tolist())) == 1 for row in batch.src) and any(
        len(set(row.tolist())) > 1 for row in batch.src
    )


def test_a_mix_names_only_known_families():
    assert parse_mix("random=0.4, run=0.6") == {"random": 0.4, "run": 0.6}
    with pytest.raises(ValueError, match="unknown sentence family 'runz'"):
        parse_mix("runz=1")
    with pytest.raises(ValueError, match="add up to more than 0"):
        parse_mix("run=0")


def test_held_out_sets_are_fixed_by_their_seed(tok):
    a = family_sources(tok, ["run", "counting"], range(1, 6), per_length=3, seed=9)
    assert a == family_sources(tok, ["run", "counting"], range(1, 6), per_length=3, seed=9)
    assert a != family_sources(tok, ["run", "counting"], range(1, 6), per_length=3, seed=10)
    assert sorted(len(ids) for ids in a["run"]) == sorted([n for n in range(1, 6) for _ in range(3)])


def test_english_like_prose_repeats_function_words_and_starts_with_a_capital(tok):
    sentences = sample("english", tok, 20, count=100)
    assert all(words[0][:1].isupper() or not words[0][:1].isalpha() for words in sentences)
    # Words come at their frequency: the commonest recur within a sentence, as "to" and "the" do.
    assert sum(len(set(words)) < len(words) for words in sentences) > 80
    assert any(any(w[-1] in ",.!?;:" for w in words) for words in sentences)


def test_already_doubled_text_comes_in_pairs_of_any_family(tok):
    for n in (1, 2, 9, 26, 53, 120):
        for words in sample("doubled", tok, n, count=30):
            pairs = [words[i : i + 2] for i in range(0, n, 2)]
            assert all(len(set(pair)) == 1 for pair in pairs), words  # an odd n ends on half a pair
    # Pasted-back outputs of many kinds: numbers, unknown words, vocabulary words.
    words = {w for ws in sample("doubled", tok, 40, count=200) for w in ws}
    assert any(w in tok.stoi for w in words) and any(w not in tok.stoi for w in words)
    assert any(w.strip("$%#,.").isdigit() for w in words)


def test_training_and_evaluation_draw_the_new_family_from_one_generator_with_different_seeds(tok):
    from s2s.training.evaluate import family_sentences

    training = FamilyMix(tok, seed=1234, mix={"doubled": 1.0})
    trained = [training.sentence(10) for _ in range(50)]
    assert all(ids[0::2] == ids[1::2] for ids in trained)  # in pairs as ids, as the tokenizer encodes the text
    evaluated = [
        tok.encode(s)[0]
        for s in family_sentences(tok, "doubled", per_bucket=20, seed=2026)
        if len(s.split()) <= tok.num_slots
    ]  # longer ones are doubled in chunks, each encoded alone
    assert all(ids[0::2][: len(ids) // 2] == ids[1::2] for ids in evaluated)
    tens = [ids for ids in evaluated if len(ids) == 10]
    assert tens and all(ids not in trained for ids in tens if len({i for i in ids if i >= tok.first_word_id}) >= 3)
