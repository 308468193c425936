"""Fuzzing feed parsing: any bytes a feed URL returns give a feed or one `SourceError`, in time.

Inputs are RSS 2.0, RSS 1.0 and Atom documents with odd entities (a lone-surrogate reference,
undefined entities, markup in titles), odd dates and encodings, sometimes mutated byte by byte.
A parsed feed holds only entries a poll can fetch: http(s) links, each once.
"""

from __future__ import annotations

import re

import feedparser  # noqa: F401  (imported here so that no example pays, or measures, the import)
from hypothesis import given

from knowledge.errors import SourceError
from knowledge.feeds import Feed, parse_feed
from tests.fuzzing import assert_one_error, bounded
from tests.knowledge import strategies as fuzz

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def check_feed(feed: Feed) -> None:
    links = [entry.link for entry in feed.entries]
    assert len(links) == len(set(links))
    for entry in feed.entries:
        assert re.match(r"https?://", entry.link, re.IGNORECASE)
        assert entry.published is None or _DAY.fullmatch(entry.published)
        for value in (entry.title, entry.summary, feed.title):
            assert value is None or (value.strip() == value and value)


@given(fuzz.feeds())
def test_any_feed_body_gives_a_feed_or_one_source_error(content: bytes) -> None:
    outcome = bounded(lambda: parse_feed(content, "https://example.org/feed.xml"))
    assert_one_error(outcome, SourceError)
    if not isinstance(outcome, SourceError):
        check_feed(outcome)
