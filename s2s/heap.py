"""A long-running server's heap: glibc's malloc settings that give memory back, and a collector that pauses briefly.

By default glibc raises its mmap threshold each time a large block is freed, so later large blocks (a decoder
step's logits, a page's plot buffers) come from arenas that never shrink, and every thread that allocates may
get an arena of its own. Measured by `scripts/page_memory.py` (20 page runs of the largest request, each a new
visitor): the server's RSS went 787 MB -> 2.3 GB; with two arenas and a fixed 256 KiB mmap threshold
(large blocks mapped, and unmapped when freed) 453 -> 553 MB, about what the kept sessions hold, for ~8%
more time per run. The library and the CLI keep the defaults: a short run gains nothing from it.

Python's cyclic garbage collector walks every tracked object of the generation it collects, and a served app's
start-up leaves about 390,000 of them (torch, Gradio, the page's components) in the oldest one, so
each full collection held the GIL for 200-360 ms: under 64 busy users, 23 of them in 27 s (4.7 s in all)
stopped the event loop and every answer with it. `shorten_collector_pauses` moves what start-up made out of the
collector's sight and collects less often (a 32-sentence answer alone is ~10,000 dicts and lists, freed by
reference counting, not by the collector): the same load then spent 0.15-0.3 s collecting.
"""

from __future__ import annotations

import ctypes
import gc
import sys

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameters (malloc.h)
M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 256 * 1024
ARENAS = 2
# gc.set_threshold: Python's default (700, 10, 10) collects the youngest generation every 700 net allocations.
# One 32-sentence answer is ~10,000 new dicts and lists, nearly all freed by reference counting: the youngest
# generation is collected every 20,000 net allocations instead of 700; the older ones as often as by default,
# relative to it, so that cycles that lived a while (a page's plots) are not kept longer than 10 x 10 of those.
COLLECTOR_THRESHOLDS = (20_000, 10, 10)


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


def shorten_collector_pauses() -> int:
    """Collect once, move every object alive now into the collector's permanent generation (never walked, never
    freed: start-up's objects live as long as the server anyway), and collect at COLLECTOR_THRESHOLDS from now
    on. Call it once start-up is over. Returns how many objects were moved."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*COLLECTOR_THRESHOLDS)
    return gc.get_freeze_count()
