"""Versioned schema migrations for the PostgreSQL backend.

The schema is never created by ad-hoc DDL in the code that uses it: each change is a numbered
SQL file in `migrations/` (`0001_knowledge.sql`, ...), applied once, in order, each in its own
transaction, and recorded with a checksum in `schema_migrations`. Several bot processes may
start at once against one database, so the whole run holds a transaction-level advisory lock:
the first applies what is pending, the others wait and then find nothing to do.

A migration file edited after it was applied is refused (its checksum no longer matches):
changing history would leave databases that ran the old text and the new one different.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

from knowledge.errors import StoreError

if TYPE_CHECKING:
    import psycopg

MIGRATION_LOCK = 0x63726973  # "cris": the advisory lock every migrator takes
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(StoreError):
    """The database's schema cannot be brought up to date (a failed or edited migration)."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


def bundled_migrations() -> list[Migration]:
    """The migrations shipped in `knowledge/postgres/migrations`, in version order.

    Raises:
        MigrationError: two files share a version, or the versions have a gap.
    """
    folder = resources.files("knowledge.postgres") / "migrations"
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    return check_sequence(found)


def check_sequence(migrations: list[Migration]) -> list[Migration]:
    ordered = sorted(migrations, key=lambda m: m.version)
    versions = [m.version for m in ordered]
    if versions != list(range(1, len(ordered) + 1)):
        raise MigrationError(f"migration versions must run 1, 2, 3, … without gaps or repeats; found {versions}")
    return ordered


def applied_versions(connection: psycopg.Connection) -> dict[int, str]:
    """Version -> checksum of what this database has applied (empty for a new database)."""
    with connection.transaction():
        connection.execute(_LEDGER)
        rows = connection.execute("SELECT version, checksum FROM schema_migrations").fetchall()
    return {int(version): str(checksum) for version, checksum in rows}


def migrate(connection: psycopg.Connection, migrations: list[Migration] | None = None) -> list[int]:
    """Apply every pending migration, in order; returns the versions applied now.

    Each migration commits with its ledger row in a transaction of its own, so one that fails
    leaves the database as the previous one left it, and the error names the file. The run holds
    a session advisory lock, so processes starting together apply each migration once.

    Raises:
        MigrationError: a migration failed, an applied one was edited since, or the database
            is newer than this program (it has versions this program does not know).
    """
    import psycopg

    pending = check_sequence(list(migrations if migrations is not None else bundled_migrations()))
    if connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise MigrationError("migrate needs a connection outside any transaction")
    autocommit = connection.autocommit
    connection.autocommit = True
    try:
        connection.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        try:
            return _apply(connection, pending)
        finally:
            connection.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
    finally:
        connection.autocommit = autocommit


def _apply(connection: psycopg.Connection, pending: list[Migration]) -> list[int]:
    import psycopg

    applied = applied_versions(connection)
    newer = sorted(set(applied) - {m.version for m in pending})
    if newer:
        raise MigrationError(
            f"the database has schema versions {newer} that this crisisbot does not know: upgrade crisisbot"
        )
    applied_now: list[int] = []
    for migration in pending:
        if migration.version in applied:
            if applied[migration.version] != migration.checksum:
                raise MigrationError(
                    f"migration {migration.version:04d}_{migration.name}.sql was edited after it was "
                    "applied; add a new migration instead"
                )
            continue
        try:
            with connection.transaction():
                connection.execute(migration.sql.encode("utf-8"))
                connection.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, migration.checksum),
                )
        except psycopg.Error as exc:
            raise MigrationError(f"migration {migration.version:04d}_{migration.name}.sql failed: {exc}") from exc
        applied_now.append(migration.version)
    return applied_now
