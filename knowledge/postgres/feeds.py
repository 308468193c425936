"""Feed subscriptions and their seen entries in the shared PostgreSQL database.

The same subscriptions as `knowledge.feeds.FeedSubscriptions` keeps in the SQLite file, for
several bot processes at once: an entry one process took in is seen by all of them. The tables
come from migration 0002; times are `timestamptz` there and ISO 8601 UTC text (seconds) here.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from knowledge.errors import SourceError
from knowledge.feeds import Feed, FeedEntry, Subscription, backoff
from knowledge.postgres.times import utc_text
from knowledge.url_guard import validate_url

if TYPE_CHECKING:
    import psycopg

    from knowledge.postgres.database import PostgresDatabase


# -- subscriptions ----------------------------------------------------------------------------

_COLUMNS = "url, title, added_by, added_at, last_polled_at, last_error"


def _subscription(row: tuple[Any, ...]) -> Subscription:
    url, title, added_by, added_at, last_polled_at, last_error = row
    return Subscription(url, title, added_by, str(utc_text(added_at)), utc_text(last_polled_at), last_error)


class PostgresFeedSubscriptions:
    """Subscribed feeds and their seen entries in the shared database (the caller owns it)."""

    def __init__(self, database: PostgresDatabase) -> None:
        self._database = database

    def close(self) -> None:
        """Nothing to do: the database belongs to whoever made it, and is closed by them."""

    def subscribe(self, url: str, added_by: str, title: str | None = None) -> Subscription:
        """Follow a feed; its entries are taken in from the next poll on.

        Raises:
            SourceError: the URL is not a plain http(s) URL, or the feed is followed already.
        """
        url = validate_url(url).url
        # To the microsecond (shown to the second): the embedded store lists feeds added in
        # the same second in the order they were added (by rowid), and so does this.
        added_at = datetime.now(timezone.utc)

        def work(connection: psycopg.Connection) -> tuple[Any, ...] | None:
            return connection.execute(
                "INSERT INTO feeds (url, title, added_by, added_at) VALUES (%s, %s, %s, %s)"
                f" ON CONFLICT (url) DO NOTHING RETURNING {_COLUMNS}",
                (url, title, added_by, added_at),
            ).fetchone()

        row = self._database.write(work)
        if row is None:
            raise SourceError(f"already subscribed to {url}")
        return _subscription(row)

    def unsubscribe(self, url: str) -> None:
        """Stop following a feed and forget its seen entries; ingested documents stay."""

        def work(connection: psycopg.Connection) -> int:
            return connection.execute("DELETE FROM feeds WHERE url = %s", (url,)).rowcount

        if self._database.write(work) == 0:
            raise SourceError(f"not subscribed to {url}")

    def get(self, url: str) -> Subscription:
        def work(connection: psycopg.Connection) -> tuple[Any, ...] | None:
            return connection.execute(f"SELECT {_COLUMNS} FROM feeds WHERE url = %s", (url,)).fetchone()

        row = self._database.read(work)
        if row is None:
            raise SourceError(f"not subscribed to {url}")
        return _subscription(row)

    def new_entries(self, feed_url: str, feed: Feed) -> builtins.list[FeedEntry]:
        """The entries of `feed` not marked seen for this subscription, in feed order."""
        links = [entry.link for entry in feed.entries]
        if not links:
            return []

        def work(connection: psycopg.Connection) -> set[str]:
            rows = connection.execute(
                "SELECT entry_url FROM feed_entries WHERE feed_url = %s AND entry_url = ANY(%s)",
                (feed_url, links),
            ).fetchall()
            return {str(r[0]) for r in rows}

        seen = self._database.read(work)
        return [entry for entry in feed.entries if entry.link not in seen]

    def mark_seen(self, feed_url: str, entry_urls: Iterable[str]) -> None:
        now = datetime.now(timezone.utc).replace(microsecond=0)
        rows = [(feed_url, link, now) for link in entry_urls]
        if not rows:
            return

        def work(connection: psycopg.Connection) -> None:
            with connection.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO feed_entries (feed_url, entry_url, seen_at) VALUES (%s, %s, %s)"
                    " ON CONFLICT (feed_url, entry_url) DO NOTHING",
                    rows,
                )
                cursor.executemany(
                    "DELETE FROM feed_entry_failures WHERE feed_url = %s AND entry_url = %s",
                    [row[:2] for row in rows],
                )

        self._database.write(work)

    def record_failure(self, feed_url: str, entry_url: str, error: str) -> int:
        """One more failure of an entry in a row; returns how many, and sets when it is next tried."""
        now = datetime.now(timezone.utc).replace(microsecond=0)

        def work(connection: psycopg.Connection) -> int:
            row = connection.execute(
                "INSERT INTO feed_entry_failures AS f (feed_url, entry_url, failures, last_error, retry_at)"
                " VALUES (%s, %s, 1, %s, %s) ON CONFLICT (feed_url, entry_url) DO UPDATE"
                " SET failures = f.failures + 1, last_error = EXCLUDED.last_error RETURNING failures",
                (feed_url, entry_url, error, now),
            ).fetchone()
            failures = int(row[0]) if row else 1
            connection.execute(
                "UPDATE feed_entry_failures SET retry_at = %s WHERE feed_url = %s AND entry_url = %s",
                (now + backoff(failures), feed_url, entry_url),
            )
            return failures

        return self._database.write(work)

    def backed_off(self, feed_url: str) -> set[str]:
        """The entries of a feed whose wait after repeated failures is not over yet."""

        def work(connection: psycopg.Connection) -> set[str]:
            rows = connection.execute(
                "SELECT entry_url FROM feed_entry_failures WHERE feed_url = %s AND retry_at > now()",
                (feed_url,),
            ).fetchall()
            return {str(r[0]) for r in rows}

        return self._database.read(work)

    def record_poll(self, feed_url: str, error: str | None, title: str | None = None) -> None:
        """Note when the feed was polled and how it went; a title from the feed replaces none."""
        now = datetime.now(timezone.utc).replace(microsecond=0)

        def work(connection: psycopg.Connection) -> None:
            connection.execute(
                "UPDATE feeds SET last_polled_at = %s, last_error = %s, title = COALESCE(%s::text, title)"
                " WHERE url = %s",
                (now, error, title, feed_url),
            )

        self._database.write(work)

    def list(self) -> builtins.list[Subscription]:
        """Every subscription, oldest first."""

        def work(connection: psycopg.Connection) -> builtins.list[tuple[Any, ...]]:
            return connection.execute(f"SELECT {_COLUMNS} FROM feeds ORDER BY added_at, url").fetchall()

        return [_subscription(row) for row in self._database.read(work)]
