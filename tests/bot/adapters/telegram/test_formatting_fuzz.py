"""Fuzzing Telegram's renderers: every message any answer, summary, digest or listing becomes
parses as Telegram HTML and fits 4096 visible characters (UTF-16 units), and the parts read
back as the whole answer."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from bot.adapters.telegram.formatting import MESSAGE_LIMIT, answer_messages, sources_page, visible_length
from bot.adapters.telegram.summary_format import digest_messages, posted_by, summary_messages, with_footer
from bot.core.answer import Answer
from bot.core.summary import Digest, Summary
from knowledge.documents import DocumentInfo
from tests.bot.adapters import strategies as fuzz
from tests.bot.adapters.telegram.test_formatting import assert_split_faithfully, assert_well_formed
from tests.fuzzing import bounded
from tests.telegram_html import parse_html

TODAY = date(2026, 11, 26)


def assert_sendable(messages: list[str]) -> None:
    """What the Bot API would accept: strict HTML (the stand-in's parser) within the limit."""
    assert messages
    for message in messages:
        assert 0 < visible_length(message) <= MESSAGE_LIMIT
        assert_well_formed(message)
        parse_html(message)


@given(fuzz.answers())
def test_every_answer_fits_telegram_and_reads_back_whole(answer: Answer) -> None:
    messages = bounded(lambda: answer_messages(answer, TODAY))
    assert isinstance(messages, list)
    assert_sendable(messages)
    [whole] = answer_messages(answer, TODAY, limit=10**9)
    assert_split_faithfully(messages, whole)


@given(fuzz.answers(3), st.integers(1, 300))
def test_every_answer_fits_any_smaller_limit(answer: Answer, limit: int) -> None:
    messages = bounded(lambda: answer_messages(answer, TODAY, limit))
    assert isinstance(messages, list)
    [whole] = answer_messages(answer, TODAY, limit=10**9)
    for message in messages:
        assert_well_formed(message)
        parse_html(message)
        # One character wider than the limit (an emoji under a limit of 1) is the only overrun.
        assert visible_length(message) <= max(limit, 2)
    assert_split_faithfully(messages, whole, max(limit, 2))


@given(fuzz.summaries(), st.text(max_size=100))
def test_every_summary_with_its_footer_fits_telegram(summary: Summary, name: str) -> None:
    messages = bounded(lambda: with_footer(summary_messages(summary, TODAY), posted_by(name)))
    assert isinstance(messages, list)
    assert_sendable(messages)


@given(fuzz.digests(), st.text(max_size=100))
def test_every_digest_with_its_footer_fits_telegram(digest: Digest, name: str) -> None:
    messages = bounded(lambda: with_footer(digest_messages(digest, TODAY), posted_by(name)))
    assert isinstance(messages, list)
    assert_sendable(messages)


@given(fuzz.listings, st.integers(-3, 10), st.integers(1, 30))
def test_every_sources_page_fits_telegram(documents: list[DocumentInfo], page: int, per_page: int) -> None:
    outcome = bounded(lambda: sources_page(documents, page, per_page, TODAY))
    assert isinstance(outcome, tuple)
    text, pages = outcome
    assert pages >= 1
    assert_sendable([text])
