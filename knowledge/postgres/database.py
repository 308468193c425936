"""Connections to the shared PostgreSQL database, and what happens when one breaks.

Several bot processes share the database, and a connection can drop at any time (the server
restarts, a network blip, an idle timeout, an admin's `pg_terminate_backend`). A pool checks
each connection before lending it, so a connection that died while idle is replaced unseen.
A connection that dies during a call is handled by what the call was:

- a read is simply run again once on a fresh connection: reading twice changes nothing;
- a write is one transaction, so the server keeps all of it or none of it; it is NOT run again
  (the drop may have come after the commit), and the caller gets `DatabaseUnavailable`, a
  clear message that says so. Every write the bot makes can be repeated safely by the person
  who asked for it (a document with the same text is recognised, a vote replaces itself).

Vectors travel in pgvector's binary format (the `pgvector` package's adapters), as float32.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

from knowledge.errors import StoreError

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)

T = TypeVar("T")

CONNECT_TIMEOUT_SECONDS = 10
WRITER_LOCK = 0x63726973_00000002  # pg_advisory_lock key of the one writer ("cris" + 2)
FEED_POLL_LOCK = 0x63726973_00000003  # held by whichever process is polling the feeds


class DatabaseUnavailable(StoreError):
    """The shared database could not be reached, or the connection broke during a call."""


def _lost(exc: Exception) -> bool:
    """Whether `exc` means the connection itself failed (rather than the statement)."""
    import psycopg

    return isinstance(exc, psycopg.OperationalError) or (
        isinstance(exc, psycopg.errors.AdminShutdown)  # pg_terminate_backend, server shutdown
    )


def _redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    import re

    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


class PostgresDatabase:
    """A small pool of connections to one database, with the schema migrated on first open."""

    def __init__(self, url: str, max_connections: int = 8, migrate_schema: bool = True) -> None:
        """`max_connections`: a feed poll holds three at once (its try-lock, the writer's lock,
        the write) on the knowledge thread while the two question threads answer (one each); 8
        leaves room, and three services of a deployment stay far below PostgreSQL's default
        limit of 100."""
        self.url = url
        self.max_connections = max_connections
        self.migrate_schema = migrate_schema
        self._pool: ConnectionPool | None = None
        self._open_lock = threading.Lock()

    @property
    def safe_url(self) -> str:
        return _redact(self.url)

    def _configure(self, connection: psycopg.Connection) -> None:
        from pgvector.psycopg import register_vector

        register_vector(connection)
        # Dates without a zone ("2024-11-01") are read as UTC, as the embedded store's are.
        connection.execute("SET TIME ZONE 'UTC'")

    @property
    def pool(self) -> ConnectionPool:
        with self._open_lock:
            if self._pool is None:
                self._pool = self._open()
            return self._pool

    def _open(self) -> ConnectionPool:
        import psycopg
        from psycopg_pool import ConnectionPool, PoolTimeout

        if self.migrate_schema:
            from knowledge.postgres.lexical import restem_pending
            from knowledge.postgres.migrations import MIGRATION_LOCK, migrate

            try:
                with psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT_SECONDS) as connection:
                    applied = migrate(connection)
                    restemmed = restem_pending(connection, MIGRATION_LOCK)
            except psycopg.OperationalError as exc:
                raise DatabaseUnavailable(
                    f"cannot connect to PostgreSQL at {self.safe_url}: {_first_line(exc)}"
                ) from None
            if applied:
                log.info("PostgreSQL schema migrated: applied %s", applied)
            if restemmed:
                log.info("stemmed the lexical vectors of %d Cyrillic passages by language", restemmed)
        pool = ConnectionPool(
            self.url,
            min_size=1,
            max_size=self.max_connections,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_SECONDS},
            configure=self._configure,
            check=ConnectionPool.check_connection,
            open=False,
            name="crisisbot",
        )
        try:
            pool.open(wait=True, timeout=CONNECT_TIMEOUT_SECONDS)
        except PoolTimeout:
            pool.close()
            raise DatabaseUnavailable(f"cannot connect to PostgreSQL at {self.safe_url}") from None
        return pool

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A connection lent by the pool (autocommit; use `.transaction()` for a unit)."""
        from psycopg_pool import PoolTimeout

        try:
            with self.pool.connection(timeout=CONNECT_TIMEOUT_SECONDS * 3) as connection:
                yield connection
        except PoolTimeout:
            raise DatabaseUnavailable(
                f"no connection to PostgreSQL at {self.safe_url} within {CONNECT_TIMEOUT_SECONDS * 3} s"
            ) from None

    def read(self, work: Callable[[psycopg.Connection], T]) -> T:
        """Run `work` in one read transaction (one consistent snapshot); once more on a fresh
        connection if the first one broke."""
        for attempt in (1, 2):
            try:
                with self.connection() as connection, connection.transaction():
                    return work(connection)
            except Exception as exc:
                if not _lost(exc):
                    raise
                if attempt == 2:
                    raise DatabaseUnavailable(
                        f"lost the connection to PostgreSQL twice while reading: {_first_line(exc)}"
                    ) from None
                log.warning("PostgreSQL connection lost during a read; reading again: %s", _first_line(exc))
        raise AssertionError("unreachable")

    def write(self, work: Callable[[psycopg.Connection], T]) -> T:
        """Run `work` in one transaction: all of it is saved or none of it."""
        try:
            with self.connection() as connection, connection.transaction():
                return work(connection)
        except Exception as exc:
            if not _lost(exc):
                raise
            log.warning("PostgreSQL connection lost during a write: %s", _first_line(exc))
            raise DatabaseUnavailable(
                "the connection to the database broke during the change, so it was saved whole or "
                "not at all: check, then try again (repeating it is safe)"
            ) from None

    @contextmanager
    def advisory_lock(self, key: int) -> Iterator[None]:
        """Exclusive across every process using the database; the server releases it if the
        holder's connection dies, so a killed process never leaves it held."""
        with self._session_lock(key, wait=True) as acquired:
            assert acquired
            yield

    @contextmanager
    def try_advisory_lock(self, key: int) -> Iterator[bool]:
        """Like `advisory_lock`, but never waits: yields False when another session holds it."""
        with self._session_lock(key, wait=False) as acquired:
            yield acquired

    @contextmanager
    def _session_lock(self, key: int, wait: bool) -> Iterator[bool]:
        """A session-level advisory lock held on one pooled connection for the block."""
        call = "pg_advisory_lock(%s), true" if wait else "pg_try_advisory_lock(%s)"
        with self.connection() as connection:
            try:
                row = connection.execute(f"SELECT {call}", (key,)).fetchone()
            except Exception as exc:
                if _lost(exc):
                    raise DatabaseUnavailable(f"lost the connection to PostgreSQL: {_first_line(exc)}") from None
                raise
            acquired = bool(row and row[-1])
            try:
                yield acquired
            finally:
                if acquired and not connection.broken:
                    try:
                        connection.execute("SELECT pg_advisory_unlock(%s)", (key,))
                    except Exception:  # the session's end releases it anyway
                        log.warning("could not release advisory lock %s", key, exc_info=True)

    def close(self) -> None:
        with self._open_lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
