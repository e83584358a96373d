"""`python -m s2s.bench` at tiny sizes: every case runs, the ways that must agree do, and the report is complete."""

import json
import os
import subprocess
import sys
from pathlib import Path

from helpers import save_tiny_doubler

from s2s.tools.bench import main


def test_every_case_runs_and_agrees_with_the_batched_decode(tmp_path):
    save_tiny_doubler(tmp_path / "model", max_src_len=8)
    report = main(
        [
            "--model",
            str(tmp_path / "model"),
            "--sentences",
            "3",
            "--words",
            "5",
            "--sizes",
            "1,4",
            "--mixed",
            "12",
            "--many",
            "50",
            "--train-batch",
            "4",
            "--train-steps",
            "1",
            "--repeat",
            "1",
            "--json",
            str(tmp_path / "bench.json"),
        ]
    )
    names = [c["name"] for c in report["cases"]]
    assert any(n.startswith("blog-style") for n in names) and any(n.startswith("training") for n in names)
    assert sum(n.startswith("one call per sentence") for n in names) == 2 and "batched greedy, B = 4" in names
    # The blog's way, one call per sentence and equal-length batches give exactly the batched answers.
    assert [c["identical"] for c in report["cases"] if c["identical"] is not None] == [True] * 4
    assert all(c["ms"] > 0 and c["gflop"] > 0 and 0 < c["of_matmul"] for c in report["cases"])
    assert any(c["name"].startswith("force a word") and c["ms"] > 0 for c in report["cases"])
    training = [c for c in report["cases"] if c["name"].startswith("training")]
    assert len(training) == 2 and all(c["tokens_per_s"] > 0 and c["of_bf16_matmul"] > 0 for c in training)
    assert report["cli_sentences_per_s"] > 0
    assert json.loads((tmp_path / "bench.json").read_text())["cases"] == report["cases"]


def test_the_matmul_reference_has_as_many_rows_as_the_decoders_batch():
    from s2s.limits import DEFAULT_BATCH_SIZE
    from s2s.results import DoubleResult
    from s2s.tools.yardstick import decoder_rows

    long_ones = [DoubleResult(input="x", output="x x", chunks=2) for _ in range(64)]  # 26 words: two rows each
    assert decoder_rows(long_ones, 1) == 128 and decoder_rows(long_ones, 2) == 256
    assert decoder_rows(long_ones * 8, 1) == DEFAULT_BATCH_SIZE  # the library cuts batches at this many rows


def test_the_gpu_script_runs_end_to_end_at_tiny_sizes_on_a_cpu(tmp_path):
    """scripts/device_bench.sh is what a session lent a GPU runs once: bench, the recipe, its evaluation. QUICK=1
    runs the same steps at tiny sizes, so a broken flag shows here rather than on the borrowed machine."""
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "QUICK": "1", "OUT": str(tmp_path), "PYTHONPATH": str(root)}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # this interpreter's python first
    done = subprocess.run(
        ["bash", "scripts/device_bench.sh"], cwd=root, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    said = (tmp_path / "bench.txt").read_text()
    assert "training step" in said and "training wall time" in said and "real text" in said
    assert json.loads((tmp_path / "evaluation.json").read_text())["families"]["doubled"]["buckets"]
    assert (tmp_path / "train" / "export" / "model.safetensors").exists()
