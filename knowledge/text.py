"""Text helpers every way into the knowledge base shares: files, fetched pages and PDFs.

They live apart from the readers and the page extraction so that both can use them without
importing each other, and so that a text hashes the same whichever way it came in.
"""

from __future__ import annotations


def normalise_text(text: str) -> str:
    """One newline convention and no outer blank space, so equal texts hash equally."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def title_from_text(text: str, limit: int = 80) -> str:
    """A stand-in title for a record that has none: the text's first words, marked as cut."""
    words = " ".join(text.split())
    if len(words) <= limit:
        return words
    return words[:limit].rsplit(" ", 1)[0] + " …"
