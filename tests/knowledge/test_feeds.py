"""Feeds: parsing RSS and Atom from bytes, subscriptions, and polling with retries."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest

from knowledge.errors import SourceError
from knowledge.extraction import document_from_page
from knowledge.feed_poll import poll_feed
from knowledge.feeds import Feed, FeedEntry, FeedStore, parse_feed
from knowledge.fetching import FetchPolicy, fetch
from knowledge.postgres.database import PostgresDatabase
from knowledge.postgres.feeds import PostgresFeedSubscriptions
from tests.activity_backends import ActivityBackend, activity  # noqa: F401  (the fixture)
from tests.web_server import ARTICLE_HTML, LocalServer

FEED_URL = "https://news.example.org/feeds/main.xml"

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel>
<title>Kyiv Ledger &amp; friends</title><link>https://news.example.org/</link>
<description>News</description>
<item><title>Grain corridor reopens</title><link>https://news.example.org/grain</link>
<pubDate>Wed, 20 Nov 2024 08:30:00 +0200</pubDate>
<description>&lt;p&gt;Twelve ships &lt;b&gt;left&lt;/b&gt; Odesa.&lt;/p&gt;</description></item>
<item><title>No link at all</title><description>Skipped.</description></item>
<item><title>Power cuts</title><link>/power</link></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
<title>Situation reports</title><id>tag:example.org,2024:sitreps</id>
<updated>2024-11-21T10:00:00Z</updated>
<entry><title>Sitrep 12</title><id>tag:example.org,2024:12</id>
<link rel="alternate" href="https://reports.example.org/12"/>
<published>2024-11-21T10:00:00Z</published><updated>2024-11-22T10:00:00Z</updated>
<summary>Power cuts affected 4 million people.</summary></entry>
<entry><title>Sitrep 11</title><id>tag:example.org,2024:11</id>
<updated>2024-11-14T10:00:00Z</updated><link href="https://reports.example.org/11"/></entry>
</feed>"""


def test_parse_rss() -> None:
    feed = parse_feed(RSS, FEED_URL)
    assert feed.title == "Kyiv Ledger & friends"
    assert [e.link for e in feed.entries] == ["https://news.example.org/grain", "https://news.example.org/power"]
    first = feed.entries[0]
    assert (first.title, first.published) == ("Grain corridor reopens", "2024-11-20")
    assert first.summary == "Twelve ships left Odesa."


def test_parse_atom() -> None:
    feed = parse_feed(ATOM, FEED_URL)
    assert feed.title == "Situation reports"
    assert feed.entries == (
        FeedEntry("https://reports.example.org/12", "Sitrep 12", "2024-11-21", "Power cuts affected 4 million people."),
        FeedEntry("https://reports.example.org/11", "Sitrep 11", "2024-11-14", None),
    )


@pytest.mark.parametrize(
    "content", [ARTICLE_HTML.encode("utf-8"), b"", b"just some text", b"\x89PNG\r\n\x1a\n"]
)
def test_not_a_feed(content: bytes) -> None:
    with pytest.raises(SourceError, match=f"{FEED_URL} is not an RSS or Atom feed"):
        parse_feed(content, FEED_URL)


def test_a_string_that_looks_like_a_path_is_not_opened(tmp_path: Path) -> None:
    secret = tmp_path / "secret.xml"
    secret.write_bytes(RSS)
    with pytest.raises(SourceError, match="not an RSS or Atom feed"):
        parse_feed(str(secret).encode(), FEED_URL)


# -- subscriptions and polling ----------------------------------------------------------------


@pytest.fixture
def subscriptions(activity: ActivityBackend) -> FeedStore:
    """Subscriptions in the SQLite file (beside the store's tables) or in PostgreSQL."""
    return activity.feeds()


def feed_of(*links: str) -> bytes:
    items = "".join(f"<item><title>{link}</title><link>{link}</link></item>" for link in links)
    return f'<rss version="2.0"><channel><title>T</title>{items}</channel></rss>'.encode()


def test_subscribe_list_and_unsubscribe(subscriptions: FeedStore) -> None:
    sub = subscriptions.subscribe(FEED_URL, "admin:1")
    assert (sub.url, sub.added_by, sub.last_polled_at, sub.last_error) == (FEED_URL, "admin:1", None, None)
    with pytest.raises(SourceError, match="already subscribed"):
        subscriptions.subscribe(FEED_URL, "admin:2")
    with pytest.raises(SourceError):
        subscriptions.subscribe("ftp://example.org/feed", "admin:1")
    assert [s.url for s in subscriptions.list()] == [FEED_URL]
    subscriptions.mark_seen(FEED_URL, ["https://news.example.org/a"])
    subscriptions.unsubscribe(FEED_URL)
    assert subscriptions.list() == []
    with pytest.raises(SourceError, match="not subscribed"):
        subscriptions.unsubscribe(FEED_URL)
    subscriptions.subscribe(FEED_URL, "admin:1")  # seen entries went with the subscription
    feed = parse_feed(feed_of("https://news.example.org/a"), FEED_URL)
    assert [e.link for e in subscriptions.new_entries(FEED_URL, feed)] == ["https://news.example.org/a"]


def test_polling_takes_only_new_entries_and_retries_failures(subscriptions: FeedStore) -> None:
    subscriptions.subscribe(FEED_URL, "admin:1")
    served = {"bytes": feed_of("https://x.org/a", "https://x.org/bad")}
    added: list[str] = []
    broken = {"https://x.org/bad"}

    def add(entry: FeedEntry) -> None:
        if entry.link in broken:
            raise SourceError("the server answered 500 Internal Server Error")
        added.append(entry.link)

    first = poll_feed(subscriptions, FEED_URL, lambda url: served["bytes"], add)
    assert first.added == ["https://x.org/a"]
    assert first.failed == [("https://x.org/bad", "the server answered 500 Internal Server Error")]
    sub = subscriptions.get(FEED_URL)
    assert sub.title == "T" and sub.last_polled_at and "1 of 2 new entries failed" in (sub.last_error or "")

    broken.clear()
    served["bytes"] = feed_of("https://x.org/a", "https://x.org/bad", "https://x.org/c")
    second = poll_feed(subscriptions, FEED_URL, lambda url: served["bytes"], add)
    assert second.added == ["https://x.org/bad", "https://x.org/c"] and second.failed == []
    assert added == ["https://x.org/a", "https://x.org/bad", "https://x.org/c"]
    assert subscriptions.get(FEED_URL).last_error is None

    third = poll_feed(subscriptions, FEED_URL, lambda url: served["bytes"], add)
    assert third.added == [] and third.failed == []


def test_an_unexpected_entry_error_does_not_stop_the_others(subscriptions: FeedStore) -> None:
    subscriptions.subscribe(FEED_URL, "admin:1")

    def add(entry: FeedEntry) -> None:
        if entry.link.endswith("/a"):
            raise RuntimeError("boom")

    report = poll_feed(subscriptions, FEED_URL, lambda url: feed_of("https://x.org/a", "https://x.org/b"), add)
    assert report.added == ["https://x.org/b"]
    assert report.failed == [("https://x.org/a", "unexpected error (RuntimeError)")]


def test_a_feed_that_fails_is_recorded(subscriptions: FeedStore) -> None:
    subscriptions.subscribe(FEED_URL, "admin:1")
    report = poll_feed(subscriptions, FEED_URL, lambda url: b"<html>moved</html>", lambda e: None)
    assert report.error and "not an RSS or Atom feed" in report.error
    assert subscriptions.get(FEED_URL).last_error == report.error
    with pytest.raises(SourceError, match="not subscribed"):
        poll_feed(subscriptions, "https://other.example.org/feed", lambda url: b"", lambda e: None)


def test_new_entries_follow_feed_order(subscriptions: FeedStore) -> None:
    subscriptions.subscribe(FEED_URL, "admin:1")
    feed = Feed(FEED_URL, None, (FeedEntry("https://x.org/2"), FeedEntry("https://x.org/1")))
    subscriptions.mark_seen(FEED_URL, ["https://x.org/1"])
    assert subscriptions.new_entries(FEED_URL, feed) == [FeedEntry("https://x.org/2")]


def test_times_are_utc_text_to_the_second(subscriptions: FeedStore) -> None:
    sub = subscriptions.subscribe(FEED_URL, "admin:1", "Given title")
    assert sub.title == "Given title" and sub == subscriptions.get(FEED_URL)
    added = datetime.fromisoformat(sub.added_at)
    assert sub.added_at == added.isoformat(timespec="seconds") and sub.added_at.endswith("+00:00")
    assert abs((datetime.now(timezone.utc) - added).total_seconds()) < 60
    subscriptions.record_poll(FEED_URL, None)  # no title from the feed: the given one stays
    polled = subscriptions.get(FEED_URL)
    assert polled.title == "Given title" and polled.last_polled_at and polled.last_polled_at.endswith("+00:00")
    subscriptions.record_poll(FEED_URL, "boom", "Feed title")
    assert (subscriptions.get(FEED_URL).title, subscriptions.get(FEED_URL).last_error) == ("Feed title", "boom")


def test_feeds_are_listed_in_the_order_they_were_added(subscriptions: FeedStore) -> None:
    urls = [f"https://feeds.example.org/{name}.xml" for name in ("zeta", "alpha", "mid", "beta")]
    for url in urls:
        subscriptions.subscribe(url, "admin:1")
    assert [s.url for s in subscriptions.list()] == urls
    subscriptions.record_poll(urls[0], None, "Z")  # a change does not move it
    assert [s.url for s in subscriptions.list()] == urls


def test_many_entries_and_none(subscriptions: FeedStore) -> None:
    subscriptions.subscribe(FEED_URL, "admin:1")
    links = [f"https://x.org/{n}" for n in range(1200)]
    subscriptions.mark_seen(FEED_URL, links[::2])
    subscriptions.mark_seen(FEED_URL, links[:10:2])  # seen again: no error
    subscriptions.mark_seen(FEED_URL, [])
    feed = Feed(FEED_URL, None, tuple(FeedEntry(link) for link in links))
    assert [e.link for e in subscriptions.new_entries(FEED_URL, feed)] == links[1::2]
    assert subscriptions.new_entries(FEED_URL, Feed(FEED_URL, None, ())) == []


def test_two_processes_share_subscriptions_and_seen_entries(postgres_url: str) -> None:
    first_db, second_db = PostgresDatabase(postgres_url), PostgresDatabase(postgres_url)
    try:
        first, second = PostgresFeedSubscriptions(first_db), PostgresFeedSubscriptions(second_db)
        first.subscribe(FEED_URL, "admin:1")
        with pytest.raises(SourceError, match=f"already subscribed to {FEED_URL}"):
            second.subscribe(FEED_URL, "admin:2")
        added: list[str] = []

        def add(entry: FeedEntry) -> None:
            added.append(entry.link)

        poll_feed(first, FEED_URL, lambda url: feed_of("https://x.org/a"), add)
        report = poll_feed(second, FEED_URL, lambda url: feed_of("https://x.org/a", "https://x.org/b"), add)
        assert report.added == ["https://x.org/b"] and added == ["https://x.org/a", "https://x.org/b"]
        assert first.get(FEED_URL) == second.get(FEED_URL) and second.get(FEED_URL).title == "T"
        second.unsubscribe(FEED_URL)
        assert first.list() == []
        with pytest.raises(SourceError, match=f"not subscribed to {FEED_URL}"):
            first.get(FEED_URL)
    finally:
        first_db.close()
        second_db.close()


# -- end to end against the local server ------------------------------------------------------


@pytest.mark.parametrize("path", ["/feed.rss", "/feed.atom"])
def test_polling_a_served_feed(server: LocalServer, subscriptions: FeedStore, path: str) -> None:
    feed_url = server.url(path)
    subscriptions.subscribe(feed_url, "admin:1")
    policy = FetchPolicy(allow_private=True, timeout=5)
    documents = []

    def fetch_bytes(url: str) -> bytes:
        response = httpx.get(url, timeout=5, trust_env=False)  # fetch() takes only HTML and PDF
        response.raise_for_status()
        return response.content

    def add(entry: FeedEntry) -> None:
        documents.append(document_from_page(fetch(entry.link, policy), "feed", "news"))

    first = poll_feed(subscriptions, feed_url, fetch_bytes, add)
    assert first.added == [server.url("/story/1"), server.url("/story/2")]
    assert [d.title for d in documents] == ["Story 1", "Story 2"]

    server.feed_items.append(("/story/3", "Story 3"))
    server.feed_items.append(("/missing", "Gone"))
    second = poll_feed(subscriptions, feed_url, fetch_bytes, add)
    assert second.added == [server.url("/story/3")]
    assert second.failed == [(server.url("/missing"), "the server answered 404 Not Found")]
    assert [d.title for d in documents][-1] == "Story 3" and len(documents) == 3
    assert documents[-1].published == "2024-11-20"
