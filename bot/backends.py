"""Where the knowledge lives: the embedded data folder, or a PostgreSQL database shared by
several processes. One of the two is chosen at start (`CRISISBOT_DATABASE_URL`); everything
above builds on the interfaces they both provide, so the core never asks which it has.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from bot.settings import Settings
from index.interfaces import TextIndex, VectorIndex
from index.writer import WriteLock
from knowledge.store_interface import KnowledgeStore

if TYPE_CHECKING:
    from bot.audit import Audit
    from bot.feedback import Feedback
    from knowledge.feeds import FeedStore
    from knowledge.postgres.database import PostgresDatabase


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
        return SearchIndex(store, self.settings.index_path, model, dimension)

    def open_lexical(self, store: KnowledgeStore) -> TextIndex:
        from index.lexical import LexicalIndex

        return LexicalIndex(store)

    def write_lock(self) -> WriteLock:
        from index.writer import write_lock

        path = self.settings.lock_path
        return lambda: write_lock(path)

    def open_feedback(self) -> Feedback:
        from bot.feedback import FeedbackLog

        return FeedbackLog(self.settings.database_path)

    def open_audit(self) -> Audit:
        from bot.audit import AuditLog

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

    def open_lexical(self, store: KnowledgeStore) -> TextIndex:
        from index.pg_lexical import PostgresLexicalIndex
        from knowledge.postgres.store import PostgresStore

        assert isinstance(store, PostgresStore)
        return PostgresLexicalIndex(store)

    def write_lock(self) -> WriteLock:
        from knowledge.postgres.database import WRITER_LOCK

        database = self.database
        return lambda: database.advisory_lock(WRITER_LOCK)

    def open_feedback(self) -> Feedback:
        from bot.feedback_postgres import PostgresFeedbackLog

        return PostgresFeedbackLog(self.database)

    def open_audit(self) -> Audit:
        from bot.audit_postgres import PostgresAuditLog

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
