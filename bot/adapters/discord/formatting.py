"""Discord embeds for answers and for the /sources listing, split to fit Discord's limits.

Pure functions (no network) so every rule is tested offline. Discord rejects a whole message
(400 Invalid Form Body) when any embed limit is crossed, which would lose the entire answer,
and its markdown would let article text bold itself or fake a link. So all text that comes from
articles or users is escaped, and a long answer continues in further embeds and messages that
each stay within the limits. Lengths are counted as Discord counts them: characters (code
points) of the markdown source, not of what the reader sees.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from urllib.parse import quote as percent_encode

import discord

from bot.core.answer import GAP_MARK, Answer, Source, describe_date
from bot.core.messages import EMPTY_KNOWLEDGE, KB_TITLE, QUOTED_FOOTER, READ_LINK, SOURCE_COUNT, SOURCES_FOOTER
from bot.core.render import display_line, language_note, no_answer_text, source_meta
from bot.core.text_split import SENTENCE, Fragment, one_line, take, words
from knowledge.documents import DocumentInfo

DESCRIPTION_LIMIT = 4096
TITLE_LIMIT = 256
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
EMBED_TOTAL_LIMIT = 6000  # title, description, field names and values, footer, author: all embeds
CONTENT_LIMIT = 2000
MAX_FIELDS = 25
MAX_EMBEDS = 10

COLOUR = discord.Colour(0x0057B7)
PUBLISHER_MAX = 100
URL_MAX = 800  # a longer URL is not linked, so one source can never fill a field on its own
MAX_PER_PAGE = 25  # at 25 entries a line still fits (4096 // 25 = 163) with its metadata
MIN_PIECE = 500  # less room than this left in a message: continue in the next one

_MARKDOWN = re.compile(r"([\\*_~`|>#\-\[\]()<])")  # "<" too: <@id>, <#id>, <t:…> are markup
_LIST_NUMBER = re.compile(r"^(\s*\d+)\.(?=\s|$)", re.MULTILINE)  # "1. " starts a list
_URL_UNSAFE = re.compile(r"[\s()<>\\]")


def escape_markdown(text: str) -> str:
    """Backslash every character Discord markdown reacts to, so text shows exactly as written.

    "@" is left alone: "@everyone" stays readable, and `AllowedMentions.none()` on every send
    is what keeps it from pinging.
    """
    return _LIST_NUMBER.sub(r"\1\\.", _MARKDOWN.sub(r"\\\1", text))


def embed_length(embed: discord.Embed) -> int:
    """Characters Discord counts towards 6000: title, description, fields, footer, author name.

    discord.py's `len(embed)` sums exactly these, in code points as Discord's API does.
    """
    return len(embed)


def message_length(embeds: Iterable[discord.Embed]) -> int:
    """The total Discord checks against 6000: it applies to all embeds of a message together."""
    return sum(embed_length(embed) for embed in embeds)


def _link_target(url: str | None) -> str | None:
    """`url` made safe inside "[text](url)", or None when it should not be linked.

    Only http(s) (a "javascript:" link must not become clickable); whitespace, brackets and
    backslashes would end or break the link, so they are percent-encoded.
    """
    if not url or not url.lower().startswith(("http://", "https://")):
        return None
    safe = _URL_UNSAFE.sub(lambda m: percent_encode(m.group(), safe=""), url)
    return safe if len(safe) <= URL_MAX else None


def _fit(text: str, limit: int) -> str:
    """Escaped `text` within `limit` characters, cut with "…" but never inside an escape."""
    escaped = escape_markdown(text)
    if len(escaped) <= limit:
        return escaped
    kept: list[str] = []
    size = 0
    for char in text:
        size += len(escape_markdown(char))
        if size > limit - 1:
            break
        kept.append(char)
    prefix = "".join(kept).rstrip()
    while prefix and len(escape_markdown(prefix)) > limit - 1:  # "1." may gain a backslash
        prefix = prefix[:-1].rstrip()
    return escape_markdown(prefix) + "…"


def _render(text: str, url: str | None) -> str:
    """One fragment as markdown: a link when it has a target, else escaped text."""
    return f"[{text}]({url})" if url else escape_markdown(text)


def _width(text: str, url: str | None) -> int:
    return len(_render(text, url))


def _join(part: list[Fragment[str]]) -> str:
    return "".join((f.sep if n else "") + _render(f.text, f.wrap) for n, f in enumerate(part))


def _quote_fragments(answer: Answer) -> list[Fragment[str]]:
    """Quotes word by word, each followed by its glued marker (a link to the source).

    The marker is "[n]", or "[n, 2024-10-20]" when the sources differ in date; either way one
    fragment, measured as rendered, so the date counts towards every limit.
    """
    fragments: list[Fragment[str]] = []
    for n, quote in enumerate(answer.quotes):
        if quote.gap_before:  # "[…]": this quote does not continue the one before it
            fragments.append(Fragment(GAP_MARK, " " if n else "", SENTENCE if n else None, None))
            fragments += words(quote.text, " ", None)
        else:
            fragments += words(quote.text, " " if n else "", SENTENCE if n else None)
        url = _link_target(answer.source(quote.source).document.url)
        fragments.append(Fragment(answer.marker(quote), " ", None, url))
    return fragments


def _source_field(answer: Answer, source: Source, today: date | None) -> tuple[str, str]:
    """("[1] Title", "[Read](url) — Publisher, news, as of …"): both within their limits,
    the bot's words in the asker's language."""
    doc = source.document
    prefix = f"[{source.number}] "
    name = prefix + _fit(display_line(doc.title, "Untitled"), FIELD_NAME_LIMIT - len(prefix))
    publisher, kind, age = source_meta(answer, source, today)
    meta = ", ".join([_fit(publisher, PUBLISHER_MAX), kind, age])
    url = _link_target(doc.url)
    value = f"[{answer.words.text(READ_LINK)}]({url}) — {meta}" if url else meta
    return name, value if len(value) <= FIELD_VALUE_LIMIT else meta


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


class _Layout:
    """Fills embeds, then messages, in order; each new one starts when a limit would be crossed.

    `reserve` keeps room in every message for the footer that only the last embed gets, since
    which message is last is known only at the end.
    """

    def __init__(self, reserve: int) -> None:
        self.reserve = reserve
        self.messages: list[list[discord.Embed]] = []
        self.next_message()

    @property
    def embed(self) -> discord.Embed:
        return self.messages[-1][-1]

    def room(self) -> int:
        return EMBED_TOTAL_LIMIT - self.used

    def next_message(self) -> None:
        self.messages.append([discord.Embed(colour=COLOUR)])
        self.used = self.reserve

    def next_embed(self) -> None:
        if len(self.messages[-1]) >= MAX_EMBEDS:
            self.next_message()
        else:
            self.messages[-1].append(discord.Embed(colour=COLOUR))

    def title(self, text: str) -> None:
        self.embed.title = text
        self.used += len(text)

    def describe(self, fragments: list[Fragment[str]]) -> None:
        """The fragments as descriptions of consecutive embeds, each cut by `take`."""
        start = 0
        while start < len(fragments):
            limit = min(DESCRIPTION_LIMIT, self.room())
            first = _width(fragments[start].text, fragments[start].wrap)
            if limit < DESCRIPTION_LIMIT and (limit < MIN_PIECE or first > limit):
                self.next_message()  # a fresh message has room for a full description
            elif self.embed.description or self.embed.fields:
                self.next_embed()
            limit = min(DESCRIPTION_LIMIT, self.room())
            end = take(fragments, start, limit, _width)
            self.embed.description = _join(fragments[start:end])
            self.used += len(self.embed.description)
            start = end

    def field(self, name: str, value: str) -> None:
        size = len(name) + len(value)
        if size > self.room():
            self.next_message()
        elif len(self.embed.fields) >= MAX_FIELDS:
            self.next_embed()
        self.embed.add_field(name=name, value=value, inline=False)
        self.used += size


def answer_messages(answer: Answer, today: date | None = None) -> list[list[discord.Embed]]:
    """The embeds of each message to send for `answer`, every limit of Discord respected.

    Quotes stay verbatim (escaped, never rewritten), each with its [n] marker (dated when the
    sources' dates differ, see `Answer.marker`), in the descriptions; the sources follow as
    fields, numbered, once each and in order.
    """
    said = answer.words
    if not answer.found:
        return [[discord.Embed(description=no_answer_text(answer), colour=COLOUR)]]
    footer = said.text(QUOTED_FOOTER, sources=said.plural(*SOURCE_COUNT, len(answer.sources)))
    note = language_note(answer)  # the quotes' language, when it is not the asker's
    footer = f"{note}\n{footer}" if note else footer
    layout = _Layout(reserve=len(footer))
    layout.title(_fit(one_line(answer.question), TITLE_LIMIT) or "Answer")
    layout.describe(_quote_fragments(answer))
    for source in answer.sources:
        layout.field(*_source_field(answer, source, today))
    layout.embed.set_footer(text=footer)
    return layout.messages


def _listing_line(doc: DocumentInfo, budget: int, today: date | None) -> str:
    """'• [Title](url) — Publisher, kind, as of …' within `budget` characters of markdown."""
    publisher = _fit(display_line(doc.publisher, "publisher unknown"), PUBLISHER_MAX)
    meta = " — " + ", ".join([publisher, doc.kind.value, describe_date(doc.published, today)])
    url = _link_target(doc.url)
    link = len(f"[]({url})") if url else 0
    if url and 2 + link + len(meta) + 1 > budget:
        url, link = None, 0  # the title matters more than its link
    title = _fit(display_line(doc.title, "Untitled"), max(1, min(TITLE_LIMIT, budget - 2 - link - len(meta))))
    return "• " + (f"[{title}]({url})" if url else title) + meta


def sources_page(documents: list[DocumentInfo], page: int, per_page: int = 10,
                 today: date | None = None) -> tuple[discord.Embed, int]:
    """One page of the knowledge-base listing for /sources, and the number of pages.

    `page` is 0-based and clamped, so a stale "next" button still shows a real page. Titles
    and publishers are shortened so that a whole page fits in one description.
    """
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise ValueError(f"per_page must be between 1 and {MAX_PER_PAGE}, not {per_page}")
    embed = discord.Embed(title=KB_TITLE, colour=COLOUR)
    if not documents:
        embed.description = EMPTY_KNOWLEDGE
        embed.set_footer(text=SOURCES_FOOTER.format(page=1, pages=1, documents=_plural(0, "document")))
        return embed, 1
    count = len(documents)
    pages = -(-count // per_page)
    page = min(max(page, 0), pages - 1)
    budget = (DESCRIPTION_LIMIT - (per_page - 1)) // per_page  # one newline between entries
    shown = documents[page * per_page:(page + 1) * per_page]
    embed.description = "\n".join(_listing_line(doc, budget, today) for doc in shown)
    embed.set_footer(text=SOURCES_FOOTER.format(page=page + 1, pages=pages, documents=_plural(count, "document")))
    return embed, pages
