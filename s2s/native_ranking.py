"""`ranking.c` compiled on this machine at first use and called through ctypes; torch's way where it cannot be.

A decoder step's ranking (each row's k best words and their log-probabilities) is nine torch operations,
each a pass over a (rows, vocabulary) tensor or a small sort: 0.50 ms of a 1.9 ms greedy step at 128 rows,
where the C function takes 0.22 ms (s2s/ranking.py has the figures). It is plain C with OpenMP, built with
the machine's C compiler into a cache directory once (0.3 s) and reused. Without a compiler (or with
S2S_NATIVE=0), decoding uses torch's operations: the same words, probabilities within float rounding.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import torch

SOURCE = Path(__file__).with_name("ranking.c")
FLAGS = ["-O3", "-fno-math-errno", "-fno-trapping-math", "-fopenmp", "-shared", "-fPIC"]
# This CPU's vector instructions (built where it runs); 512-bit vectors where it has them.
X86_FLAGS = ["-march=native", "-mprefer-vector-width=512"]
BUILD_TIMEOUT_S = 120

_lock = threading.Lock()
_state: dict = {}  # "function" (the loaded C function or None) and "status" (a line for reports)


def kernel():
    """`ranked_log_probs(logits, k) -> (log_probs, ids)` backed by the C function, or None where it cannot be
    built (see `status()`). Built on the first call; later calls return the same function."""
    with _lock:
        if "function" not in _state:
            _state["function"], _state["status"] = _load()
    function = _state["function"]
    if function is None:
        return None

    def ranked_log_probs(logits: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, V) float32 CPU logits -> (N, k) log-probabilities and ids of each row's k best, best first."""
        logits = logits.contiguous()
        rows, vocab = logits.shape
        log_probs = torch.empty(rows, k)
        ids = torch.empty(rows, k, dtype=torch.long)
        function(logits.data_ptr(), rows, vocab, k, torch.get_num_threads(), log_probs.data_ptr(), ids.data_ptr())
        return log_probs, ids

    return ranked_log_probs


def status() -> str:
    """How decoding ranks here: the native kernel (and where it came from) or torch's operations, and why."""
    kernel()
    return _state["status"]


def _load():
    if os.environ.get("S2S_NATIVE", "1") == "0":
        return None, "torch operations (S2S_NATIVE=0)"
    compiler = shutil.which(os.environ.get("CC", "cc"))
    if compiler is None:
        return None, "torch operations (no C compiler found to build s2s/ranking.c)"
    flags = FLAGS + (X86_FLAGS if platform.machine() in ("x86_64", "AMD64") else [])
    try:
        library, built = _build(compiler, flags)
        function = ctypes.CDLL(str(library)).ranked_log_probs
    except (OSError, subprocess.SubprocessError) as error:
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        return None, f"torch operations (building s2s/ranking.c failed: {first_line[:200]})"
    function.restype = None
    function.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.c_int,
                         ctypes.c_void_p, ctypes.c_void_p]
    return function, f"native kernel ({'built' if built else 'cached'} at {library})"


def _build(compiler: str, flags: list[str]) -> tuple[Path, bool]:
    """The library for this source, compiler, flags and CPU: from the cache, else compiled into it."""
    version = subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=30).stdout
    key = hashlib.sha256("\n".join([SOURCE.read_text(), compiler, version, *flags, _cpu()]).encode()).hexdigest()[:16]
    directory = _cache_directory()
    library = directory / f"ranking-{key}.so"
    if library.exists():
        return library, False
    with tempfile.TemporaryDirectory(dir=directory) as scratch:
        partial = Path(scratch) / library.name
        done = subprocess.run([compiler, *flags, str(SOURCE), "-o", str(partial), "-lm"],
                              capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
        if done.returncode != 0:
            raise OSError(done.stderr or f"{compiler} exited with {done.returncode}")
        os.replace(partial, library)  # atomic: a process loading it never sees half a file
    return library, True


def _cache_directory() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "word-doubler"
    try:
        base.mkdir(parents=True, exist_ok=True)
        if os.access(base, os.W_OK):
            return base
    except OSError:
        pass
    fallback = Path(tempfile.gettempdir()) / f"word-doubler-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    fallback.mkdir(parents=True, exist_ok=True)
    return fallback


def _cpu() -> str:
    """What -march=native compiles for: the CPU's feature flags (a cache shared by machines keeps one per CPU)."""
    try:
        return next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        return platform.processor()
