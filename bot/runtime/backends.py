"""Where the knowledge lives: the embedded data folder, or a PostgreSQL database shared by
several processes. One of the two is chosen at start (`CRISISBOT_DATABASE_URL`); everything
above builds on the interfaces they both provide, so the core never asks which it has.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from bot.runtime.settings import Settings
from index.interfaces import TextIndex, VectorIndex
from index.writer import WriteLock
from knowledge.errors import ConfigError
from knowledge.store_interface import KnowledgeStore

if TYPE_CHECKING:
    from bot.core.audit import Audit
    from bot.core.feedback import Feedback
    from knowledge.feeds import FeedStore
    from knowledge.postgres.database import PostgresDatabase


@contextmanager
def try_file_lock(path: Path) -> Iterator[bool]:
    """An exclusive lock on `path` if nobody holds it (True), else False at once; the OS
    releases it if the holder dies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


class EmbeddedBackend:
    """SQLite + a FAISS file + BM25 in memory, in one data folder: no server to run."""

    name = "embedded (SQLite + FAISS)"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def open_store(self) -> KnowledgeStore:
        from knowledge.store import SqliteStore

        return SqliteStore(self.settings.database_path)

    def open_index(self, store: KnowledgeStore, model: str, dimension: int) -> VectorIndex:
        from index.search_index import SearchIndex
        from knowledge.store import SqliteStore

        assert isinstance(store, SqliteStore)
        return SearchIndex(store, self.settings.index_path, model, dimension,
                           approximate_above=self.settings.approximate_index_above,
                           storage=self.settings.vector_storage)

    def open_multilingual_index(self, store: KnowledgeStore, model: str, dimension: int) -> VectorIndex:
        """The FAISS copy of the multilingual vectors (knowledge.multilingual_store)."""
        from index.search_index import SearchIndex
        from knowledge.store import SqliteStore

        assert isinstance(store, SqliteStore)
        return SearchIndex(store.multilingual(), self.settings.multilingual_index_path, model, dimension,
                           approximate_above=self.settings.approximate_index_above,
                           storage=self.settings.vector_storage)

    def open_lexical(self, store: KnowledgeStore) -> TextIndex:
        from index.lexical import LexicalIndex

        return LexicalIndex(store)

    def write_lock(self) -> WriteLock:
        from index.writer import write_lock

        path = self.settings.lock_path
        return lambda: write_lock(path)

    def feed_poll_lock(self) -> AbstractContextManager[bool]:
        """Held while feeds are polled, by any process on this data folder (the bot, a cron
        `crisisbot kb poll`): True if this caller got it."""
        return try_file_lock(self.settings.data_dir / "feeds.lock")

    def open_feedback(self) -> Feedback:
        from bot.runtime.storage.feedback_sqlite import FeedbackLog

        return FeedbackLog(self.settings.database_path)

    def open_audit(self) -> Audit:
        from bot.runtime.storage.audit_sqlite import AuditLog

        return AuditLog(self.settings.database_path)

    def open_feeds(self) -> FeedStore:
        from knowledge.feeds import FeedSubscriptions

        return FeedSubscriptions(self.settings.database_path)

    def close(self) -> None:
        """Each table set closes its own SQLite connection."""


class PostgresBackend:
    """PostgreSQL with pgvector: the store, vector search (HNSW), full-text search, votes,
    audit and feeds in one database that every process of a deployment shares."""

    name = "PostgreSQL + pgvector"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def database(self) -> PostgresDatabase:
        from knowledge.postgres.database import PostgresDatabase

        assert self.settings.database_url is not None
        return PostgresDatabase(self.settings.database_url.get_secret_value())

    def open_store(self) -> KnowledgeStore:
        from knowledge.postgres.store import PostgresStore

        return PostgresStore(self.database)

    def open_index(self, store: KnowledgeStore, model: str, dimension: int) -> VectorIndex:
        from index.pgvector_index import PgVectorIndex
        from knowledge.postgres.store import PostgresStore

        assert isinstance(store, PostgresStore)
        return PgVectorIndex(store, model, dimension)

    def open_multilingual_index(self, store: KnowledgeStore, model: str, dimension: int) -> VectorIndex:
        """Not yet: the settings refuse multilingual retrieval with a database URL."""
        raise ConfigError("multilingual retrieval is embedded-only for now (CRISISBOT_DATABASE_URL is set)")

    def open_lexical(self, store: KnowledgeStore) -> TextIndex:
        from index.pg_lexical import PostgresLexicalIndex
        from knowledge.postgres.store import PostgresStore

        assert isinstance(store, PostgresStore)
        return PostgresLexicalIndex(store)

    def write_lock(self) -> WriteLock:
        from knowledge.postgres.database import WRITER_LOCK

        database = self.database
        return lambda: database.advisory_lock(WRITER_LOCK)

    def feed_poll_lock(self) -> AbstractContextManager[bool]:
        """Held while feeds are polled, by any process on the database (the worker, an admin's
        `/kb poll` in a chat process): True if this caller got it."""
        from knowledge.postgres.database import FEED_POLL_LOCK

        return self.database.try_advisory_lock(FEED_POLL_LOCK)

    def open_feedback(self) -> Feedback:
        from bot.runtime.storage.feedback_postgres import PostgresFeedbackLog

        return PostgresFeedbackLog(self.database)

    def open_audit(self) -> Audit:
        from bot.runtime.storage.audit_postgres import PostgresAuditLog

        return PostgresAuditLog(self.database)

    def open_feeds(self) -> FeedStore:
        from knowledge.postgres.feeds import PostgresFeedSubscriptions

        return PostgresFeedSubscriptions(self.database)

    def close(self) -> None:
        if "database" in self.__dict__:
            self.database.close()


Backend = EmbeddedBackend | PostgresBackend


def choose_backend(settings: Settings) -> Backend:
    """PostgreSQL when `database_url` is set, else the embedded data folder."""
    return PostgresBackend(settings) if settings.database_url is not None else EmbeddedBackend(settings)
