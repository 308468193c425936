"""RSS and Atom subscriptions: which feeds admins follow, which entries were already taken in.

Parsing works on bytes the caller fetched (through the SSRF guard): feedparser is never given
a URL, so it never opens a connection of its own. Polling takes its two side effects as
callables (fetch the feed, add one entry), so the scheduler and the HTTP client live elsewhere
and the tests need neither. An entry counts as seen only once it was added, so one that failed
is tried again at the next poll.
"""

from __future__ import annotations

import builtins
import html
import io
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

from knowledge.database import open_tables
from knowledge.errors import CrisisbotError, SourceError
from knowledge.url_guard import validate_url

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY,
    title TEXT,
    added_by TEXT NOT NULL,
    added_at TEXT NOT NULL,
    last_polled_at TEXT,
    last_error TEXT
);
CREATE TABLE IF NOT EXISTS feed_entries (
    feed_url TEXT NOT NULL REFERENCES feeds(url) ON DELETE CASCADE,
    entry_url TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    PRIMARY KEY (feed_url, entry_url)
);
"""


@dataclass(frozen=True)
class FeedEntry:
    """One item of a feed: the page it links to is what gets fetched and ingested."""

    link: str
    title: str | None = None
    published: str | None = None  # YYYY-MM-DD, when the feed dates the entry
    summary: str | None = None  # plain text


@dataclass(frozen=True)
class Feed:
    url: str
    title: str | None
    entries: tuple[FeedEntry, ...]


@dataclass(frozen=True)
class Subscription:
    url: str
    title: str | None
    added_by: str
    added_at: str
    last_polled_at: str | None
    last_error: str | None


@dataclass
class PollReport:
    """What one poll did: the entries added, the ones that failed (with why), or the feed's error."""

    feed_url: str
    added: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (entry link, why): copies
    failed: list[tuple[str, str]] = field(default_factory=list)  # (entry link, error)
    error: str | None = None  # the feed itself could not be fetched or parsed


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# -- parsing ----------------------------------------------------------------------------------


def parse_feed(content: bytes, feed_url: str) -> Feed:
    """Parse RSS (0.9x, 1.0, 2.0) or Atom from bytes; relative links resolve against `feed_url`.

    Entries without a usable http(s) link are skipped, as are repeats of a link.

    Raises:
        SourceError: the bytes are not an RSS or Atom feed.
    """
    import feedparser  # lazily: only feed polling needs it

    # A file object, never a string: feedparser treats a string as a URL or path to open.
    parsed = feedparser.parse(io.BytesIO(content), response_headers={"content-location": feed_url})
    if not parsed.get("version"):
        reason = parsed.get("bozo_exception")
        detail = f" ({reason})" if reason else ""
        raise SourceError(f"{feed_url} is not an RSS or Atom feed{detail}")
    if parsed.get("bozo"):
        log.info("%s: feed is not well-formed, read leniently: %s", feed_url, parsed.get("bozo_exception"))
    entries: list[FeedEntry] = []
    links: set[str] = set()
    for item in parsed.entries:
        link = _text(item.get("link"))
        if not link or not re.match(r"https?://", link, re.IGNORECASE) or link in links:
            log.info("%s: skipping an entry without a usable link (%r)", feed_url, item.get("title"))
            continue
        links.add(link)
        stamp = _calendar_day(item.get("published_parsed") or item.get("updated_parsed"))
        entries.append(
            FeedEntry(
                link=link,
                title=_text(item.get("title")),
                published=time.strftime("%Y-%m-%d", stamp) if stamp else None,
                summary=_text(re.sub(r"<[^>]*>", " ", item.get("summary") or "")),
            )
        )
    return Feed(feed_url, _text(parsed.feed.get("title")), tuple(entries))


def _text(value: object) -> str | None:
    if not value:
        return None
    text = " ".join(html.unescape(str(value)).split())
    return text or None


def _calendar_day(stamp: time.struct_time | None) -> time.struct_time | None:
    """`stamp` if it is a real day written with four-digit years, else None (undated).

    feedparser turns "0000-00-00" into year -1, which became the date "-1-11-30": stored with
    the document, it broke every answer citing it.
    """
    if not stamp or not 1000 <= stamp.tm_year <= 9999:
        return None
    try:
        datetime(stamp.tm_year, stamp.tm_mon, stamp.tm_mday)
    except ValueError:
        return None
    return stamp


# -- subscriptions ----------------------------------------------------------------------------


class FeedStore(Protocol):
    """Where subscriptions and their seen entries are kept, whichever database keeps them."""

    def subscribe(self, url: str, added_by: str, title: str | None = None) -> Subscription: ...
    def unsubscribe(self, url: str) -> None: ...
    def get(self, url: str) -> Subscription: ...
    def new_entries(self, feed_url: str, feed: Feed) -> builtins.list[FeedEntry]: ...
    def mark_seen(self, feed_url: str, entry_urls: Iterable[str]) -> None: ...
    def record_poll(self, feed_url: str, error: str | None, title: str | None = None) -> None: ...
    def list(self) -> builtins.list[Subscription]: ...
    def close(self) -> None: ...


class FeedSubscriptions:
    """Subscribed feeds and their seen entries, in the knowledge database file's own tables."""

    def __init__(self, path: Path) -> None:
        self._db = open_tables(path, _SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def subscribe(self, url: str, added_by: str, title: str | None = None) -> Subscription:
        """Follow a feed; its entries are taken in from the next poll on.

        Raises:
            SourceError: the URL is not a plain http(s) URL, or the feed is followed already.
        """
        url = validate_url(url).url
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO feeds (url, title, added_by, added_at) VALUES (?, ?, ?, ?)",
                    (url, title, added_by, _now()),
                )
            except sqlite3.IntegrityError:
                raise SourceError(f"already subscribed to {url}") from None
        return self.get(url)

    def unsubscribe(self, url: str) -> None:
        """Stop following a feed and forget its seen entries; ingested documents stay."""
        with self._lock:
            cursor = self._db.execute("DELETE FROM feeds WHERE url = ?", (url,))
        if cursor.rowcount == 0:
            raise SourceError(f"not subscribed to {url}")

    def get(self, url: str) -> Subscription:
        with self._lock:
            row = self._db.execute(
                "SELECT url, title, added_by, added_at, last_polled_at, last_error FROM feeds"
                " WHERE url = ?", (url,)
            ).fetchone()
        if row is None:
            raise SourceError(f"not subscribed to {url}")
        return Subscription(*row)

    def new_entries(self, feed_url: str, feed: Feed) -> builtins.list[FeedEntry]:
        """The entries of `feed` not marked seen for this subscription, in feed order."""
        links = [entry.link for entry in feed.entries]
        seen: set[str] = set()
        with self._lock:
            for first in range(0, len(links), 500):
                chunk = links[first : first + 500]
                rows = self._db.execute(
                    "SELECT entry_url FROM feed_entries WHERE feed_url = ? AND entry_url IN"
                    f" ({','.join('?' * len(chunk))})", (feed_url, *chunk)
                ).fetchall()
                seen.update(str(r[0]) for r in rows)
        return [entry for entry in feed.entries if entry.link not in seen]

    def mark_seen(self, feed_url: str, entry_urls: Iterable[str]) -> None:
        now = _now()
        with self._lock:
            self._db.executemany(
                "INSERT OR IGNORE INTO feed_entries VALUES (?, ?, ?)",
                [(feed_url, link, now) for link in entry_urls],
            )

    def record_poll(self, feed_url: str, error: str | None, title: str | None = None) -> None:
        """Note when the feed was polled and how it went; a title from the feed replaces none."""
        with self._lock:
            self._db.execute(
                "UPDATE feeds SET last_polled_at = ?, last_error = ?, title = COALESCE(?, title)"
                " WHERE url = ?", (_now(), error, title, feed_url)
            )

    def list(self) -> builtins.list[Subscription]:
        """Every subscription, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT url, title, added_by, added_at, last_polled_at, last_error FROM feeds"
                " ORDER BY added_at, rowid"
            ).fetchall()
        return [Subscription(*row) for row in rows]


# -- polling ----------------------------------------------------------------------------------


def poll_feed(
    subscriptions: FeedStore,
    feed_url: str,
    fetch_bytes: Callable[[str], bytes],
    add_entry: Callable[[FeedEntry], str | None],
) -> PollReport:
    """Fetch a subscribed feed and add each entry not seen before.

    Args:
        subscriptions: where the feed and its seen entries are kept.
        feed_url: a subscribed feed.
        fetch_bytes: fetches a URL's body (through the SSRF guard and size limits).
        add_entry: fetches the entry's page and ingests it; returns None when it was added,
            or why it was skipped (a copy of a stored document); raises to report a failure.

    Returns:
        The entries added, skipped and failed; failed entries stay unseen and are tried
        again next time, skipped ones are not. An entry that fails does not stop the others.

    Raises:
        SourceError: the feed is not subscribed.
    """
    subscriptions.get(feed_url)
    report = PollReport(feed_url)
    try:
        feed = parse_feed(fetch_bytes(feed_url), feed_url)
    except CrisisbotError as exc:
        report.error = str(exc)
        subscriptions.record_poll(feed_url, report.error)
        log.warning("feed %s: %s", feed_url, exc)
        return report
    except Exception as exc:
        subscriptions.record_poll(feed_url, f"unexpected error ({type(exc).__name__})")
        raise
    for entry in subscriptions.new_entries(feed_url, feed):
        try:
            skipped = add_entry(entry)
        except CrisisbotError as exc:
            report.failed.append((entry.link, str(exc)))
            log.warning("feed %s: entry %s not added: %s", feed_url, entry.link, exc)
            continue
        except Exception as exc:  # one broken entry must not stop the rest of the feed
            report.failed.append((entry.link, f"unexpected error ({type(exc).__name__})"))
            log.exception("feed %s: entry %s failed unexpectedly", feed_url, entry.link)
            continue
        subscriptions.mark_seen(feed_url, [entry.link])
        if skipped is None:
            report.added.append(entry.link)
        else:
            report.skipped.append((entry.link, skipped))
            log.info("feed %s: entry %s skipped: %s", feed_url, entry.link, skipped)
    subscriptions.record_poll(feed_url, _summary(report), feed.title)
    return report


def _summary(report: PollReport) -> str | None:
    if not report.failed:
        return None
    total = len(report.failed) + len(report.added) + len(report.skipped)
    link, error = report.failed[0]
    return f"{len(report.failed)} of {total} new entries failed; first: {link}: {error}"
