"""How `/kb` output looks in Telegram: escaped HTML lines of bounded length, packed into
messages under the 4096-character limit.

Kept apart from the handlers so that the look can be tested without a running bot.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from bot.core.admin import Page
from bot.core.answer import describe_date
from bot.core.kb_requests import USAGE
from bot.core.render import display_line, link_url
from bot.core import messages as phrases
from bot.adapters.telegram.formatting import MESSAGE_LIMIT, escape, visible_length
from knowledge.documents import DocumentInfo

Lines = list[str]  # HTML lines, each short enough for a message of its own


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2  # Telegram counts UTF-16 code units


def clip(text: str, width: int) -> str:
    """Text cut to `width` UTF-16 units, the cut marked with '…'."""
    if _units(text) <= width:
        return text
    text = text[: max(width - 1, 0)]
    while text and _units(text) > width - 1:
        text = text[:-1]
    return text.rstrip() + "…"


def plain(lines: Sequence[str], width: int = 600) -> Lines:
    """Plain-text lines (the core's renderings) as escaped HTML lines of bounded length."""
    return [escape(clip(line, width)) for line in lines]


def pack(lines: Sequence[str], limit: int = MESSAGE_LIMIT, pre: bool = False) -> list[str]:
    """HTML lines joined into as few messages as fit in `limit` visible characters.

    Each line must fit on its own (`plain` and `clip` see to that); with `pre` every message is
    one <pre> block, so a table survives the split.
    """
    messages: list[list[str]] = [[]]
    width = 0
    for line in lines:
        needed = visible_length(line) + (1 if messages[-1] else 0)
        if messages[-1] and width + needed > limit:
            messages.append([])
            needed, width = visible_length(line), 0
        messages[-1].append(line)
        width += needed
    texts = ["\n".join(m) for m in messages if m] or [escape(phrases.TELEGRAM_NOTHING)]
    return [f"<pre>{t}</pre>" for t in texts] if pre else texts


def _link(text: str, url: str | None) -> str:
    url = link_url(url)
    return f'<a href="{html.escape(url, quote=True)}">{escape(text)}</a>' if url else escape(text)


def document_entry(doc: DocumentInfo) -> str:
    """A document as two HTML lines: its id (tap to copy) and linked title, then its facts."""
    meta = (f"{display_line(doc.publisher, 'publisher unknown')}, {doc.kind.value}, "
            f"{describe_date(doc.published)}, {doc.passage_count} passages")
    return (f"<code>{escape(clip(doc.id, 80))}</code> {_link(clip(display_line(doc.title), 120), doc.url)}"
            f"\n    {escape(clip(meta, 160))}")


def list_page(page: Page, filters: dict[str, str]) -> str:
    """One page of `/kb list` as one message (ten entries of bounded length always fit)."""
    noun = "document" if page.total == 1 else "documents"
    listing = phrases.TELEGRAM_LISTING.format(count=page.total, noun=noun, page=page.page, pages=page.pages)
    count, _, pages = listing.partition(" (")
    header = f"<b>{escape(count)}</b> ({escape(pages)}"  # the count in bold
    if filters:
        header += "\n" + escape(clip(", ".join(f"{k}={v}" for k, v in filters.items()), 300))
    entries = [document_entry(doc) for doc in page.items] or [escape(phrases.TELEGRAM_KB_NO_MATCH)]
    return "\n".join([header, *entries])


def show_text(info: DocumentInfo, first: str) -> str:
    rows = [("id", info.id), ("url", info.url or "-"), ("publisher", display_line(info.publisher, "-")),
            ("kind", info.kind.value), ("published", info.published or "unknown"),
            ("language", info.language), ("added by", info.added_by),
            ("added at", info.added_at), ("passages", str(info.passage_count))]
    lines = [f"<b>{escape(clip(display_line(info.title), 300))}</b>"]
    lines += [f"{name}: {escape(clip(value, 300))}" for name, value in rows]
    if first:
        lines += ["", "<i>First passage</i>", escape(clip(first, 2500))]
    return "\n".join(lines)


def help_text() -> str:
    lines = [f"<b>{escape(phrases.TELEGRAM_KB_HELP_TITLE)}</b>", *(escape(u) for u in USAGE.values()),
             "", escape(phrases.TELEGRAM_KB_UPLOAD_HINT)]
    return "\n".join(lines)
