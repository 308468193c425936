"""Drops a trailing list of links ("Related Sources: • Source 1 • Source 2") from an article.

Articles copied from web pages often end with a block of related links whose targets did not
survive the copy. Its words are not the article's: quoted as an answer or cut into a passage
it reads as nonsense ("Source 1 • Source 2") and, worse, looks like a citation. Only a block
at the very end is dropped, and only when a short heading that names a link list is followed
by nothing but short list items, so a closing paragraph that mentions "sources" stays.
"""

from __future__ import annotations

import re

_HEADING = re.compile(
    r"^\s*(?:#{1,6}\s*)?(?:\*\*)?(?:related(?: sources| articles| stories| links| reading)?|sources|"
    r"see also|read more|more on this(?: story)?|further reading|links)(?:\*\*)?\s*:?\s*(?:\*\*)?\s*$",
    re.IGNORECASE,
)
_BULLET = re.compile(r"^\s*(?:[•·▪◦]\s*|[*+-]\s+|\d{1,2}[.)]\s+)")
_MAX_ITEM_CHARS = 160  # a link title, not a paragraph
_MAX_ITEMS = 30


def _items(line: str) -> list[str] | None:
    """The link titles on one list line ("• Source 1 • Source 2" holds two), or None when
    the line is not a list line."""
    if not _BULLET.match(line):
        return None
    parts = [part.strip() for part in re.split(r"\s[•·▪◦]\s?", _BULLET.sub("", line, count=1))]
    if any(len(part) > _MAX_ITEM_CHARS for part in parts):
        return None
    return [part for part in parts if part]


def strip_link_footer(text: str) -> str:
    """`text` without a trailing related-links block; unchanged when it has none."""
    lines = text.rstrip().split("\n")
    end = len(lines)
    items = 0
    index = end - 1
    while index >= 0:
        line = lines[index]
        if not line.strip():
            index -= 1
            continue
        found = _items(line)
        if found is None:
            break
        items += len(found)
        index -= 1
    if items == 0 or items > _MAX_ITEMS or index < 1 or not _HEADING.match(lines[index]):
        return text
    body = "\n".join(lines[:index]).rstrip()
    return body if body.strip() else text
