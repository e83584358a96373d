"""`python -m s2s.train`: a short run exports loadable weights, resumes, and runs under torchrun."""

import contextlib
import io
import json
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from s2s import WordDoubler
from s2s.model import Seq2SeqConfig
from s2s.training.train import main as train_main

ROOT = Path(__file__).resolve().parent.parent

TINY = [
    "--vocab-size",
    "200",
    "--hidden-size",
    "32",
    "--embed-size",
    "16",
    "--batch-size",
    "16",
    "--max-len",
    "8",
    "--eval-per-length",
    "2",
    "--warmup",
    "5",
    "--threads",
    "1",
]


def failure_report(stderr: str) -> str:
    """What a failed run said: its error lines first (under torchrun a rank's reason precedes the launcher's
    long summary, which alone fills the tail), then the tail."""
    errors = [
        line
        for line in stderr.splitlines()
        if "it/s" not in line
        and any(word in line for word in ("Error", "error", "terminate", "what()", "Abort", "Traceback", "enforce"))
    ]
    return "\n".join(errors[:40]) + "\n...\n" + stderr[-2000:]


def train(*args, launcher=None):
    """The command, with TINY's flags first: its own main() in this process (as `python -m s2s.train` calls it,
    without paying the imports again), or a new process with `launcher` (the plain command, torchrun)."""
    if launcher:
        done = subprocess.run([*launcher, *TINY, *args], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, failure_report(done.stderr)
        return done
    threads, said = torch.get_num_threads(), io.StringIO()
    try:
        with contextlib.redirect_stderr(said), contextlib.redirect_stdout(io.StringIO()):
            train_main([*TINY, *args])
    finally:
        torch.set_num_threads(threads)  # --threads 1 must not slow the rest of the suite
    return SimpleNamespace(returncode=0, stderr=said.getvalue())


def test_a_short_run_writes_weights_that_load_and_decode(tmp_path):
    run = ["--out", str(tmp_path / "w"), "--run-dir", str(tmp_path / "run")]
    train("--steps", "30", "--eval-every", "10", *run, launcher=(sys.executable, "-m", "s2s.train"))
    names = {p.name for p in (tmp_path / "w").iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.json", "README.md"} <= names
    assert "python -m s2s.train" in (tmp_path / "w" / "README.md").read_text()
    assert (tmp_path / "run" / "learning_curve.png").stat().st_size > 0
    rows = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [10, 20, 30]
    result = WordDoubler.from_pretrained(str(tmp_path / "w"), device="cpu").double(["I love CUDA"])[0]
    assert result.input == "I love CUDA" and result.steps


def test_resume_continues_from_the_saved_step(tmp_path):
    common = ["--eval-every", "10", "--out", str(tmp_path / "w"), "--run-dir", str(tmp_path / "run")]
    train("--steps", "20", *common)
    first = json.loads((tmp_path / "run" / "checkpoint.json").read_text())
    assert first["step"] == 20
    # Never pickle: tensors in safetensors shards, the rest in JSON.
    assert {p.suffix for p in (tmp_path / "run").iterdir()} == {".safetensors", ".json", ".jsonl", ".png"}
    done = train("--steps", "30", "--resume", *common)
    assert "resumed from" in done.stderr and "at step 20" in done.stderr
    state = json.loads((tmp_path / "run" / "checkpoint.json").read_text())
    assert state["step"] == 30 and len(state["commands"]) == 2 and state["seconds"] >= first["seconds"]
    steps = [json.loads(line)["step"] for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert steps == [10, 20, 30]  # no step trained twice
    with pytest.raises(SystemExit, match="the checkpoint holds"):  # its message is what the command prints
        train("--hidden-size", "48", "--steps", "40", "--resume", *common)


def test_export_only_writes_the_checkpoint_with_its_best_chunk_length(tmp_path):
    run = ["--out", str(tmp_path / "w"), "--run-dir", str(tmp_path / "run")]
    train("--steps", "10", "--eval-every", "10", *run)
    before = (tmp_path / "run" / "checkpoint.json").read_text()
    done = train(
        "--resume",
        "--export-only",
        "--export-per-length",
        "3",
        "--out",
        str(tmp_path / "exported"),
        "--run-dir",
        str(tmp_path / "run"),
    )
    measured = json.loads(done.stderr.strip().splitlines()[-1])
    assert measured["step"] == 10 and set(measured["exact_match_by_length"]) == {str(n) for n in range(1, 9)}
    config = json.loads((tmp_path / "exported" / "config.json").read_text())
    assert config["max_src_len"] == measured["chunk_length"]
    assert "--export-only" in (tmp_path / "exported" / "README.md").read_text()
    assert (tmp_path / "run" / "checkpoint.json").read_text() == before  # nothing trained, nothing saved
    assert WordDoubler.from_pretrained(str(tmp_path / "exported"), device="cpu").double(["I love CUDA"])[0].steps
    with pytest.raises(SystemExit, match="no checkpoint"):
        train("--resume", "--export-only", "--run-dir", str(tmp_path / "empty"))


def test_torchrun_two_cpu_processes(tmp_path):
    pytest.importorskip("torch.distributed.run")
    launcher = (sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "s2s.train")
    train(
        "--steps",
        "6",
        "--eval-every",
        "3",
        "--max-minutes",  # an hour: the steps end the run, and every rank follows rank 0's clock on the way
        "60",
        "--out",
        str(tmp_path / "w"),
        "--run-dir",
        str(tmp_path / "run"),
        launcher=launcher,
    )
    rows = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [3, 6]  # only rank 0 evaluates and logs
    assert all(r["processes"] == 2 for r in rows)
    assert WordDoubler.from_pretrained(str(tmp_path / "w"), device="cpu").double(["hello world"])[0].steps


def test_learning_rate_warms_up_holds_then_decays_to_a_tenth():
    from s2s.training.recipe import learning_rate, parse_args

    args = parse_args(["--lr", "1", "--warmup", "10", "--steps", "100", "--decay-start", "50"])
    rates = [learning_rate(step, args) for step in range(101)]
    assert rates[0] == 0.1 and rates[9] == 1.0 and rates[50] == 1.0
    assert all(a >= b for a, b in zip(rates[50:], rates[51:])) and rates[100] == 0.1
    default = parse_args(["--lr", "1", "--warmup", "10", "--steps", "100"])  # the last fifth decays
    assert learning_rate(80, default) == 1.0 and learning_rate(90, default) < 1.0


def test_the_schedule_follows_the_steps_or_the_minutes_whichever_is_further():
    from s2s.training.recipe import parse_args, schedule_position

    by_steps = parse_args(["--steps", "100"])
    assert schedule_position(30, 500.0, by_steps) == 30  # no --max-minutes: the steps alone
    timed = parse_args(["--steps", "100", "--max-minutes", "10"])
    assert schedule_position(30, 1.0, timed) == 30  # the steps are further along
    assert schedule_position(30, 5.0, timed) == 50  # half the minutes spent: half-way through the schedule


def test_a_run_ended_by_the_clock_ends_its_decay_and_its_fp32_steps(tmp_path):
    run = ["--out", str(tmp_path / "w"), "--run-dir", str(tmp_path / "run")]
    minutes = 2 / 60  # two seconds for a schedule of a million steps: the clock ends it
    train(
        "--steps",
        "1000000",
        "--max-minutes",
        str(minutes),
        "--fp32-last",
        "200000",
        "--eval-every",
        "1000000",
        "--lr",
        "0.01",
        "--min-lr-share",
        "0.1",
        "--precision",
        "bf16",
        *run,
    )
    last = json.loads((tmp_path / "run" / "log.jsonl").read_text().splitlines()[-1])
    assert 0 < last["step"] < 1_000_000 and last["seconds"] >= 2
    assert last["lr"] == pytest.approx(0.001, rel=0.2)  # the decay ran (nearly) to its floor
    assert last["precision"] == "fp32"


def test_a_recipe_file_sets_the_flags_and_the_command_line_wins(tmp_path):
    from s2s.training.recipe import parse_args

    recipe = tmp_path / "recipe.toml"
    recipe.write_text('description = "a test"\nlr = 0.01\nbatch-size = 7\n[families]\nrun = 0.5\nletters = 0.5\n')
    args = parse_args(["--config", str(recipe), "--batch-size", "9"])
    assert args.lr == 0.01 and args.batch_size == 9 and args.mix == {"run": 0.5, "letters": 0.5}
    recipe.write_text("learning_rate = 0.01\n")
    with pytest.raises(SystemExit, match="unknown keys \\['learning_rate'\\]"):
        parse_args(["--config", str(recipe)])


def test_the_committed_recipe_describes_the_shipped_model_from_scratch():
    from s2s.training.families import FAMILIES
    from s2s.training.recipe import parse_args

    args = parse_args(["--config", str(ROOT / "configs" / "word-doubler.toml")])
    shipped = json.loads((ROOT / "weights" / "config.json").read_text())
    assert args.init_from is None and args.max_len >= shipped["max_src_len"]  # one command, nothing before it
    assert set(args.mix) == set(FAMILIES) and set(args.eval_names) == set(FAMILIES)  # every family from the start
    assert (args.embed_size, args.hidden_size, args.num_layers) == (
        shipped["embed_size"],
        shipped["hidden_size"],
        shipped["num_layers"],
    )
    # The code's own defaults describe the shipped architecture, not an older one.
    defaults = parse_args([])
    assert (defaults.embed_size, defaults.hidden_size, defaults.num_layers) == (
        shipped["embed_size"],
        shipped["hidden_size"],
        shipped["num_layers"],
    )
    assert asdict(Seq2SeqConfig()) == shipped  # the library's defaults are the shipped model's


def test_default_output_is_the_run_directory_never_weights(tmp_path):
    from s2s.training.recipe import parse_args

    assert parse_args([]).out == "runs/doubler/export"
    before = {p.name: p.read_bytes() for p in (ROOT / "weights").iterdir()}
    train("--steps", "4", "--eval-every", "4", "--run-dir", str(tmp_path / "run"))
    assert (tmp_path / "run" / "export" / "model.safetensors").exists()
    assert {p.name: p.read_bytes() for p in (ROOT / "weights").iterdir()} == before


def test_init_from_starts_from_an_exported_model(tmp_path):
    from helpers import save_tiny_doubler

    from s2s.model import Seq2Seq

    save_tiny_doubler(tmp_path / "start", max_src_len=8, seed=3)
    # A learning rate of 0: the exported weights must be the starting model's, not a fresh initialisation.
    train(
        "--init-from",
        str(tmp_path / "start"),
        "--lr",
        "0",
        "--steps",
        "2",
        "--eval-every",
        "2",
        "--run-dir",
        str(tmp_path / "run"),
    )
    start = Seq2Seq.from_pretrained(tmp_path / "start").state_dict()
    exported = Seq2Seq.from_pretrained(tmp_path / "run" / "export").state_dict()
    assert all(torch.equal(start[k], exported[k]) for k in start)
    assert (tmp_path / "run" / "export" / "tokenizer.json").read_text() == (
        tmp_path / "start" / "tokenizer.json"
    ).read_text()
    # ... and with a learning rate it trains from there.
    train(
        "--init-from",
        str(tmp_path / "start"),
        "--lr",
        "1e-2",
        "--steps",
        "3",
        "--eval-every",
        "3",
        "--run-dir",
        str(tmp_path / "run2"),
    )
    trained = Seq2Seq.from_pretrained(tmp_path / "run2" / "export").state_dict()
    assert not all(torch.equal(start[k], trained[k]) for k in start)


def test_mining_keeps_the_hardest_candidates_after_the_plain_rows():
    from types import SimpleNamespace

    from helpers import tiny_model, tiny_tokenizer

    from s2s.data import collate
    from s2s.loss import worst_token_nll
    from s2s.tokenizer import PAD_ID
    from s2s.training.mining import hardest_rows, mined_batch, mined_rows

    tok = tiny_tokenizer()
    model = tiny_model(tok, seed=1)
    sources = [[4 + (i * 7 + j) % 15 for j in range(1 + i % 6)] for i in range(24)]

    class Fixed:  # the same 24 sentences every time, in order
        def batch(self, lengths):
            return collate(sources[: len(lengths)])

    args = SimpleNamespace(batch_size=8, mine_factor=4, mine_share=0.5, mine_last=0, steps=100)
    assert mined_rows(args, at=0) == 4 + 4 * 4
    batch = mined_batch(model, Fixed(), [1] * mined_rows(args, at=0), "cpu", args, at=0)
    pool = collate(sources[4:20])
    with torch.no_grad():
        scores = worst_token_nll(model(pool.src, pool.lengths, pool.tgt_in), pool.tgt_out, PAD_ID)
    hardest = hardest_rows(model, pool, 4, "cpu")
    assert sorted(scores[hardest].tolist()) == sorted(scores.tolist())[-4:]
    expected = sources[:4] + [sources[4 + int(i)] for i in hardest]
    assert [row[:n].tolist() for row, n in zip(batch.src, batch.lengths)] == expected
    assert batch.src.size(1) == max(map(len, expected))  # trimmed to its own longest row


def test_mining_only_in_the_last_steps_with_mine_last():
    from types import SimpleNamespace

    from s2s.training.mining import hard_row_count, mined_rows

    args = SimpleNamespace(batch_size=8, mine_factor=4, mine_share=0.5, mine_last=30, steps=100)
    assert [hard_row_count(args, at) for at in (0, 69.9, 70, 99.5)] == [0, 0, 4, 4]
    assert mined_rows(args, at=10) == 8 and mined_rows(args, at=80) == 4 + 4 * 4
    args.mine_factor = 1  # off: --mine-last alone mines nothing
    assert hard_row_count(args, at=99) == 0


def test_a_mined_run_trains(tmp_path):
    # the first step plain, the last two mined: both of the loop's paths
    train(
        "--mine-factor",
        "3",
        "--mine-last",
        "2",
        "--steps",
        "3",
        "--eval-every",
        "3",
        "--run-dir",
        str(tmp_path / "run"),
    )
    assert (tmp_path / "run" / "export" / "model.safetensors").exists()


def test_a_tiny_recipe_from_scratch_trains_in_bf16_then_fp32_and_exports(tmp_path):
    """The GPU's code path on this CPU: bf16 autocast (as on CUDA), then the last steps in fp32."""
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(
        'description = "tiny"\nprecision = "bf16"\nfp32_last = 2\nsteps = 5\neval_every = 5\n'
        "[families]\nrandom = 0.5\ndoubled = 0.5\n"
    )
    train("--config", str(recipe), "--run-dir", str(tmp_path / "run"))
    rows = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [5] and rows[0]["precision"] == "fp32"  # its last step was fp32
    assert "doubled" in rows[0]["exact_by_family"]
    assert (
        WordDoubler.from_pretrained(str(tmp_path / "run" / "export"), device="cpu").double(["I I love love"])[0].steps
    )


def test_precision_auto_takes_bf16_only_where_it_is_fast():
    from s2s.training.recipe import parse_args
    from s2s.training.train import use_bf16
    from s2s.training.train_step import bf16_is_fast

    cpu = torch.device("cpu")
    assert use_bf16(parse_args(["--precision", "auto"]), cpu) == bf16_is_fast(cpu)
    assert use_bf16(parse_args(["--precision", "bf16"]), cpu) and not use_bf16(parse_args(["--precision", "fp32"]), cpu)
