"""A long-running server's heap: glibc's malloc settings that give memory back, and a collector that pauses briefly.

By default glibc raises its mmap threshold each time a large block is freed, so later large blocks (a decoder
step's logits, a page's plot buffers) come from arenas that keep their free memory, and every thread that
allocates may get an arena of its own. Measured by `scripts/page_memory.py` (20 page runs of the largest request,
each a new visitor): the server's RSS went 787 MB -> 2.3 GB. The server bounds the arenas to two and hands the
free memory of every arena back to the system four times a second (`malloc_trim`, from a thread of its own):
513 -> 650 MB over 24 runs, 7.3 s a run.

A fixed mmap threshold of 256 KiB, the other way,, so that large blocks were unmapped when freed
(505 -> 594 MB over 24 runs, 8.2 s a run). But then every block of a decoder step above 256 KiB was mapped anew
and its pages faulted in and zeroed by the kernel, each step: decoding in the server took 1.7-1.9x as long as in
the library (64 x 26 words greedy 96 against 56 ms, 34,000 page faults a call; 128 x 20 words at beam width 8,
1.15 against 0.60 s). A trim faults the blocks of a decode under way in once, not at every step. The library and
the CLI keep the defaults: a short run gains nothing from either.

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
import threading
import time

M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)
ARENAS = 2
TRIM_EVERY_S = 0.25
TRIMMER = "malloc-trim"  # the trimming thread's name
# gc.set_threshold: Python's default (700, 10, 10) collects the youngest generation every 700 net allocations.
# One 32-sentence answer is ~10,000 new dicts and lists, nearly all freed by reference counting: the youngest
# generation is collected every 20,000 net allocations instead of 700; the older ones as often as by default,
# relative to it, so that cycles that lived a while (a page's plots) are not kept longer than 10 x 10 of those.
COLLECTOR_THRESHOLDS = (20_000, 10, 10)


def give_memory_back() -> bool:
    """Bound the arenas and start the thread that trims them every TRIM_EVERY_S; False where that is not glibc
    (nothing changes)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt, malloc_trim = libc.mallopt, libc.malloc_trim  # musl and other libcs have neither
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    malloc_trim.argtypes, malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
    if mallopt(M_ARENA_MAX, ARENAS) != 1:
        return False
    if not any(t.name == TRIMMER for t in threading.enumerate()):  # one trimming thread however often called
        threading.Thread(target=_trim_forever, args=(malloc_trim,), name=TRIMMER, daemon=True).start()
    return True


def _trim_forever(malloc_trim) -> None:
    while True:  # ctypes lets the GIL go during the call: a trim (2-6 ms) holds up no Python thread
        time.sleep(TRIM_EVERY_S)
        malloc_trim(0)


def shorten_collector_pauses() -> int:
    """Collect once, move every object alive now into the collector's permanent generation (never walked, never
    freed: start-up's objects live as long as the server anyway), and collect at COLLECTOR_THRESHOLDS from now
    on. Call it once start-up is over. Returns how many objects were moved."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*COLLECTOR_THRESHOLDS)
    return gc.get_freeze_count()
