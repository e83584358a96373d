"""Weights checked at load: a folder that cannot serve is refused with one line naming the file and the field."""

import json
import shutil

import pytest
import torch
from helpers import save_tiny_doubler
from safetensors.torch import load_file, save_file

from s2s import WordDoubler
from s2s.weights import load_checked


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    directory = tmp_path_factory.mktemp("good")
    save_tiny_doubler(directory, max_src_len=8)
    return directory


def broken(good, tmp_path, change):
    folder = tmp_path / "broken"
    shutil.copytree(good, folder)
    change(folder)
    return folder


def edit_json(name, **values):
    def change(folder):
        data = json.loads((folder / name).read_text())
        data.update(values)
        (folder / name).write_text(json.dumps(data))

    return change


def drop_key(name, key):
    def change(folder):
        data = json.loads((folder / name).read_text())
        del data[key]
        (folder / name).write_text(json.dumps(data))

    return change


def resize_hidden(folder):
    tensors = load_file(folder / "model.safetensors")
    tensors["encoder.rnn.weight_hh_l0"] = torch.zeros(3 * 16, 16, dtype=torch.float16)
    save_file(tensors, folder / "model.safetensors")


CASES = {
    "no chunk length": (edit_json("config.json", max_src_len=0), "config.json: max_src_len must be at least 1, got 0"),
    "no slots": (
        edit_json("tokenizer.json", num_slots=0),
        "tokenizer.json: num_slots must be a whole number of at least",
    ),
    "another vocabulary": (edit_json("config.json", vocab_size=99), "tokenizer.json: has 26 ids"),
    "hidden size": (
        edit_json("config.json", hidden_size=48),
        "model.safetensors: encoder.rnn.weight_ih_l0 has shape [96, 16], config.json makes it [144, 16]",
    ),
    "tensor of another shape": (resize_hidden, "model.safetensors: encoder.rnn.weight_hh_l0 has shape [48, 16]"),
    "no config": (lambda f: (f / "config.json").unlink(), "config.json: missing"),
    "config not JSON": (lambda f: (f / "config.json").write_text("{oops"), "config.json: not valid JSON"),
    "a field missing": (drop_key("config.json", "hidden_size"), "config.json: hidden_size is missing"),
    "a text size": (
        edit_json("config.json", embed_size="16"),
        "config.json: embed_size must be a whole number, got '16'",
    ),
    "an unknown field": (edit_json("config.json", attention=True), "config.json: unknown field 'attention'"),
    "same special ids": (edit_json("config.json", sos_id=0), "pad_id, sos_id and eos_id must differ"),
    "no weights": (lambda f: (f / "model.safetensors").unlink(), "model.safetensors: missing"),
    "weights not safetensors": (
        lambda f: (f / "model.safetensors").write_bytes(b"\x00" * 64),
        "not a safetensors file",
    ),
    "no tokenizer": (lambda f: (f / "tokenizer.json").unlink(), "tokenizer.json: missing"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_folder_that_cannot_serve_is_refused_with_one_line(good, tmp_path, case):
    change, message = CASES[case]
    folder = broken(good, tmp_path, change)
    with pytest.raises(ValueError) as refused:
        load_checked(folder)
    assert message in str(refused.value) and "\n" not in str(refused.value)
    assert str(tmp_path) not in str(refused.value)  # the file's name, never the server's path


def test_a_good_folder_loads_and_a_server_falls_back_from_a_broken_one(good, tmp_path):
    model, tokenizer = load_checked(good)
    assert tokenizer.vocab_size == model.config.vocab_size and not model.training
    folder = broken(good, tmp_path, edit_json("config.json", max_src_len=0))
    wd, warning = WordDoubler.from_pretrained_or_bundled(str(folder), device="cpu")
    assert "max_src_len must be at least 1" in warning and wd.double("I love CUDA")[0].steps
