"""The page's CSS."""

# Phones: the page is as wide as the screen; wide figures shrink to it, wide tables and notes scroll in their own box.
PAGE_CSS = """
.gradio-container { width: 100% !important; max-width: 1400px !important; margin: auto; }
.gradio-container img { max-width: 100%; height: auto; }
.note { overflow-x: auto; }
.note table { width: auto; }
@media (max-width: 720px) { .virtual-table-viewport table { min-width: 640px; } }
#double-button { min-height: 3rem; }
"""

# The padded batch's matrices (s2s.page.render_batch.padded_batch_html): real cells blue, <pad> grey, as the blog draws.
BATCH_CSS = """
.batch { display: flex; flex-wrap: wrap; gap: 12px; }
.batch .matrix { overflow-x: auto; max-width: 100%; }
.batch table { border-collapse: separate; border-spacing: 2px; font-size: 12px; }
.batch caption { text-align: left; font-weight: 600; padding-bottom: 4px; white-space: nowrap; }
.batch td { padding: 2px 5px; white-space: nowrap; border-radius: 3px; color: #111827; }
.batch td.w { background: #bfdbfe; }
.batch td.pad { background: #e5e7eb; color: #6b7280; font-style: italic; }
.batch th { font-weight: normal; font-size: 11px; color: #4b5563; white-space: nowrap; padding: 0 6px; }
.batch .more { font-size: 12px; color: #4b5563; }
"""

CSS = PAGE_CSS + BATCH_CSS
