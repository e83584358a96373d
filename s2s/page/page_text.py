"""The page's words: its introduction, what each section teaches, the prompts before a press, and the API example."""

INTRO = """# Word Doubler
A GRU encoder–decoder that writes every word twice — `I love CUDA` → `I I love love CUDA CUDA` — and a live lesson in
**batching**: all your sentences are padded into one tensor and decoded together, the loss ignores the padding,
and you can see what the decoder believed at every step. One sentence per line."""

STEPS = (
    "## Step by step\nThe decoder emits one word per step; these are its top-k candidates at each step. "
    "With a beam wider than 1, ▶ marks the word the search kept, which need not be the top candidate."
)
TREE = "### The beam search of this sentence"
PADDED_BATCH = (
    "## The padded batch\nWhat the model saw: every sentence (or chunk of a long one) is a row, padded on "
    "the right to the longest; the targets are the exact doubling plus `<eos>`, scored under the model "
    "with teacher forcing."
)
UNPACKED = (
    "## What if we forgot to pack?\nThe tutorials' mistake, on your batch: the encoder's GRU run straight "
    "through the `<pad>` after each short sentence instead of stopping at its last word."
)
BATCHING = (
    "## Sorted vs as-sent batching\nYour rows in one batch as you sent them, and sorted into length buckets "
    "(1–5, 6–10, … words) as training does: padding in the encoder, and decoder steps per row."
)
RELIABILITY = "## Where the model is reliable"
FORCE = (
    "### What if the decoder had said…\nThe decoder reads its own last word at every step. Make it say another "
    "one — any candidate of the table — and watch whether it gets back to the doubling or goes astray."
)

PRESS_DOUBLE = "*Press **Double** to run.*"
PRESS_TREE = "*Press **Draw the beam tree** to see every beam the search kept and dropped for this sentence.*"
PRESS_UNPACKED = "*Press **Run my batch without packing** to decode your batch from the unpacked states.*"
PRESS_COMPARE = "*Tick “Compare with one-at-a-time” to also run each sentence alone and time both ways.*"

API_NOTE = """```python
from gradio_client import Client
client = Client("http://127.0.0.1:7860/")
results = client.predict("I love CUDA\\nTF is Aww", 5, api_name="/double")  # top-k 5
results[0]["output"]  # 'I I love love CUDA CUDA'
client.predict("I love CUDA", 5, 1, api_name="/double")  # a third value sets the beam width (1 = greedy)
```"""
