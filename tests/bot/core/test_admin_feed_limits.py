"""Issue 17, item 9: one malformed feed never stops the poll of the feeds after it, a huge feed
is taken in a capped number of entries a poll (newest first), and the report says how many
wait. Real HTTP on 127.0.0.1 (tests/web_server.py), the admin core and its audit log."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from bot.core.render import describe_poll, poll_lines, poll_summary
from bot.runtime.service import CrisisBot
from tests.bot.core.test_admin import admin_of
from tests.web_server import LocalServer

RSS = "application/rss+xml"


def rss(items: list[tuple[str, datetime | None]], title: str = "Raw wire", declaration: str = "utf-8") -> bytes:
    """RSS 2.0 with one item per (link, date); no titles or descriptions and short dates, so
    that 60,000 entries stay under the fetch's 5 MB limit. Links may be relative to the feed."""
    parts = "".join(
        f"<item><link>{link}</link>" + (f"<pubDate>{when:%Y-%m-%dT%H:%MZ}</pubDate>" if when else "") + "</item>"
        for link, when in items
    )
    return (f'<?xml version="1.0" encoding="{declaration}"?><rss version="2.0"><channel>'
            f"<title>{title}</title>{parts}</channel></rss>").encode("utf-8")


def test_malformed_feeds_are_their_own_error_and_the_feeds_after_them_are_polled(
    bot: CrisisBot, web: LocalServer
) -> None:
    web.raw["surrogate"] = (RSS, rss([(web.url("/story/7"), None)], title="Wire &#xD800; one"))
    web.raw["encoding"] = (RSS, rss([(web.url("/story/8"), None)]))
    web.feed_items[:] = [("/story/9", "Story 9")]
    for name in ("surrogate", "encoding"):
        bot.admin.subscribe(admin_of(bot), web.url(f"/raw/{name}"))
    bot.admin.subscribe(admin_of(bot), web.url("/feed.rss"))
    # The encoding declaration goes bad after subscribing: feedparser then raises UnicodeError.
    web.raw["encoding"] = (RSS, rss([(web.url("/story/8"), None)], declaration="undefined"))

    surrogate, encoding, last = bot.admin.poll_feeds(admin_of(bot))

    assert surrogate.added == [web.url("/story/7")] and surrogate.error is None
    assert bot.feeds.get(web.url("/raw/surrogate")).title == "Wire \ufffd one"
    assert encoding.error == f"{web.url('/raw/encoding')} cannot be read as a feed (UnicodeError)"
    assert bot.feeds.get(web.url("/raw/encoding")).last_error == encoding.error
    assert last.added == [web.url("/story/9")]
    results = [e.result for e in bot.audit.entries(limit=3)]
    assert results[1] == f"ok: feed not read: {encoding.error}"


@pytest.mark.parametrize("backend", ["sqlite"])  # the cap is the core's: one backend is enough for 60,000
def test_a_feed_of_60000_entries_takes_the_20_newest_and_says_how_many_wait(
    bot: CrisisBot, web: LocalServer
) -> None:
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    web.raw["huge"] = (RSS, rss([(f"/story/{n}", start + timedelta(minutes=n)) for n in range(60_000)]))
    bot.admin.subscribe(admin_of(bot), web.url("/raw/huge"))
    web.seen.clear()

    (report,) = bot.admin.poll_feeds(admin_of(bot))

    assert report.added == [web.url(f"/story/{n}") for n in range(59_999, 59_979, -1)]  # newest first
    assert report.waiting == 59_980 and not report.out_of_time
    assert len(web.seen) == 21  # the feed and 20 entries, not 60,000 pages
    assert describe_poll(report) == "20 added, 59,980 more waiting for the next poll"
    assert poll_lines([report]) == [f"{web.url('/raw/huge')}: 20 added, 59,980 more waiting for the next poll"]
    assert poll_summary([report]).endswith(", 59,980 more waiting")


def test_the_cap_is_a_setting_and_the_next_poll_takes_the_next_entries(
    make_bot: Callable[..., CrisisBot], web: LocalServer
) -> None:
    bot = make_bot(feed_max_new_entries=3)
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    web.raw["wire"] = (RSS, rss([(web.url(f"/story/{n}"), start + timedelta(hours=n)) for n in range(1, 8)]
                                + [(web.url("/story/20"), None)]))
    bot.admin.subscribe(admin_of(bot), web.url("/raw/wire"))
    polls = [bot.admin.poll_feeds(admin_of(bot))[0] for _ in range(3)]
    assert [(r.added, r.waiting) for r in polls] == [
        ([web.url(f"/story/{n}") for n in (7, 6, 5)], 5),
        ([web.url(f"/story/{n}") for n in (4, 3, 2)], 2),
        ([web.url("/story/1"), web.url("/story/20")], 0),  # undated entries come after dated ones
    ]
    assert bot.store.document_count() == 8


def test_a_feed_whose_poll_breaks_unexpectedly_does_not_stop_the_next(
    bot: CrisisBot, web: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    web.raw["first"] = (RSS, rss([(web.url("/story/3"), None)]))
    bot.admin.subscribe(admin_of(bot), web.url("/raw/first"))
    bot.admin.subscribe(admin_of(bot), web.url("/feed.rss"))
    store = bot.feeds
    new_entries = store.new_entries

    def broken_for_the_first(feed_url: str, feed: object) -> object:
        if feed_url.endswith("/raw/first"):
            raise RuntimeError("a bug")
        return new_entries(feed_url, feed)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "new_entries", broken_for_the_first)
    first, second = bot.admin.poll_feeds(admin_of(bot))
    assert first.error == "unexpected error (RuntimeError)"
    assert second.added == [web.url("/story/1"), web.url("/story/2")]
    assert [e.result for e in bot.audit.entries(limit=2)][1] == "error: unexpected RuntimeError"
