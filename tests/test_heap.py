"""s2s.serve.heap: the server's malloc settings are accepted by this machine's glibc (in a subprocess: they are
process-wide)."""

import subprocess
import sys


def test_glibc_accepts_the_servers_malloc_settings():
    code = """
import threading
from s2s.serve import heap
said = heap.give_memory_back(), heap.give_memory_back()  # a second call starts no second thread
print(*said, sum(t.name == heap.TRIMMER for t in threading.enumerate()))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.split() == ["True", "True", "1"], done.stderr


def test_free_memory_inside_the_heap_goes_back_to_the_system_within_a_trim():
    """Blocks freed between live ones cannot be returned by free() itself (only the heap's top can); the server's
    trimming thread hands them back: the RSS falls by most of what was freed within two trim periods."""
    code = """
import ctypes, time
from s2s.serve import heap
assert heap.give_memory_back()
rss = lambda: int(open("/proc/self/statm").read().split()[1]) * 4096 >> 20
libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
# A freed mapped block raises glibc's mmap threshold: 1 MiB blocks now come from the heap.
libc.free(libc.malloc(8 << 20))
blocks = [libc.malloc(1 << 20) for _ in range(200)]
for b in blocks:
    ctypes.memset(b, 1, 1 << 20)  # touched: resident
before = rss()
for b in blocks[::2]:
    libc.free(b)  # holes between live blocks
freed_at = rss()
time.sleep(2.5 * heap.TRIM_EVERY_S)
print(before, freed_at, rss())
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    before, freed_at, later = map(int, done.stdout.split())
    assert freed_at > before - 30, "free() alone gave the holes back: the test no longer shows the trimmer's work"
    assert later < freed_at - 70, (before, freed_at, later)


def test_start_up_objects_leave_the_collectors_sight_and_collections_come_less_often():
    """After the call, a full collection walks only what was made since: start-up's objects are frozen, and a
    cycle made afterwards is still collected (the collector still runs, at the new thresholds)."""
    code = """
import gc, weakref
from s2s.serve import heap
made_at_start_up = [[i] for i in range(50_000)]
moved = heap.shorten_collector_pauses()
class Node: pass
a, b = Node(), Node()
a.other, b.other = b, a
gone = weakref.ref(a)
del a, b
gc.collect()
print(moved, gc.get_freeze_count(), gc.get_threshold() == heap.COLLECTOR_THRESHOLDS, gone() is None)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    moved, frozen, thresholds_set, cycle_collected = done.stdout.split()
    assert int(moved) == int(frozen) >= 50_000
    assert thresholds_set == "True" and cycle_collected == "True"
