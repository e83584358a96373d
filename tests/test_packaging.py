"""`pip install .`: an importable s2s from any directory, its bundled weights found without a path, its commands."""

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # builds a wheel of the project into a fresh virtual environment

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A fresh venv that sees this machine's installed dependencies (only the build backend is fetched), with the
    project itself installed into it by pip from the repository."""
    home = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(home)], check=True)
    done = subprocess.run(
        [str(home / "bin" / "pip"), "install", "-q", "--no-deps", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return home


def test_the_installed_package_doubles_from_outside_the_repository(venv, tmp_path):
    code = (
        "import s2s; from s2s import WordDoubler; print(s2s.__file__); "
        "print(WordDoubler.from_pretrained().double(['I love CUDA'])[0].output)"
    )
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    where, output = done.stdout.splitlines()
    assert str(ROOT) not in where  # the installed copy, not the checkout
    assert output == "I I love love CUDA CUDA"


def test_the_console_scripts_run(venv, tmp_path):
    commands = ("s2s-train", "s2s-evaluate", "s2s-bench", "s2s-publish", "s2s-space", "s2s-loadtest")
    # All at once: each spends its time importing torch, not waiting on the others.
    started = {
        command: subprocess.Popen(
            [str(venv / "bin" / command), *arguments],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
        )
        for command, arguments in [("s2s", ["I love CUDA"])] + [(command, ["--help"]) for command in commands]
    }
    said = {command: (process.communicate(timeout=300), process.returncode) for command, process in started.items()}
    (out, err), code = said.pop("s2s")
    assert code == 0 and out.strip() == "I I love love CUDA CUDA", err[-2000:]
    for command, ((out, err), code) in said.items():
        assert code == 0 and "usage:" in out, (command, err[-1000:])
