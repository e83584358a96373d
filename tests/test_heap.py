"""s2s.heap: the server's malloc settings are accepted by this machine's glibc (a subprocess: they are process-wide)."""

import subprocess
import sys


def test_glibc_accepts_the_servers_malloc_settings():
    code = "from s2s import heap; print(heap.give_memory_back())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "True", done.stderr
