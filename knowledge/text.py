"""Text helpers every way into the knowledge base shares: files, fetched pages, PDFs and feeds.

They live apart from the readers and the page extraction so that both can use them without
importing each other, and so that a text hashes the same whichever way it came in.

Invisible characters are removed here, once for every reader: NUL and other C0 controls never
belong in a quoted source; bidirectional controls in a title or publisher reverse the
citation line around them (a title can make "— Kyiv Independent" read as something else); and
zero-width characters let a document that looks empty, or a title that looks like another
one, into the store.
"""

from __future__ import annotations

import re

from knowledge.errors import SourceError

MAX_TITLE_CHARS = 300
"""The longest title any source may have (pasted text has always had this limit)."""
MAX_PUBLISHER_CHARS = 200
"""The longest publisher name: it is repeated in every citation of the source."""
MAX_ID_CHARS = 200
"""The longest document id: ids are typed by admins (`/kb show ID`) and travel in buttons."""

_BIDI_CONTROLS = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_ZERO_WIDTH = "\u200b-\u200d\u2060-\u2064\ufeff"
# Control characters but tab and line breaks: NUL, and the escapes that drive a terminal.
_CONTROLS = "\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f"
_INVISIBLE = re.compile(f"[{_BIDI_CONTROLS}{_ZERO_WIDTH}{_CONTROLS}]")
_ODD_BREAKS = re.compile("\r\n?|[\x0b\x0c]")  # carriage returns, vertical tab, form feed
_SURROGATE = re.compile("[\ud800-\udfff]")


def strip_invisible(text: str) -> str:
    """`text` without NUL and other control characters, bidi controls and zero-width characters."""
    return _INVISIBLE.sub("", text)


def check_unicode(text: str, what: str = "the text") -> str:
    """`text` as it is, unless it holds a lone surrogate (from "\\ud800" in JSON, or a broken
    character reference): that is not a character, cannot be stored as UTF-8, and guessing
    what it stood for would quote the source unfaithfully.

    Raises:
        SourceError: naming the first one found.
    """
    match = _SURROGATE.search(text)
    if match:
        raise SourceError(
            f"{what} holds an invalid character (lone surrogate U+{ord(match.group()):04X} at "
            f"position {match.start()}): fix the source's encoding"
        )
    return text


def replace_surrogates(text: str) -> str:
    """Lone surrogates as U+FFFD: for what a page says about itself (a PDF's metadata title),
    where refusing the whole source over one broken character would help nobody."""
    return _SURROGATE.sub("\ufffd", text)


def normalise_text(text: str) -> str:
    """One newline convention, no invisible characters and no outer blank space, so equal
    texts hash equally and a text of only invisible characters is seen to be empty.

    Raises:
        SourceError: the text holds a lone surrogate (see `check_unicode`).
    """
    text = strip_invisible(check_unicode(text))
    return _ODD_BREAKS.sub("\n", text).strip()


def clean_line(value: object, what: str, limit: int) -> str | None:
    """A title, publisher or id as one line: invisible characters removed, blank space
    collapsed, None when nothing is left.

    Raises:
        SourceError: longer than `limit` characters, or a lone surrogate.
    """
    if value is None:
        return None
    text = " ".join(strip_invisible(check_unicode(str(value), what)).split())
    if len(text) > limit:
        raise SourceError(f"{what} is too long ({len(text):,} characters; the limit is {limit:,})")
    return text or None


def title_from_text(text: str, limit: int = 80) -> str:
    """A stand-in title for a record that has none: the text's first words, marked as cut."""
    return shorten(text, limit)


def shorten(text: str, limit: int) -> str:
    """`text` as one line of at most `limit` characters, cut at a word and marked as cut.

    For what a page or PDF says about itself (its title, its site name): the admin cannot
    edit someone else's page, so an over-long title is cut rather than the article refused.
    """
    words = " ".join(strip_invisible(text).split())
    if len(words) <= limit:
        return words
    cut = words[: limit - 2]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut) + " …"
