"""Files people send to the bot in chat: which are taken, how big, and the name they are saved
under. Both chat adapters ask this before downloading anything, so that a refused upload costs
no bandwidth and reads the same on Telegram and Discord.
"""

from __future__ import annotations

import re
from pathlib import Path

UPLOAD_SUFFIXES = (".txt", ".md", ".html", ".htm", ".pdf")
"""What chat uploads may be: the readers of `knowledge.readers` for one document a file
(JSONL and CSV bulk imports stay on the terminal, where a mistake is easier to see)."""

MAX_UPLOAD_BYTES = 10 * 1024 * 1024


def safe_upload_name(name: str | None) -> str:
    """The uploaded file's own name, reduced to a safe one that keeps its stem and suffix.

    The stem becomes the document's id and the suffix picks the reader, so both are kept;
    folders, leading dots and characters a file system may not like are dropped.
    """
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = re.sub(r"[^\w-]+", "_", stem).strip("_")[:80] or "upload"
    suffix = re.sub(r"[^\w]+", "", suffix).lower()[:10]
    return f"{stem}.{suffix}" if suffix else stem


def upload_problem(name: str, size: int | None) -> str | None:
    """Why an upload is refused before it is downloaded, or None when it may be."""
    if Path(name).suffix.lower() not in UPLOAD_SUFFIXES:
        return (f"I can't add {name}: send a .txt, .md, .html, .htm or .pdf file. "
                "(Other formats can be added from the server's terminal.)")
    if size is not None and size > MAX_UPLOAD_BYTES:
        return f"{name} is {size / 1024 / 1024:.1f} MB; uploads are limited to {MAX_UPLOAD_BYTES // 2**20} MB."
    return None
