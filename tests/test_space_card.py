"""README.md's Hugging Face Space front matter, parsed offline with huggingface_hub's card classes."""

import re
from pathlib import Path

import gradio
import pytest
from huggingface_hub import SpaceCard

ROOT = Path(__file__).resolve().parent.parent
SPACE_COLORS = {"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"}


@pytest.fixture(scope="module")
def card():
    readme = ROOT / "README.md"
    assert readme.is_file(), "README.md with Space front matter is missing"
    return SpaceCard.load(readme)  # a local path: nothing is fetched


def test_front_matter_describes_a_gradio_space(card):
    data = card.data
    assert data.title == "Word Doubler"
    assert data.sdk == "gradio"
    assert data.sdk_version == gradio.__version__  # the Space runs the gradio the tests ran
    assert data.app_file == "app.py" and (ROOT / data.app_file).is_file()
    assert data.license
    assert data.get("emoji")
    assert data.get("colorFrom") in SPACE_COLORS and data.get("colorTo") in SPACE_COLORS


def test_python_version_is_a_quoted_string(card):
    # Unquoted, YAML reads 3.10 as the float 3.1: the Space would get the wrong Python.
    assert isinstance(card.data.python_version, str)
    assert re.fullmatch(r"3\.\d+(\.\d+)?", card.data.python_version)


def test_models_is_a_list_when_present(card):
    models = card.data.models
    assert models is None or (
        isinstance(models, list) and all(isinstance(m, str) and m.count("/") == 1 for m in models)
    )


def test_requirements_pin_the_same_gradio(card):
    requirements = ROOT / "requirements.txt"
    pins = re.findall(r"^gradio(?:\[[\w,]+\])?==([^\s;#]+)", requirements.read_text(), flags=re.M)
    assert pins == [card.data.sdk_version], "requirements.txt must pin gradio to the card's sdk_version"
