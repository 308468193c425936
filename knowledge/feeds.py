"""RSS and Atom subscriptions: which feeds admins follow, which entries were already taken in.

Parsing works on bytes the caller fetched (through the SSRF guard): feedparser is never given
a URL, so it never opens a connection of its own. Polling takes its two side effects as
callables (fetch the feed, add one entry), so the scheduler and the HTTP client live elsewhere
and the tests need neither. An entry counts as seen only once it was added, so one that failed
is tried again at the next poll; one that keeps failing waits longer each time (its failures
are kept with the subscription, so a restart does not forget them).

How a poll is bounded is `knowledge.feed_poll`'s business.
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
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Protocol

from knowledge.database import open_tables
from knowledge.errors import CrisisbotError, SourceError
from knowledge.text import replace_surrogates, strip_invisible
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
CREATE TABLE IF NOT EXISTS feed_entry_failures (
    feed_url TEXT NOT NULL REFERENCES feeds(url) ON DELETE CASCADE,
    entry_url TEXT NOT NULL,
    failures INTEGER NOT NULL,
    last_error TEXT NOT NULL,
    retry_at TEXT NOT NULL,
    PRIMARY KEY (feed_url, entry_url)
);
"""

FIRST_BACKOFF = timedelta(hours=1)
"""How long an entry that failed twice in a row waits; each further failure doubles it. The
first failure waits for nothing: the next poll tries again, as a passing outage deserves."""
MAX_BACKOFF = timedelta(days=7)


def backoff(failures: int) -> timedelta:
    """How long an entry that failed `failures` times in a row waits before it is tried again."""
    if failures <= 1:
        return timedelta(0)
    return min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** min(failures - 2, 16))




@dataclass(frozen=True)
class FeedEntry:
    """One item of a feed: the page it links to is what gets fetched and ingested."""

    link: str
    title: str | None = None
    published: str | None = None  # YYYY-MM-DD, when the feed dates the entry
    summary: str | None = None  # plain text
    stamp: str | None = field(default=None, compare=False)  # when, to the second: newest first


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
    waiting: int = 0  # new entries left for the next poll (over the cap, or out of time)
    out_of_time: bool = False  # the poll's time budget ran out before this feed's last entry
    backing_off: int = 0  # entries that failed repeatedly, not tried until their wait is over


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# -- parsing ----------------------------------------------------------------------------------


def parse_feed(content: bytes, feed_url: str) -> Feed:
    """Parse RSS (0.9x, 1.0, 2.0) or Atom from bytes; relative links resolve against `feed_url`.

    Entries without a usable http(s) link are skipped, as are repeats of a link.

    Raises:
        SourceError: the bytes are not an RSS or Atom feed.
    """
    try:
        return _parse(_without_surrogate_references(content), feed_url)
    except CrisisbotError:
        raise
    except Exception as exc:  # noqa: BLE001 -- feedparser and its SGML parser raise anything
        log.info("%s: feed cannot be parsed", feed_url, exc_info=True)
        raise SourceError(f"{feed_url} cannot be read as a feed ({type(exc).__name__})") from None


_NUMERIC_REFERENCE = re.compile(rb"&#([xX][0-9a-fA-F]{1,8}|[0-9]{1,10});")


def _without_surrogate_references(content: bytes) -> bytes:
    """`&#xD800;` and its kin as U+FFFD: a reference to half a UTF-16 pair, or to no code
    point at all, is no character, and feedparser raises on it instead of reading the feed."""

    def replace(match: re.Match[bytes]) -> bytes:
        digits = match.group(1)
        number = int(digits[1:], 16) if digits[:1] in b"xX" else int(digits)
        return b"&#xFFFD;" if 0xD800 <= number <= 0xDFFF or number > 0x10FFFF else match.group()

    return _NUMERIC_REFERENCE.sub(replace, content)


def _parse(content: bytes, feed_url: str) -> Feed:
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
                stamp=time.strftime("%Y-%m-%dT%H:%M:%S", stamp) if stamp else None,
            )
        )
    return Feed(feed_url, _text(parsed.feed.get("title")), tuple(entries))


def _text(value: object) -> str | None:
    if not value:
        return None
    text = " ".join(strip_invisible(replace_surrogates(html.unescape(str(value)))).split())
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
    def record_failure(self, feed_url: str, entry_url: str, error: str) -> int: ...
    def backed_off(self, feed_url: str) -> set[str]: ...
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
        """Entries taken in (added or skipped): never fetched again, their failures forgotten."""
        now = _now()
        rows = [(feed_url, link, now) for link in entry_urls]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT OR IGNORE INTO feed_entries VALUES (?, ?, ?)", rows)
                self._db.executemany(
                    "DELETE FROM feed_entry_failures WHERE feed_url = ? AND entry_url = ?",
                    [row[:2] for row in rows],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def record_failure(self, feed_url: str, entry_url: str, error: str) -> int:
        """One more failure of an entry in a row; returns how many, and sets when it is next tried."""
        with self._lock:
            row = self._db.execute(
                "SELECT failures FROM feed_entry_failures WHERE feed_url = ? AND entry_url = ?",
                (feed_url, entry_url),
            ).fetchone()
            failures = (int(row[0]) if row else 0) + 1
            retry_at = (datetime.now(timezone.utc) + backoff(failures)).isoformat(timespec="seconds")
            self._db.execute(
                "INSERT OR REPLACE INTO feed_entry_failures VALUES (?, ?, ?, ?, ?)",
                (feed_url, entry_url, failures, error, retry_at),
            )
        return failures

    def backed_off(self, feed_url: str) -> set[str]:
        """The entries of a feed whose wait after repeated failures is not over yet."""
        with self._lock:
            rows = self._db.execute(
                "SELECT entry_url FROM feed_entry_failures WHERE feed_url = ? AND retry_at > ?",
                (feed_url, _now()),
            ).fetchall()
        return {str(r[0]) for r in rows}

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
