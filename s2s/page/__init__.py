"""What the page shows: views by name, drawn as tables, figures, Markdown and HTML from plain data."""
