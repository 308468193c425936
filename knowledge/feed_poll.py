"""Polling one feed: its new entries, newest first, within the poll's limits.

A poll is bounded: at most `FeedLimits.max_new_entries` entries a feed and
`FeedLimits.budget_seconds` for the whole poll, because every entry is a page fetched on the
one knowledge thread (a feed of 60,000 entries once held it for hours). What is left is
counted in the report ("N more waiting") and taken at the next poll. An entry that keeps
failing waits longer each time (`knowledge.feeds.backoff`). A feed that cannot be fetched or
parsed, however it fails, is that feed's error: the poll goes on with the next feed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from knowledge.errors import CrisisbotError
from knowledge.feeds import Feed, FeedEntry, FeedStore, PollReport, backoff, parse_feed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeedLimits:
    """How much one poll may take in: the entries of one feed, and the time for all feeds."""

    max_new_entries: int = 20
    budget_seconds: float = 300.0


def poll_feed(
    subscriptions: FeedStore,
    feed_url: str,
    fetch_bytes: Callable[[str], bytes],
    add_entry: Callable[[FeedEntry], str | None],
    limits: FeedLimits = FeedLimits(),
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> PollReport:
    """Fetch a subscribed feed and add its new entries, newest first, within the limits.

    Args:
        subscriptions: where the feed, its seen entries and its failures are kept.
        feed_url: a subscribed feed.
        fetch_bytes: fetches a URL's body (through the SSRF guard and size limits).
        add_entry: fetches the entry's page and ingests it; returns None when it was added,
            or why it was skipped (a copy of a stored document); raises to report a failure.
        limits: at most `max_new_entries` entries of this feed are tried.
        deadline: the `clock()` reading after which no further entry is started (the whole
            poll's budget, shared by its feeds); None: `limits.budget_seconds` from now.

    Returns:
        The entries added, skipped and failed, and how many wait for the next poll; failed
        entries stay unseen and are tried again (after a wait that grows while they keep
        failing), skipped ones are not. An entry that fails does not stop the others, and a
        feed that cannot be fetched or parsed is the report's `error`, whatever went wrong.

    Raises:
        SourceError: the feed is not subscribed.
    """
    subscriptions.get(feed_url)
    report = PollReport(feed_url)
    try:
        feed = parse_feed(fetch_bytes(feed_url), feed_url)
    except CrisisbotError as exc:
        report.error = str(exc)
        log.warning("feed %s: %s", feed_url, exc)
    except Exception as exc:  # noqa: BLE001 -- one broken feed must not stop the poll of the others
        report.error = f"unexpected error ({type(exc).__name__})"
        log.exception("feed %s could not be read", feed_url)
    if report.error is not None:
        subscriptions.record_poll(feed_url, report.error)
        return report
    if deadline is None:
        deadline = clock() + limits.budget_seconds
    due = _due_entries(subscriptions, feed_url, feed, report)
    for number, entry in enumerate(due):
        if number >= limits.max_new_entries or clock() >= deadline:
            report.waiting = len(due) - number
            report.out_of_time = number < limits.max_new_entries
            break
        _take(subscriptions, feed_url, entry, add_entry, report)
    if report.waiting:
        log.info("feed %s: %d more entries waiting for the next poll", feed_url, report.waiting)
    subscriptions.record_poll(feed_url, _summary(report), feed.title)
    return report


def _due_entries(subscriptions: FeedStore, feed_url: str, feed: Feed, report: PollReport) -> list[FeedEntry]:
    """The new entries to try now, newest first (undated ones after, in feed order); those
    waiting after repeated failures are counted in the report instead."""
    new = subscriptions.new_entries(feed_url, feed)
    waiting = subscriptions.backed_off(feed_url) if new else set()
    due = [entry for entry in new if entry.link not in waiting]
    report.backing_off = len(new) - len(due)
    return sorted(due, key=lambda e: (e.stamp is not None, e.stamp or ""), reverse=True)


def _take(
    subscriptions: FeedStore, feed_url: str, entry: FeedEntry,
    add_entry: Callable[[FeedEntry], str | None], report: PollReport,
) -> None:
    """Add one entry: seen when added or skipped, a remembered failure otherwise."""
    try:
        skipped = add_entry(entry)
    except CrisisbotError as exc:
        _failed(subscriptions, feed_url, entry, str(exc), report)
        log.warning("feed %s: entry %s not added: %s", feed_url, entry.link, exc)
        return
    except Exception as exc:  # noqa: BLE001 -- one broken entry must not stop the rest of the feed
        _failed(subscriptions, feed_url, entry, f"unexpected error ({type(exc).__name__})", report)
        log.exception("feed %s: entry %s failed unexpectedly", feed_url, entry.link)
        return
    subscriptions.mark_seen(feed_url, [entry.link])
    if skipped is None:
        report.added.append(entry.link)
    else:
        report.skipped.append((entry.link, skipped))
        log.info("feed %s: entry %s skipped: %s", feed_url, entry.link, skipped)


def _failed(subscriptions: FeedStore, feed_url: str, entry: FeedEntry, error: str, report: PollReport) -> None:
    report.failed.append((entry.link, error))
    failures = subscriptions.record_failure(feed_url, entry.link, error)
    if failures > 1:
        log.info("feed %s: entry %s failed %d times in a row; next try in %s",
                 feed_url, entry.link, failures, backoff(failures))


def _summary(report: PollReport) -> str | None:
    if not report.failed:
        return None
    total = len(report.failed) + len(report.added) + len(report.skipped)
    link, error = report.failed[0]
    return f"{len(report.failed)} of {total} new entries failed; first: {link}: {error}"
