"""Issue 17, item 9, below the admin core: feeds that break the parser, the poll's time budget,
and entries that keep failing backing off, remembered in the database on both backends."""

from __future__ import annotations

from datetime import timedelta
from itertools import count

import pytest

from knowledge.errors import SourceError
from knowledge.feed_poll import FeedLimits, poll_feed
from knowledge.feeds import MAX_BACKOFF, FeedEntry, FeedStore, backoff, parse_feed
from tests.activity_backends import ActivityBackend, activity  # noqa: F401  (the fixture)

FEED_URL = "https://news.example.org/feed.xml"


@pytest.fixture
def subscriptions(activity: ActivityBackend) -> FeedStore:
    made = activity.feeds()
    made.subscribe(FEED_URL, "admin:1")
    return made


def feed_of(*links: str, title: str = "T", declaration: str = "") -> bytes:
    items = "".join(f"<item><title>{link}</title><link>{link}</link></item>" for link in links)
    head = f'<?xml version="1.0" encoding="{declaration}"?>' if declaration else ""
    return f'{head}<rss version="2.0"><channel><title>{title}</title>{items}</channel></rss>'.encode()


# -- parsing ------------------------------------------------------------------------------------


@pytest.mark.parametrize("reference", ["&#xD800;", "&#xdfff;", "&#55296;", "&#x110000;", "&#99999999;"])
def test_a_reference_to_no_character_reads_as_a_replacement(reference: str) -> None:
    feed = parse_feed(feed_of("https://x.org/a", title=f"Wire {reference} one"), FEED_URL)
    assert feed.title == "Wire \ufffd one" and [e.link for e in feed.entries] == ["https://x.org/a"]


def test_a_bad_encoding_declaration_is_the_feeds_error() -> None:
    with pytest.raises(SourceError, match=r"cannot be read as a feed \(UnicodeError\)"):
        parse_feed(feed_of("https://x.org/a", declaration="undefined"), FEED_URL)


def test_invisible_characters_leave_feed_titles() -> None:
    feed = parse_feed(feed_of("https://x.org/a", title="Kyiv\u202e Ledger\u200b"), FEED_URL)
    assert feed.title == "Kyiv Ledger"


def test_a_feed_the_parser_chokes_on_is_recorded_and_returned(subscriptions: FeedStore) -> None:
    def fetch(url: str) -> bytes:
        raise MemoryError("pretend")

    report = poll_feed(subscriptions, FEED_URL, fetch, lambda e: None)
    assert report.error == "unexpected error (MemoryError)"
    assert subscriptions.get(FEED_URL).last_error == "unexpected error (MemoryError)"


# -- limits -------------------------------------------------------------------------------------


def test_the_time_budget_stops_taking_entries_and_counts_the_rest(subscriptions: FeedStore) -> None:
    ticks = count()
    links = [f"https://x.org/{n}" for n in range(10)]
    added: list[str] = []

    def add(entry: FeedEntry) -> None:
        added.append(entry.link)

    # The clock moves one second per reading: entries start at 0, 1, 2 and 3 s; at 4 s the
    # deadline (3.5) has passed and the six left wait.
    report = poll_feed(subscriptions, FEED_URL, lambda url: feed_of(*links), add,
                       FeedLimits(20, 100), deadline=3.5, clock=lambda: float(next(ticks)))
    assert added == links[:4]
    assert report.waiting == 6 and report.out_of_time
    assert [e.link for e in subscriptions.new_entries(FEED_URL, parse_feed(feed_of(*links), FEED_URL))] == links[4:]


# -- entries that keep failing ------------------------------------------------------------------


def test_backoff_grows_from_the_second_failure_and_is_capped() -> None:
    assert [backoff(n) for n in (1, 2, 3, 4)] == [timedelta(0), timedelta(hours=1), timedelta(hours=2),
                                                  timedelta(hours=4)]
    assert backoff(40) == backoff(10_000) == MAX_BACKOFF


def test_an_entry_that_keeps_failing_waits_and_its_failures_outlive_the_connection(
    activity: ActivityBackend, subscriptions: FeedStore
) -> None:
    links = ("https://x.org/good", "https://x.org/bad")
    tried: list[str] = []

    def add(entry: FeedEntry) -> None:
        tried.append(entry.link)
        if entry.link.endswith("bad"):
            raise SourceError("the server answered 500 Internal Server Error")

    def poll(store: FeedStore) -> list[str]:
        tried.clear()
        poll_feed(store, FEED_URL, lambda url: feed_of(*links), add)
        return list(tried)

    assert poll(subscriptions) == list(links)
    assert poll(subscriptions) == ["https://x.org/bad"]  # a first failure is retried at once
    reopened = activity.feeds()  # another process, or the bot after a restart
    report = poll_feed(reopened, FEED_URL, lambda url: feed_of(*links), add)
    assert report.backing_off == 1 and report.failed == [] and report.added == []
    assert reopened.backed_off(FEED_URL) == {"https://x.org/bad"}


def test_an_entry_taken_in_forgets_its_failures(subscriptions: FeedStore) -> None:
    for _ in range(3):
        subscriptions.record_failure(FEED_URL, "https://x.org/bad", "500")
    assert subscriptions.backed_off(FEED_URL) == {"https://x.org/bad"}
    subscriptions.mark_seen(FEED_URL, ["https://x.org/bad"])
    assert subscriptions.backed_off(FEED_URL) == set()
    assert subscriptions.record_failure(FEED_URL, "https://x.org/bad", "500") == 1


def test_unsubscribing_forgets_the_failures(subscriptions: FeedStore) -> None:
    subscriptions.record_failure(FEED_URL, "https://x.org/bad", "500")
    subscriptions.record_failure(FEED_URL, "https://x.org/bad", "500")
    subscriptions.unsubscribe(FEED_URL)
    subscriptions.subscribe(FEED_URL, "admin:1")
    assert subscriptions.backed_off(FEED_URL) == set()
