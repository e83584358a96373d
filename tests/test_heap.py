"""s2s.heap: the server's malloc settings are accepted by this machine's glibc (a subprocess: they are process-wide)."""

import subprocess
import sys


def test_glibc_accepts_the_servers_malloc_settings():
    code = "from s2s import heap; print(heap.give_memory_back())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "True", done.stderr


def test_start_up_objects_leave_the_collectors_sight_and_collections_come_less_often():
    """After the call, a full collection walks only what was made since: start-up's objects are frozen, and a
    cycle made afterwards is still collected (the collector still runs, at the new thresholds)."""
    code = """
import gc, weakref
from s2s import heap
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
