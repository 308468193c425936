"""One way to open the knowledge database file for tables that live beside the store's.

Feedback, the audit log and feed subscriptions keep their own tables in `knowledge.sqlite3`
(one file to back up) but write independently of the store, so each opens its own connection:
WAL so readers never wait for a writer, autocommit so each statement or explicit transaction
is its own unit, and a generous busy timeout for the other processes sharing the file.
It also checks the file's integrity (`integrity_problems`) for `crisisbot check` and for the
start of a serving process.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from knowledge.errors import StoreError


def open_tables(path: Path, schema: str, foreign_keys: bool = True) -> sqlite3.Connection:
    """A connection to the database at `path` with `schema` (CREATE ... IF NOT EXISTS) applied."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    if foreign_keys:
        db.execute("PRAGMA foreign_keys=ON")
    db.executescript(schema)
    return db


class DamagedDatabase(StoreError):
    """SQLite found damaged pages: the file must be restored from a backup."""


def integrity_problems(path: Path, quick: bool = False, limit: int = 20) -> list[str]:
    """What SQLite's own check finds wrong in the database at `path` (empty: it is whole).

    `quick` runs `quick_check` (no index-to-table cross-check): 0.7 s at 100,000 passages
    (400 MB) on the 2-core machine, so it suits a long-running process's start, not every
    command; `crisisbot check` runs the full `integrity_check`. Read-only: a damaged file is
    never written to (opening a store would apply the schema).
    """
    pragma = "quick_check" if quick else "integrity_check"
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            rows = db.execute(f"PRAGMA {pragma}({int(limit)})").fetchall()
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    return [] if [tuple(r) for r in rows] == [("ok",)] else [str(r[0]) for r in rows]


def stored_passage_ids(path: Path) -> list[int]:
    """Every passage id in the knowledge database, read-only (for comparing with the index)."""
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'passages'").fetchone() is None:
            return []
        return [int(r[0]) for r in db.execute("SELECT id FROM passages ORDER BY id")]
    finally:
        db.close()
