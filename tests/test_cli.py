"""`python -m s2s`: sentences from arguments or stdin in, doubled lines out."""

import json
import subprocess
import sys

import pytest
from helpers import save_tiny_doubler

from s2s import WordDoubler


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cli-model")
    save_tiny_doubler(directory)
    return str(directory)


def run_cli(*args, stdin=""):
    return subprocess.run(
        [sys.executable, "-m", "s2s", *args], input=stdin, capture_output=True, text=True, timeout=120
    )


def test_stdin_lines_in_doubled_lines_out(model_dir):
    done = run_cli("--model", model_dir, stdin="I love CUDA\n\nTF is Aww\n")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.split("\n")
    assert len(lines) == 4 and lines[1] == "" and lines[3] == ""  # one line out per line in, blank stays blank
    as_args = run_cli("--model", model_dir, "I love CUDA", "TF is Aww")
    assert as_args.stdout.splitlines() == [lines[0], lines[2]]


def test_json_lines(model_dir):
    done = run_cli("--model", model_dir, "--json", "--top-k", "2", "I love CUDA")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["input"] == "I love CUDA" and len(result["steps"][0]["top_k"]) == 2


@pytest.mark.parametrize(
    "args, stdin, message",
    [
        (["--top-k", "0", "hi"], "", "top_k must be"),
        (["--beam-width", "9", "hi"], "", "beam_width must be a whole number from 1 to 8"),
        ([""], "", "argument 1 is empty"),
        ([], "ok\n" + " ".join(["w"] * 300) + "\n", "line 2 has 300 words"),
    ],
)
def test_bad_input_exits_non_zero_with_a_message(model_dir, args, stdin, message):
    done = run_cli("--model", model_dir, *args, stdin=stdin)
    assert done.returncode != 0
    assert message in done.stderr and "Traceback" not in done.stderr


def test_lines_before_a_bad_line_are_still_doubled(model_dir):
    done = run_cli("--model", model_dir, stdin="I love CUDA\nTF is Aww\n" + " ".join(["w"] * 300) + "\nnever\n")
    assert done.returncode == 2
    good = run_cli("--model", model_dir, "I love CUDA", "TF is Aww")
    assert done.stdout == good.stdout and "line 3 has 300 words" in done.stderr


def test_a_missing_model_is_a_message_not_a_traceback(tmp_path):
    done = run_cli("--model", str(tmp_path / "nowhere"), "hi")
    assert done.returncode != 0 and "could not load the model" in done.stderr and "Traceback" not in done.stderr


def test_a_long_stream_comes_out_in_order_and_a_closed_pipe_ends_quietly(model_dir):
    lines = [f"I love U{i}" if i % 7 else "" for i in range(5000)]  # more than one block
    done = run_cli("--model", model_dir, "--beam-width", "1", stdin="\n".join(lines) + "\n")
    assert done.returncode == 0, done.stderr
    out = done.stdout.split("\n")[:-1]
    assert len(out) == len(lines) and all((o == "") == (line == "") for o, line in zip(out, lines))
    expected = WordDoubler.from_pretrained(model_dir, device="cpu").double([x for x in lines if x], beam_width=1)
    assert [o for o in out if o] == [r.output for r in expected]
    head = subprocess.run(
        f"{sys.executable} -m s2s --model {model_dir} --beam-width 1 | head -1",
        shell=True,
        input="\n".join(lines),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert head.stdout.count("\n") == 1 and "Traceback" not in head.stderr and "BrokenPipe" not in head.stderr


def test_a_silent_hub_is_one_line_and_a_non_zero_exit_within_the_deadline(tmp_path):
    import os
    import socket
    import time

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # connections complete; nothing ever answers
        env = dict(
            os.environ,
            HF_ENDPOINT=f"http://127.0.0.1:{silent.getsockname()[1]}",
            HF_HOME=str(tmp_path),
            HF_HUB_CACHE=str(tmp_path / "cache"),
            S2S_HUB_TIMEOUT_S="3",
        )
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "s2s", "--model", "someone/model", "hi"],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        elapsed = time.monotonic() - started
    assert done.returncode == 1 and elapsed < 30
    assert done.stderr.strip().splitlines() == ["error: could not load the model: the Hub did not answer within 3 s"]
