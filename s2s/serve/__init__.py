"""Serving a public Space: the micro-batcher, the request guard, the heap, and Gradio's patches."""
