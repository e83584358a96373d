"""Tokenizer: ids, slots for unknown words, round trips, padding."""

import pytest
from helpers import tiny_tokenizer

from s2s.tokenizer import EOS_ID, FIRST_SLOT_ID, PAD_ID, SOS_ID, WordTokenizer


def test_special_ids_come_first():
    tok = tiny_tokenizer(num_slots=4)
    assert (tok.stoi["<pad>"], tok.stoi["<sos>"], tok.stoi["<eos>"]) == (PAD_ID, SOS_ID, EOS_ID) == (0, 1, 2)
    assert [tok.itos[i] for i in range(FIRST_SLOT_ID, FIRST_SLOT_ID + 4)] == ["<w0>", "<w1>", "<w2>", "<w3>"]
    assert tok.itos[tok.first_word_id] == "I"


@pytest.mark.parametrize(
    "sentence",
    [
        "I love CUDA",
        "My name is Sunil",  # "My", "Sunil" unknown
        "I love 🚀 and ❤️ too",
        "Привет мир I love 日本語 नमस्ते",
        "Sunil Sunil loves Sunil",  # a repeated unknown word
        "12345 3.14 <pad> <w0> <eos>",  # numbers, and text that looks like special tokens
    ],
)
def test_round_trip(sentence):
    tok = tiny_tokenizer()
    ids, slots = tok.encode(sentence)
    assert tok.decode(ids + [EOS_ID], slots) == sentence
    assert len(ids) == len(sentence.split())


def test_unknown_words_take_slots_in_order_of_first_appearance():
    tok = tiny_tokenizer()
    ids, slots = tok.encode("Bob met Alice and Bob")
    assert slots == ["Bob", "met", "Alice", "and"]
    assert ids == [FIRST_SLOT_ID, FIRST_SLOT_ID + 1, FIRST_SLOT_ID + 2, FIRST_SLOT_ID + 3, FIRST_SLOT_ID]


def test_special_token_text_is_a_plain_unknown_word():
    tok = tiny_tokenizer()
    ids, slots = tok.encode("<eos> <pad>")
    assert ids == [FIRST_SLOT_ID, FIRST_SLOT_ID + 1] and slots == ["<eos>", "<pad>"]


def test_too_many_unknown_words_is_a_clear_error():
    tok = tiny_tokenizer(num_slots=2)
    with pytest.raises(ValueError, match="at most 2 distinct words"):
        tok.encode("x y z")


def test_encode_batch_pads_right_and_keeps_true_lengths():
    tok = tiny_tokenizer()
    batch = tok.encode_batch(["I love CUDA", "TF", "the cat sat on the mat"])
    assert batch.src.shape == (3, 6)
    assert batch.lengths.tolist() == [3, 1, 6]
    for row, n in enumerate(batch.lengths.tolist()):
        assert (batch.src[row, n:] == PAD_ID).all()
        assert (batch.src[row, :n] != PAD_ID).all()
    assert batch.slots == [[], [], []]


def test_decode_stops_at_eos_and_skips_padding():
    tok = tiny_tokenizer()
    ids, slots = tok.encode("I love CUDA")
    assert tok.decode([SOS_ID] + ids + [EOS_ID, ids[0], PAD_ID], slots) == "I love CUDA"


def test_save_load(tmp_path):
    tok = WordTokenizer(["é", "日本", "word"], num_slots=3)
    tok.save(tmp_path / "tokenizer.json")
    again = WordTokenizer.load(tmp_path / "tokenizer.json")
    assert again.itos == tok.itos and again.num_slots == 3


def test_namer_is_token_for_every_id():
    tok = tiny_tokenizer()
    for slots in ([], ["Zq", "Lorem"], [f"u{i}" for i in range(tok.num_slots)]):
        name = tok.namer(slots)
        assert [name(i) for i in range(tok.vocab_size)] == [tok.token(i, slots) for i in range(tok.vocab_size)]
