"""Telegram HTML for answers and for the /sources listing, split to fit Telegram's limits.

Pure functions (no network, no python-telegram-bot import) so every rule is tested offline.
Telegram rejects a whole message whose HTML does not parse ("can't parse entities") or that is
longer than 4096 characters after parsing; either would lose an entire answer. So all text that
comes from articles or users is escaped, and a long answer becomes several messages that are
each valid HTML on their own.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import date

from bot.core.answer import GAP_MARK, Answer, describe_date
from bot.core.messages import EMPTY_KNOWLEDGE, SOURCES, TELEGRAM_LISTING
from bot.core.render import display_line, language_note, link_url, no_answer_text, source_meta
from bot.core.text_split import LINE, PARAGRAPH, SENTENCE, SPACE, Fragment, split, words
from knowledge.documents import DocumentInfo

MESSAGE_LIMIT = 4096
TITLE_MAX = 300  # a /sources entry; longer titles are cut with "…" so a page always fits
PUBLISHER_MAX = 100

_TAG = re.compile(r"<[^>]*>")  # safe: text never holds a raw "<" and hrefs have ">" escaped


def escape(text: str) -> str:
    """Escape text for Telegram HTML: only <, > and & matter; quotes stay readable in text."""
    return html.escape(text, quote=False)


def _width(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram measures text in (an emoji counts twice).

    Never less than the number of characters, so a message that passes here passes Telegram
    whichever of the two it counts.
    """
    return len(text.encode("utf-16-le")) // 2


def visible_text(html_text: str) -> str:
    """What the reader sees: tags dropped and entities decoded, as Telegram parses it."""
    return html.unescape(_TAG.sub("", html_text))


def visible_length(html_text: str) -> int:
    """The length Telegram's 4096 limit applies to: after entity parsing, not the raw HTML."""
    return _width(visible_text(html_text))


@dataclass(frozen=True)
class _Wrap:
    """One <b> or <a href> element. `key` tells apart two equal neighbouring elements."""

    tag: str
    href: str | None
    key: int

    def open(self) -> str:
        if self.href is None:
            return f"<{self.tag}>"
        return f'<{self.tag} href="{html.escape(self.href, quote=True)}">'


# Text inside at most one element. Tags and entities are only produced when a message is
# emitted, so no cut can ever fall inside a tag or inside an entity such as &amp;.
_Fragment = Fragment[_Wrap]


class _Builder:
    """Collects the fragments of one rendering and numbers its elements."""

    def __init__(self) -> None:
        self.fragments: list[_Fragment] = []
        self._keys = 0

    def wrap(self, tag: str, href: str | None = None) -> _Wrap:
        self._keys += 1
        return _Wrap(tag, href, self._keys)

    def add(self, text: str, sep: str, rank: int | None, wrap: _Wrap | None = None) -> None:
        self.fragments.append(Fragment(text, sep, rank, wrap))

    def text(self, text: str, sep: str, rank: int | None, wrap: _Wrap | None = None) -> None:
        self.fragments.extend(words(text, sep, rank, wrap))


def _answer_fragments(answer: Answer, today: date | None) -> list[_Fragment]:
    build = _Builder()
    if not answer.found:
        build.text(no_answer_text(answer), "", None)
        return build.fragments
    for n, quote in enumerate(answer.quotes):
        if quote.gap_before:  # "[…]": this quote does not continue the one before it
            build.add(GAP_MARK, " " if n else "", SENTENCE if n else None)
            build.text(quote.text, " ", None)
        else:
            build.text(quote.text, " " if n else "", SENTENCE if n else None)
        url = link_url(answer.source(quote.source).document.url)
        link = build.wrap("a", url) if url else None
        # "[1]" or "[1, 2024-10-20]", glued to the quote and measured like any other text, so
        # a date counts towards the limit. Word by word: a cut forced inside a marker (a limit
        # shorter than it) then drops its space instead of leaving a part of only whitespace.
        for word in answer.marker(quote).split(" "):
            build.add(word, " ", None, link)
    note = language_note(answer)  # the quotes' language, when it is not the asker's
    if note:
        build.text(note, "\n\n", PARAGRAPH, build.wrap("i"))
    build.add(answer.words.text(SOURCES), "\n\n", PARAGRAPH, build.wrap("b"))
    for n, source in enumerate(answer.sources):
        doc = source.document  # the heading stays with its first line: no cut between them
        build.add(f"[{source.number}]", "\n", LINE if n else None, build.wrap("b"))
        url = link_url(doc.url)
        build.text(display_line(doc.title), " ", SPACE, build.wrap("a", url) if url else None)
        build.text("— " + ", ".join(source_meta(answer, source, today)), " ", SPACE)
    return build.fragments


def _visible_width(text: str, wrap: _Wrap | None) -> int:
    """Tags are not counted: Telegram's limit applies to the text after entity parsing."""
    return _width(text)


def _emit(part: list[_Fragment]) -> str:
    """HTML for one message: each element opened and closed within it."""
    out: list[str] = []
    current: _Wrap | None = None
    for n, fragment in enumerate(part):
        sep = escape(fragment.sep) if n else ""
        if fragment.wrap != current:
            if current is not None:
                out.append(f"</{current.tag}>")
            out.append(sep)
            if fragment.wrap is not None:
                out.append(fragment.wrap.open())
            current = fragment.wrap
        else:
            out.append(sep)
        out.append(escape(fragment.text))
    if current is not None:
        out.append(f"</{current.tag}>")
    return "".join(out)


def answer_messages(answer: Answer, today: date | None = None, limit: int = MESSAGE_LIMIT) -> list[str]:
    """The answer as one or more Telegram HTML messages, each within `limit` visible characters.

    Quotes stay verbatim (escaped, never rewritten) and each keeps its [n] marker, dated when
    the sources' dates differ (`Answer.marker`); cuts go between paragraphs, then lines, then
    sentences, then words, and only then inside a word.
    """
    if limit < 1:
        raise ValueError(f"limit must be positive, not {limit}")
    return [_emit(part) for part in split(_answer_fragments(answer, today), limit, _visible_width)]


def _shorten(text: str, width: int) -> str:
    """Cut text to `width` UTF-16 units, marking the cut with '…'."""
    if _width(text) <= width:
        return text
    text = text[:max(width - 1, 0)]
    while text and _width(text) > width - 1:
        text = text[:-1]
    return text.rstrip() + "…"


def sources_page(documents: list[DocumentInfo], page: int, per_page: int = 8,
                 today: date | None = None) -> tuple[str, int]:
    """One page of the knowledge-base listing for /sources, and the number of pages.

    `page` is 0-based and clamped, so a stale "next" button still shows a real page. Titles
    and publishers are shortened so that a whole page fits in one message.
    """
    if per_page < 1:
        raise ValueError(f"per_page must be positive, not {per_page}")
    if not documents:
        return EMPTY_KNOWLEDGE, 1
    count = len(documents)
    pages = -(-count // per_page)
    page = min(max(page, 0), pages - 1)
    noun = "document" if count == 1 else "documents"
    lines = [TELEGRAM_LISTING.format(count=count, noun=noun, page=page + 1, pages=pages)]
    budget = (MESSAGE_LIMIT - _width(lines[0])) // per_page - 1  # one newline per entry
    for doc in documents[page * per_page:(page + 1) * per_page]:
        publisher = _shorten(display_line(doc.publisher, "publisher unknown"), PUBLISHER_MAX)
        meta = " — " + ", ".join([publisher, doc.kind.value, describe_date(doc.published, today)])
        title = _shorten(display_line(doc.title), max(1, min(TITLE_MAX, budget - _width(meta) - 2)))
        url = link_url(doc.url)
        if url:
            title_html = f'<a href="{html.escape(url, quote=True)}">{escape(title)}</a>'
        else:
            title_html = escape(title)
        lines.append(f"• {title_html}{escape(meta)}")
    return "\n".join(lines), pages
