"""Cutting a long text into pieces under a limit, at the best boundary: shared by the adapters.

Every chat platform refuses a message that is too long, so an answer must be split; a cut in
the middle of a sentence, a link or an escape sequence would garble it. The text is first
broken into unbreakable `Fragment`s (words, citation markers) that carry how good a cut before
them is; a platform then measures fragments the way it counts length (Telegram: UTF-16 units
of visible text, Discord: characters of the markdown source) and renders them itself, so no cut
can ever fall inside markup.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

# Where a long text may be cut, best first. A fragment whose rank is None is glued to the one
# before it (a quote and its "[1]" marker must arrive together).
PARAGRAPH, LINE, SENTENCE, SPACE, CHAR = range(5)

W = TypeVar("W")  # what a platform wraps a fragment in: an HTML element, a link target

# Measures `text` wrapped in `wrap` as the platform counts it; separators are measured unwrapped.
Width = Callable[[str, W | None], int]

_WORDS = re.compile(r"(\s+)")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’»)\]]*$")
_OPENERS = "\"'“‘«(["  # a sentence starts with a capital, maybe after these: "no. 5" does not


@dataclass(frozen=True)
class Fragment(Generic[W]):
    """Unbreakable text (a word, a marker) inside at most one platform wrapper.

    `sep` is the whitespace before it, dropped when a piece starts there; `rank` says how good
    a cut before it is (None: never cut there unless nothing else fits).
    """

    text: str
    sep: str
    rank: int | None
    wrap: W | None = None


def one_line(text: str) -> str:
    """Titles and publishers on one line: a newline in a title would break the layout."""
    return " ".join(text.split())


def words(text: str, sep: str, rank: int | None, wrap: W | None = None) -> list[Fragment[W]]:
    """Text word by word; a space between sentences is a better cut than other spaces.

    The first word gets `sep` and `rank`; the whitespace between later words is kept as their
    `sep`, so the pieces read back as the text itself.
    """
    pieces = _WORDS.split(text.strip())
    texts, spaces = pieces[::2], pieces[1::2]
    fragments: list[Fragment[W]] = []
    for n, word in enumerate(texts):
        if not word:
            continue  # only when the text is empty
        if n:
            space = spaces[n - 1]
            ends = _SENTENCE_END.search(texts[n - 1]) and word.lstrip(_OPENERS)[:1].isupper()
            rank = (PARAGRAPH if "\n\n" in space else LINE if "\n" in space
                    else SENTENCE if ends else SPACE)
            sep = space
        fragments.append(Fragment(word, sep, rank, wrap))
    return fragments


def _explode(fragment: Fragment[W]) -> list[Fragment[W]]:
    """A word too long for one piece, as single characters: the last-resort cut points."""
    first = Fragment(fragment.text[0], fragment.sep, fragment.rank, fragment.wrap)
    return [first] + [Fragment(c, "", CHAR, fragment.wrap) for c in fragment.text[1:]]


def take(fragments: list[Fragment[W]], start: int, limit: int, width: Width[W]) -> int:
    """The end of the piece that begins at `start`: fill up to `limit`, then cut at the
    best-ranked point inside, the latest on ties.

    Best rank first means a paragraph boundary beats a fuller piece: a block that does not fit
    after the text before it starts a new piece instead of being torn in two. A fragment wider
    than `limit` is exploded into characters in place (so `fragments` may grow); one character
    wider than the limit (an emoji under a limit of 1) stays whole.
    """
    while (width(fragments[start].text, fragments[start].wrap) > limit
           and len(fragments[start].text) > 1):
        fragments[start:start + 1] = _explode(fragments[start])
    size = width(fragments[start].text, fragments[start].wrap)
    end, best, best_rank = start + 1, None, CHAR + 1
    while end < len(fragments):
        fragment = fragments[end]
        if fragment.rank is not None and fragment.rank <= best_rank:
            best, best_rank = end, fragment.rank  # [start, end) fits: a cut here is allowed
        size += width(fragment.sep, None) + width(fragment.text, fragment.wrap)
        if size > limit:
            break
        end += 1
    return end if end == len(fragments) or best is None else best


def split(fragments: list[Fragment[W]], limit: int, width: Width[W]) -> list[list[Fragment[W]]]:
    """All pieces of `fragments`, each within `limit` as `width` measures it (see `take`)."""
    fragments = list(fragments)
    parts: list[list[Fragment[W]]] = []
    start = 0
    while start < len(fragments):
        end = take(fragments, start, limit, width)
        parts.append(fragments[start:end])
        start = end
    return parts
