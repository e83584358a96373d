"""Print the table of bad requests and what each one gets, as Markdown for docs/serving.md: the tests' own table
(tests/bad_inputs.py), each answer computed by the checks the server runs before a request is queued."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the library and the tests' table, from a checkout

from bad_inputs import markdown  # noqa: E402

if __name__ == "__main__":
    print(markdown())
