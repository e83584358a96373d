"""What serving /double as an MCP tool costs: `python app.py` started with GRADIO_MCP_SERVER on and off, alternately,
3 rounds: seconds to the first served page, and /double (16 sentences of 26 words, beam width 2) through
gradio_client, best and median of 10."""

import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gradio_client import Client  # noqa: E402

from s2s import WordDoubler  # noqa: E402
from s2s.data import random_text_sentence  # noqa: E402
from s2s.tools.loadtest import launched_app  # noqa: E402

wd = WordDoubler.from_pretrained()
rng = random.Random(0)
text = "\n".join(random_text_sentence(rng, wd.tokenizer, 26) for _ in range(16))
rows = []
for _round in range(3):
    for mcp in ("True", "False"):
        with launched_app({"GRADIO_MCP_SERVER": mcp}) as (url, _, startup):
            client = Client(url, verbose=False)
            client.predict("I love CUDA", 5, 2, api_name="/double")
            times = []
            for _ in range(10):
                t = time.perf_counter()
                client.predict(text, 5, 2, api_name="/double")
                times.append(time.perf_counter() - t)
            rows.append(
                {
                    "mcp": mcp,
                    "startup_s": round(startup, 2),
                    "best_s": round(min(times), 4),
                    "median_s": round(statistics.median(times), 4),
                }
            )
            print(rows[-1], flush=True)
for mcp in ("True", "False"):
    r = [x for x in rows if x["mcp"] == mcp]
    print(
        mcp,
        "startup",
        [x["startup_s"] for x in r],
        "best",
        [x["best_s"] for x in r],
        "median",
        [x["median_s"] for x in r],
    )
