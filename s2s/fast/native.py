"""`kernels.c` compiled on this machine at first use and called through ctypes; torch's operations where it cannot be.

Three pieces of a decoder step are many small torch operations: the output layer and ranking (each row's k
best words and their log-probabilities, s2s/fast/ranking.py) and the GRU cell (s2s/fast/gru_cell.py), each a pass over a
(rows, vocabulary) or (rows, 3 x hidden) tensor, and the beam search's bookkeeping (s2s/fast/beam_step.py), thirty
operations on a few numbers a row. kernels.c does each in one function that keeps a row, or a tile of rows, in
the core's cache. It is plain C with OpenMP, built with this machine's C compiler into a cache
directory once (0.1-0.3 s) and reused.
Without a compiler (or with S2S_NATIVE=0) decoding uses torch's operations: the same words, probabilities
within float rounding (tests/test_native.py).
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

SOURCE = Path(__file__).with_name("kernels.c")
# Each function of kernels.c and its arguments: p a pointer to a tensor's data, n an int64, t a thread count.
SIGNATURES = {
    "ranked_log_probs": "pnnntpp",
    "output_ranked": "ppppnnnnnntppp",
    "gru_cell": "ppnpppnntp",
    "gru_cell_fused": "ppnpppnntp",
    "beam_backtrack": "nnnn" + "p" * 10,
}
# Functions of kernels.c that return an int64: the shapes its output layer works in, the rows a beam step leaves.
SIZES = {
    "output_tile_ids": "",
    "output_scratch": "nnnt",
    "cell_block": "",
    "beam_step": "n" * 7 + "p" * 11 + "nnnn" + "p" * 8,
}
FLAGS = ["-O3", "-fno-math-errno", "-fno-trapping-math", "-fopenmp", "-shared", "-fPIC"]
# This CPU's vector instructions (built where it runs); 512-bit vectors where it has them.
X86_FLAGS = ["-march=native", "-mprefer-vector-width=512"]
BUILD_TIMEOUT_S = 120

_lock = threading.Lock()
_state: dict = {}  # "library" (the loaded kernels or None) and "status" (a line for reports)


def library():
    """The compiled kernels (ctypes, argument types set), or None where they cannot be built (see `status()`).
    Built on the first call; later calls return the same library (each decoder step asks: no lock once loaded)."""
    if "library" in _state:
        return _state["library"]
    with _lock:
        if "library" not in _state:
            _state["library"], _state["status"] = _load()
    return _state["library"]


def usable(*tensors: torch.Tensor) -> bool:
    """True when the kernels are built and every tensor is float32 or int64 on the CPU: what they take."""
    return (
        all(t.device.type == "cpu" and t.dtype in (torch.float32, torch.int64) for t in tensors)
        and library() is not None
    )


def status() -> str:
    """How decoding computes here: the native kernels (and where they came from) or torch's operations, and why."""
    library()
    return _state["status"]


def _load():
    if os.environ.get("S2S_NATIVE", "1") == "0":
        return None, "torch operations (S2S_NATIVE=0)"
    compiler = shutil.which(os.environ.get("CC", "cc"))
    if compiler is None:
        return None, "torch operations (no C compiler found to build s2s/fast/kernels.c)"
    flags = FLAGS + (X86_FLAGS if platform.machine() in ("x86_64", "AMD64") else [])
    try:
        path, built = _build(compiler, flags)
        loaded = ctypes.CDLL(str(path))
    except (OSError, subprocess.SubprocessError) as error:
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        return None, f"torch operations (building s2s/fast/kernels.c failed: {first_line[:200]})"
    types = {"p": ctypes.c_void_p, "n": ctypes.c_int64, "t": ctypes.c_int}
    for returned, functions in ((None, SIGNATURES), (ctypes.c_int64, SIZES)):
        for name, arguments in functions.items():
            function = getattr(loaded, name)
            function.restype = returned
            function.argtypes = [types[a] for a in arguments]
    return loaded, f"native kernels ({'built' if built else 'cached'} at {path})"


def _build(compiler: str, flags: list[str]) -> tuple[Path, bool]:
    """The library for this source, compiler, flags and CPU: from the cache, else compiled into it."""
    version = subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=30).stdout
    key = hashlib.sha256("\n".join([SOURCE.read_text(), compiler, version, *flags, _cpu()]).encode()).hexdigest()[:16]
    directory = _cache_directory()
    library = directory / f"kernels-{key}.so"
    if library.exists():
        return library, False
    with tempfile.TemporaryDirectory(dir=directory) as scratch:
        partial = Path(scratch) / library.name
        done = subprocess.run(
            [compiler, *flags, str(SOURCE), "-o", str(partial), "-lm"],
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_S,
        )
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
