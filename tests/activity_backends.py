"""The activity tables (feedback, audit log, feed subscriptions) on either backend, for tests.

`activity` builds the class under test for the test's `backend`: on SQLite, over one
`knowledge.sqlite3` in the test's folder; on PostgreSQL, over a fresh database, each object
with a `PostgresDatabase` of its own (as separate bot processes would have). Everything it
opened is closed after the test. Import the fixture into a test module to use it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.core.audit import Audit
from bot.runtime.storage.audit_sqlite import AuditLog
from bot.runtime.storage.audit_postgres import PostgresAuditLog
from bot.core.feedback import Feedback
from bot.runtime.storage.feedback_sqlite import FeedbackLog
from bot.runtime.storage.feedback_postgres import PostgresFeedbackLog
from knowledge.feeds import FeedStore, FeedSubscriptions
from knowledge.postgres.database import PostgresDatabase
from knowledge.postgres.feeds import PostgresFeedSubscriptions
from knowledge.store import SqliteStore


class ActivityBackend:
    """Makes feedback logs, audit logs and subscriptions on one backend; closes them all."""

    def __init__(self, backend: str, folder: Path, url: str | None) -> None:
        self.backend = backend
        self.path = folder / "knowledge.sqlite3"
        self.url = url
        self._opened: list[Feedback | Audit | FeedStore] = []
        self._databases: list[PostgresDatabase] = []

    @property
    def postgres(self) -> bool:
        return self.url is not None

    def database(self) -> PostgresDatabase:
        """A new PostgresDatabase on the test's database: what one more process would open."""
        assert self.url is not None, "only on the postgres backend"
        database = PostgresDatabase(self.url, max_connections=2)
        self._databases.append(database)
        return database

    def feedback(self, database: PostgresDatabase | None = None) -> Feedback:
        made: Feedback = (PostgresFeedbackLog(database or self.database()) if self.postgres
                          else FeedbackLog(self.path))
        self._opened.append(made)
        return made

    def audit(self, database: PostgresDatabase | None = None) -> Audit:
        made: Audit = PostgresAuditLog(database or self.database()) if self.postgres else AuditLog(self.path)
        self._opened.append(made)
        return made

    def feeds(self, database: PostgresDatabase | None = None) -> FeedStore:
        made: FeedStore
        if self.postgres:
            made = PostgresFeedSubscriptions(database or self.database())
        else:
            if not self.path.exists():
                SqliteStore(self.path).close()  # shares the store's database file
            made = FeedSubscriptions(self.path)
        self._opened.append(made)
        return made

    def close(self) -> None:
        for made in self._opened:
            made.close()
        for database in self._databases:
            database.close()


@pytest.fixture
def activity(backend: str, database_url: str | None, tmp_path: Path) -> Iterator[ActivityBackend]:
    made = ActivityBackend(backend, tmp_path, database_url)
    yield made
    made.close()


# -- connections that drop (PostgreSQL) -------------------------------------------------------


def drop_other_connections(url: str) -> int:
    """Terminate every other session on the test's database (as a server restart would)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


def break_at(statement: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first time a statement starting with `statement` runs, the connection's server
    session is terminated right after it (before the transaction can commit)."""
    import psycopg

    original = psycopg.Connection.execute
    fired: list[bool] = []

    def execute(self: psycopg.Connection, query: object, *args: object, **kwargs: object) -> object:
        cursor = original(self, query, *args, **kwargs)  # type: ignore[call-overload]
        if not fired and str(query).startswith(statement):
            fired.append(True)
            original(self, "SELECT pg_terminate_backend(pg_backend_pid())")
        return cursor

    monkeypatch.setattr(psycopg.Connection, "execute", execute)
