"""The audit log in the knowledge database file (the embedded default)."""

from __future__ import annotations

import threading
from pathlib import Path

from bot.core.actors import Actor
from bot.core.audit import STARTED, AuditEntry, finished, new_entry_fields
from knowledge.database import open_tables

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    platform TEXT NOT NULL,
    user_id TEXT NOT NULL,
    user_name TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    result TEXT NOT NULL
);
"""


class AuditLog:
    """Append-only: entries are written, counted and read back; a begun entry gets its
    outcome once (`finish`), nothing else is ever changed."""

    def __init__(self, path: Path) -> None:
        self._db = open_tables(path, _SCHEMA, foreign_keys=False)
        self._lock = threading.Lock()

    def record(self, actor: Actor, action: str, target: str, result: str) -> AuditEntry:
        row = new_entry_fields(actor, action, target, result)
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO audit (at, platform, user_id, user_name, action, target, result)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        return AuditEntry(int(cursor.lastrowid or 0), *row)

    def begin(self, actor: Actor, action: str, target: str) -> AuditEntry:
        return self.record(actor, action, target, STARTED)

    def finish(self, entry: AuditEntry, result: str) -> AuditEntry:
        done = finished(entry, result)
        with self._lock:
            self._db.execute("UPDATE audit SET result = ? WHERE id = ? AND result = ?",
                             (done.result, entry.id, STARTED))
        return done

    def entries(self, limit: int = 20, offset: int = 0) -> list[AuditEntry]:
        """The most recent entries first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, at, platform, user_id, user_name, action, target, result FROM audit"
                " ORDER BY id DESC LIMIT ? OFFSET ?",
                (max(0, limit), max(0, offset)),
            ).fetchall()
        return [AuditEntry(int(r[0]), *(str(v) for v in r[1:])) for r in rows]

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM audit").fetchone()[0])

    def close(self) -> None:
        self._db.close()
