"""Fuzzing feed parsing: any bytes a feed URL returns give a feed or one `SourceError`, in time.

Inputs are RSS 2.0, RSS 1.0 and Atom documents with odd entities (a lone-surrogate reference,
undefined entities, markup in titles), odd dates and encodings, sometimes mutated byte by byte.
A parsed feed holds only entries a poll can fetch: http(s) links, each once.
"""

from __future__ import annotations

import re

import feedparser  # noqa: F401  (imported here so that no example pays, or measures, the import)
import pytest
from hypothesis import example, given

from knowledge.errors import SourceError
from knowledge.feeds import Feed, parse_feed
from tests.fuzzing import assert_one_error, bounded
from tests.knowledge import strategies as fuzz

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


@pytest.fixture(scope="module", autouse=True)
def warm_up() -> None:
    """Let feedparser load what it loads on first use, outside every example's bound."""
    parse_feed(b'<rss version="2.0"><channel><title>t</title></channel></rss>', "https://example.org/feed.xml")


def check_feed(feed: Feed) -> None:
    links = [entry.link for entry in feed.entries]
    assert len(links) == len(set(links))
    for entry in feed.entries:
        assert re.match(r"https?://", entry.link, re.IGNORECASE)
        assert entry.published is None or _DAY.fullmatch(entry.published)
        for value in (entry.title, entry.summary, feed.title):
            assert value is None or (value.strip() == value and value)


@given(fuzz.feeds())
# feedparser reads "0000-00-00" as year -1: the entry was dated "-1-11-30" (found by this test).
@example(b'<rss version="2.0"><channel><item><link>https://example.org/a</link>'
         b"<pubDate>0000-00-00</pubDate></item></channel></rss>")
def test_any_feed_body_gives_a_feed_or_one_source_error(content: bytes) -> None:
    outcome = bounded(lambda: parse_feed(content, "https://example.org/feed.xml"))
    assert_one_error(outcome, SourceError)
    if not isinstance(outcome, SourceError):
        check_feed(outcome)


def test_an_impossible_feed_date_leaves_the_entry_undated() -> None:
    """Years before 1000 and impossible days are not dates a citation can show."""
    for stamp in ["0000-00-00", "0999-01-01T00:00:00Z", "2024-11-18T10:00:00Z"]:
        feed = parse_feed(b'<rss version="2.0"><channel><item><link>https://example.org/a</link>'
                          b"<pubDate>" + stamp.encode() + b"</pubDate></item></channel></rss>", "https://e.org/f")
        [entry] = feed.entries
        assert entry.published == ("2024-11-18" if stamp.startswith("2024") else None), stamp
