"""Feeds through the admin core: subscribing checks the feed, polling goes through the URL path
(guard, limits, extraction), copies are skipped and logged, and every feed's poll is audited.

Fast hashing embedder, the stand-in web server on 127.0.0.1 (`allow_private_urls` on, except
where a test proves the default refusal).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from bot.core.actors import SCHEDULER, NotAllowed
from bot.core.admin import AdminError
from bot.core.render import describe_poll
from bot.runtime.service import CrisisBot
from knowledge.errors import SourceError
from knowledge.extraction import document_id
from knowledge.feeds import PollReport
from tests.bot.core.test_admin import admin_of, last_result, member_of
from tests.web_server import LocalServer


def test_subscribe_reads_the_feed_once_and_records_its_title(bot: CrisisBot, web: LocalServer) -> None:
    sub = bot.admin.subscribe(admin_of(bot), web.url("/feed.rss"))
    assert (sub.url, sub.title, sub.added_by) == (web.url("/feed.rss"), "Local wire", "telegram:42")
    assert [s.url for s in bot.admin.feeds(admin_of(bot))] == [web.url("/feed.rss")]
    assert bot.store.document_count() == 0  # entries come with the next poll
    assert last_result(bot) == "ok: subscribed to Local wire"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/article", "unsupported content type text/html: send an RSS or Atom feed"),
        ("/missing", "the server answered 404 Not Found"),
    ],
)
def test_subscribing_to_something_that_is_not_a_feed_is_refused(
    bot: CrisisBot, web: LocalServer, path: str, message: str
) -> None:
    with pytest.raises(SourceError, match=message):
        bot.admin.subscribe(admin_of(bot), web.url(path))
    assert bot.feeds.list() == []
    assert last_result(bot) == f"error: {message}"


def test_subscribing_twice_is_refused(bot: CrisisBot, web: LocalServer) -> None:
    bot.admin.subscribe(admin_of(bot), web.url("/feed.rss"))
    with pytest.raises(SourceError, match="already subscribed"):
        bot.admin.subscribe(admin_of(bot), web.url("/feed.rss"))


def test_feeds_on_the_local_network_are_refused_by_default(make_bot: Callable[..., CrisisBot], web: LocalServer) -> None:
    bot = make_bot(allow_private_urls=False)
    with pytest.raises(SourceError, match="127.0.0.1"):
        bot.admin.subscribe(admin_of(bot), web.url("/feed.rss"))
    assert web.seen == []


def test_a_poll_adds_new_entries_only_and_audits_each_feed(bot: CrisisBot, web: LocalServer) -> None:
    bot.admin.subscribe(admin_of(bot), web.url("/feed.rss"))
    heard: list[tuple[int, int]] = []
    first = bot.admin.poll_feeds(admin_of(bot), lambda done, total: heard.append((done, total)))
    assert [r.added for r in first] == [[web.url("/story/1"), web.url("/story/2")]]
    assert heard == [(1, 1)]
    assert {d.id for d in bot.store.documents()} == {document_id(web.url("/story/1")), document_id(web.url("/story/2"))}
    story = bot.store.document_info(document_id(web.url("/story/1")))
    assert (story.published, story.added_by) == ("2024-11-20", f"feed:{web.url('/feed.rss')}")
    assert last_result(bot) == "ok: 2 added"

    web.feed_items.append(("/story/3", "Story 3"))
    web.seen.clear()
    second = bot.admin.poll_feeds(admin_of(bot))
    assert [r.added for r in second] == [[web.url("/story/3")]]
    assert web.seen == ["/feed.rss", "/story/3"]  # seen entries are not fetched again
    assert bot.store.document_count() == 3

    entry = bot.audit.entries(limit=1)[0]
    assert (entry.action, entry.target, entry.who) == ("poll-feed", web.url("/feed.rss"), "Olena (telegram:42)")
    sub = bot.feeds.get(web.url("/feed.rss"))
    assert sub.last_polled_at is not None and sub.last_error is None


def test_syndicated_copies_and_known_urls_are_skipped_logged_and_never_indexed_twice(
    bot: CrisisBot, web: LocalServer
) -> None:
    web.feed_items[:] = [("/article", "Grain corridor reopens"), ("/syndicated", "Grain corridor reopens (wire)")]
    bot.admin.subscribe(admin_of(bot), web.url("/feed.rss"))
    bot.admin.subscribe(admin_of(bot), web.url("/feed.atom"))  # the same two stories again
    reports = {r.feed_url: r for r in bot.admin.poll_feeds(admin_of(bot))}
    first, second = reports[bot.feeds.list()[0].url], reports[bot.feeds.list()[1].url]
    original = document_id(web.url("/article"))
    assert first.added == [web.url("/article")]
    assert first.skipped == [(web.url("/syndicated"), f"nearly repeats {original}")]
    assert second.added == []
    assert second.skipped == [(web.url("/article"), "already stored"),
                            (web.url("/syndicated"), f"nearly repeats {original}")]
    passages = bot.store.passage_count()
    assert [d.id for d in bot.store.documents()] == [original]
    assert describe_poll(first) == "1 added, 1 skipped as copies"
    # Skipped entries are seen: the next poll neither fetches nor reports them again.
    web.seen.clear()
    again = bot.admin.poll_feeds(admin_of(bot))
    assert [(r.added, r.skipped) for r in again] == [([], []), ([], [])]
    assert sorted(web.seen) == ["/feed.atom", "/feed.rss"]
    assert bot.store.passage_count() == passages


def test_a_broken_entry_is_retried_and_does_not_stop_the_others(bot: CrisisBot, web: LocalServer) -> None:
    web.feed_items[:] = [("/image", "A picture"), ("/story/5", "Story 5")]
    bot.admin.subscribe(admin_of(bot), web.url("/feed.rss"))
    (report,) = bot.admin.poll_feeds(admin_of(bot))
    assert report.added == [web.url("/story/5")]
    assert report.failed == [(web.url("/image"), "unsupported content type image/png: send an HTML page or a PDF")]
    assert last_result(bot).startswith("ok: 1 added, 1 failed (first: ")
    assert "1 of 2 new entries failed" in (bot.feeds.get(web.url("/feed.rss")).last_error or "")
    web.seen.clear()
    bot.admin.poll_feeds(admin_of(bot))
    assert web.seen == ["/feed.rss", "/image"]  # only the failed entry is tried again


def test_a_feed_that_disappears_is_reported_not_raised(bot: CrisisBot, web: LocalServer) -> None:
    bot.admin.subscribe(admin_of(bot), web.url("/feed.rss"))
    bot.feeds.unsubscribe(web.url("/feed.rss"))
    bot.feeds.subscribe(web.url("/gone.rss"), "telegram:42")  # e.g. a feed that was moved since
    (report,) = bot.admin.poll_feeds(admin_of(bot))
    assert report.error == "the server answered 404 Not Found"
    assert last_result(bot) == "ok: feed not read: the server answered 404 Not Found"
    assert bot.feeds.get(web.url("/gone.rss")).last_error == "the server answered 404 Not Found"


def test_unsubscribe_keeps_the_documents(bot: CrisisBot, web: LocalServer) -> None:
    bot.admin.subscribe(admin_of(bot), web.url("/feed.rss"))
    bot.admin.poll_feeds(admin_of(bot))
    bot.admin.unsubscribe(admin_of(bot), web.url("/feed.rss"))
    assert bot.admin.feeds(admin_of(bot)) == []
    assert bot.store.document_count() == 2
    assert last_result(bot) == "ok: unsubscribed"
    with pytest.raises(SourceError, match="not subscribed"):
        bot.admin.unsubscribe(admin_of(bot), web.url("/feed.rss"))


def test_members_may_not_touch_feeds_and_each_refusal_is_audited(bot: CrisisBot, web: LocalServer) -> None:
    bot.admin.subscribe(admin_of(bot), web.url("/feed.rss"))
    member = member_of(bot)
    web.seen.clear()
    for attempt in (
        lambda: bot.admin.subscribe(member, web.url("/feed.atom")),
        lambda: bot.admin.unsubscribe(member, web.url("/feed.rss")),
        lambda: bot.admin.feeds(member),
        lambda: bot.admin.poll_feeds(member),
    ):
        with pytest.raises(NotAllowed):
            attempt()
    refused = [(e.action, e.result) for e in bot.audit.entries(limit=4)]
    assert refused == [(a, "refused: not an admin") for a in ("poll", "feeds", "unsubscribe", "subscribe")]
    assert web.seen == [] and len(bot.feeds.list()) == 1


def test_the_scheduled_poll_acts_as_the_feed_poller(bot: CrisisBot, web: LocalServer) -> None:
    bot.admin.subscribe(admin_of(bot), web.url("/feed.rss"))
    reports = bot.poll_feeds_scheduled()
    assert [len(r.added) for r in reports] == [2]
    entry = bot.audit.entries(limit=1)[0]
    assert (entry.platform, entry.user_id, entry.result) == (SCHEDULER.platform, SCHEDULER.user_id, "ok: 2 added")


def test_polls_never_overlap(bot: CrisisBot, web: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """A poll that finds another one running says so (an admin) or does nothing (the schedule)."""
    bot.admin.subscribe(admin_of(bot), web.url("/feed.rss"))
    inside, release = threading.Event(), threading.Event()
    real_poll_one = bot.admin._poll_one

    def slow_poll_one(*args: object) -> PollReport:
        inside.set()
        release.wait(10)
        return real_poll_one(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(bot.admin, "_poll_one", slow_poll_one)
    first: list[list[PollReport]] = []
    worker = threading.Thread(target=lambda: first.append(bot.admin.poll_feeds(admin_of(bot))))
    worker.start()
    try:
        assert inside.wait(10)
        with pytest.raises(AdminError, match="being polled already"):
            bot.admin.poll_feeds(admin_of(bot))
        assert bot.poll_feeds_scheduled() == []
    finally:
        release.set()
        worker.join(10)
    assert [len(r.added) for r in first[0]] == [2]
    assert bot.store.document_count() == 2


def test_polls_never_overlap_across_processes(make_bot: Callable[..., CrisisBot], web: LocalServer) -> None:
    """Two processes on one knowledge base (the worker and a chat bot, or a cron `kb poll`
    beside the bot): while one polls, the other's poll is refused (an admin) or skipped (the
    schedule), and nothing is fetched twice."""
    bot = make_bot()
    other = make_bot(data_dir=bot.settings.data_dir) if bot.settings.database_url is None else make_bot(
        data_dir=bot.settings.data_dir.parent / "other-process", database_url=bot.settings.database_url)
    bot.admin.subscribe(admin_of(bot), web.url("/feed.rss"))
    with other.backend.feed_poll_lock() as held:
        assert held
        with pytest.raises(AdminError, match="being polled already by another process"):
            bot.admin.poll_feeds(admin_of(bot))
        assert bot.poll_feeds_scheduled() == []
        assert bot.store.document_count() == 0
    assert [len(r.added) for r in bot.admin.poll_feeds(admin_of(bot))] == [2]
    with other.backend.feed_poll_lock() as held_again:  # released after the poll
        assert held_again


def test_the_scheduled_poll_never_raises(bot: CrisisBot, monkeypatch: pytest.MonkeyPatch,
                                        caplog: pytest.LogCaptureFixture) -> None:
    """A scheduler stops for good on an exception, so the core's scheduled entry point logs
    an unexpected failure instead of raising it; the next run tries again."""

    def broken(*args: object) -> list[PollReport]:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(bot.admin, "poll_feeds", broken)
    assert bot.poll_feeds_scheduled() == []
    assert "scheduled feed poll failed" in caplog.text and "disk on fire" in caplog.text
