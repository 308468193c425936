"""Fuzzing Discord's renderers: every answer, summary, digest or listing becomes messages within
every embed limit (as Discord counts them), with article text escaped and split without loss."""

from __future__ import annotations

import re
from datetime import date

import discord
from hypothesis import given
from hypothesis import strategies as st

from bot.adapters.discord.formatting import (
    DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    _link_target,
    answer_messages,
    embed_length,
    escape_markdown,
    sources_page,
)
from bot.adapters.discord.summary_format import digest_messages, summary_messages
from bot.core.answer import Answer
from bot.core.summary import Digest, Summary
from knowledge.documents import DocumentInfo
from tests.bot.adapters import strategies as fuzz
from tests.bot.adapters.discord.test_formatting import SPECIALS, assert_within_limits, descriptions, unescape
from tests.fuzzing import bounded

TODAY = date(2026, 11, 26)
_ESCAPED = re.compile(r"\\[^0-9A-Za-z\s]")
# Any scheme's case: "HTTPS://" is linked as "https://" is (the module lower-cases to check).
_MARKER_LINK = re.compile(r"\[\[\d+(?:, (?:\d{4}(?:-\d\d){0,2}|date unknown))?\]\]\((?i:https?)://[^\s()<>\\]+\)")


def expected_description(answer: Answer) -> str:
    """The unsplit description: escaped quotes, each with its marker, linked where allowed.

    Which URLs may be linked (http(s) only, unsafe characters encoded, not too long) is
    tested example by example in test_formatting.py; here it only has to agree with itself.
    """
    parts = []
    for quote in answer.quotes:
        target = _link_target(answer.source(quote.source).document.url)
        marker = answer.marker(quote)
        parts.append(f"{escape_markdown(quote.text)} " + (f"[{marker}]({target})" if target else escape_markdown(marker)))
    return " ".join(parts)


def assert_split_faithfully(messages: list[list[discord.Embed]], whole: str) -> None:
    """The descriptions read back as the whole, each cut outside every escape and link."""
    rest = unescape(whole)  # compared as shown: a piece may escape more ("1." at its start)
    for text in descriptions(messages):
        rest = rest.lstrip()  # whitespace at a cut is dropped, nothing else
        shown = unescape(text)
        assert rest.startswith(shown), (shown[:80], rest[:80])
        rest = rest[len(shown):]
        bare = _MARKER_LINK.sub("", _ESCAPED.sub("", text))
        assert not set(bare) & set(SPECIALS), (sorted(set(bare) & set(SPECIALS)), text[-80:])
    assert rest == ""


@given(fuzz.answers())
def test_every_answer_fits_discord_and_reads_back_whole(answer: Answer) -> None:
    messages = bounded(lambda: answer_messages(answer, TODAY))
    assert isinstance(messages, list)
    assert_within_limits(messages)
    if answer.found:
        assert_split_faithfully(messages, expected_description(answer))


@given(fuzz.summaries())
def test_every_summary_fits_discord(summary: Summary) -> None:
    messages = bounded(lambda: summary_messages(summary, TODAY))
    assert isinstance(messages, list)
    assert_within_limits(messages)


@given(fuzz.digests())
def test_every_digest_fits_discord(digest: Digest) -> None:
    messages = bounded(lambda: digest_messages(digest, TODAY))
    assert isinstance(messages, list)
    assert_within_limits(messages)


@given(fuzz.listings, st.integers(-3, 10), st.integers(1, 25))
def test_every_sources_page_fits_discord(documents: list[DocumentInfo], page: int, per_page: int) -> None:
    outcome = bounded(lambda: sources_page(documents, page, per_page, TODAY))
    assert isinstance(outcome, tuple)
    embed, pages = outcome
    assert isinstance(embed, discord.Embed) and pages >= 1
    assert len(embed.description or "") <= DESCRIPTION_LIMIT
    assert embed_length(embed) <= EMBED_TOTAL_LIMIT
    assert_within_limits([[embed]])


@given(fuzz.text)
def test_escaped_text_shows_as_written(text: str) -> None:
    escaped = escape_markdown(text)
    assert unescape(escaped) == text
