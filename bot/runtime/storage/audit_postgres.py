"""The admins' audit log in the shared PostgreSQL database.

The same append-only log as `bot.runtime.storage.audit_sqlite.AuditLog` keeps in the SQLite file, for several bot
processes at once: entries are numbered by one sequence, so every process reads the same
history in the same order. The table comes from migration 0002; times are `timestamptz` there
and ISO 8601 UTC text (seconds) here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.core.actors import Actor
from bot.core.audit import STARTED, AuditEntry, finished, new_entry_fields
from knowledge.postgres.times import utc_instant, utc_text

if TYPE_CHECKING:
    import psycopg

    from knowledge.postgres.database import PostgresDatabase


class PostgresAuditLog:
    """Append-only: entries are written, counted and read back; a begun entry gets its
    outcome once (`finish`), nothing else is ever changed (the caller owns the database)."""

    def __init__(self, database: PostgresDatabase) -> None:
        self._database = database

    def record(self, actor: Actor, action: str, target: str, result: str) -> AuditEntry:
        row = new_entry_fields(actor, action, target, result)

        def work(connection: psycopg.Connection) -> int:
            written = connection.execute(
                "INSERT INTO audit (at, platform, user_id, user_name, action, target, result)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (utc_instant(row[0]), *row[1:]),
            ).fetchone()
            return int(written[0])  # type: ignore[index]

        return AuditEntry(self._database.write(work), *row)

    def begin(self, actor: Actor, action: str, target: str) -> AuditEntry:
        return self.record(actor, action, target, STARTED)

    def finish(self, entry: AuditEntry, result: str) -> AuditEntry:
        done = finished(entry, result)
        self._database.write(lambda connection: connection.execute(
            "UPDATE audit SET result = %s WHERE id = %s AND result = %s", (done.result, entry.id, STARTED)
        ))
        return done

    def entries(self, limit: int = 20, offset: int = 0) -> list[AuditEntry]:
        """The most recent entries first."""

        def work(connection: psycopg.Connection) -> list[tuple[Any, ...]]:
            return connection.execute(
                "SELECT id, at, platform, user_id, user_name, action, target, result FROM audit"
                " ORDER BY id DESC LIMIT %s OFFSET %s",
                (max(0, limit), max(0, offset)),
            ).fetchall()

        return [AuditEntry(int(r[0]), str(utc_text(r[1])), *(str(v) for v in r[2:])) for r in self._database.read(work)]

    def count(self) -> int:
        def work(connection: psycopg.Connection) -> int:
            return int(connection.execute("SELECT COUNT(*) FROM audit").fetchone()[0])  # type: ignore[index]

        return self._database.read(work)

    def close(self) -> None:
        """Nothing to do: the database belongs to whoever made it, and is closed by them."""
