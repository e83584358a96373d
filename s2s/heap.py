"""A server's heap that gives memory back: glibc's malloc settings for a long-running process.

By default glibc raises its mmap threshold each time a large block is freed, so later large blocks (a decoder
step's logits, a page's plot buffers) come from arenas that never shrink, and every thread that allocates may
get an arena of its own. Measured by `scripts/page_memory.py` (20 page runs of the largest request, each a new
visitor): the server's RSS went 787 MB -> 2.3 GB; with two arenas and a fixed 256 KiB mmap threshold
(large blocks mapped, and unmapped when freed) 453 -> 553 MB, about what the kept sessions hold, for ~8%
more time per run. The library and the CLI keep the defaults: a short run gains nothing from it.
"""

from __future__ import annotations

import ctypes
import sys

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameters (malloc.h)
M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 256 * 1024
ARENAS = 2


def give_memory_back() -> bool:
    """Set the fixed mmap threshold and the arena bound; False where that is not glibc (nothing changes)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # musl and other libcs have no mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1 and mallopt(M_ARENA_MAX, ARENAS) == 1
