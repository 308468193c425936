"""One way to open the knowledge database file for tables that live beside the store's.

Feedback, the audit log and feed subscriptions keep their own tables in `knowledge.sqlite3`
(one file to back up) but write independently of the store, so each opens its own connection:
WAL so readers never wait for a writer, autocommit so each statement or explicit transaction
is its own unit, and a generous busy timeout for the other processes sharing the file.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_tables(path: Path, schema: str, foreign_keys: bool = True) -> sqlite3.Connection:
    """A connection to the database at `path` with `schema` (CREATE ... IF NOT EXISTS) applied."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    if foreign_keys:
        db.execute("PRAGMA foreign_keys=ON")
    db.executescript(schema)
    return db
