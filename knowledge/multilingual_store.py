"""A second vector per passage, from the multilingual model, beside the first (SQLite).

all-MiniLM-L6-v2 knows English only; multilingual-e5-small lets a Ukrainian or Russian question
find an English passage. Retrieval fuses both, so a passage keeps its MiniLM vector in
`passages.embedding` and gains an e5 vector in `passage_vectors_multilingual`, its own table:
a knowledge base built before the setting existed (or with it off) has no row there, and a
background fill adds the rows later without touching the passages. `ON DELETE CASCADE` removes
a passage's row with it, whatever the setting is at the time.

The table has its own generation, `multilingual_generation()`: the store's generation plus the
number of fill batches committed. Both counters only grow, so the sum moves at every write that
changes the table (a new or removed passage, a fill), which is what the FAISS copy of the
table (`passages-multilingual.faiss`) needs to notice that it is stale. Fills do not move the
store's own generation: the MiniLM index, BM25 and the vectors' statistics stay as they are.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

import numpy as np

from knowledge.errors import StoreError
from knowledge.store_interface import WriteResult

TABLE_SCHEMA = """
CREATE TABLE IF NOT EXISTS passage_vectors_multilingual (
    passage_id INTEGER PRIMARY KEY REFERENCES passages(id) ON DELETE CASCADE,
    embedding BLOB NOT NULL
);
"""
_FILLS = "multilingual_fills"
_MODEL = "multilingual_model"


class MultilingualVectorTable:
    """The multilingual table's reads and writes, mixed into `SqliteStore` (which provides the
    connection, its lock and transactions)."""

    _db: sqlite3.Connection
    _lock: Any  # threading.RLock

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _select_in(self, sql: str, keys: Sequence[int] | Sequence[str]) -> list[tuple]:
        raise NotImplementedError

    def multilingual(self) -> MultilingualVectors:
        """The table as a `VectorSource`, for its FAISS copy and its statistics."""
        return MultilingualVectors(self)

    def multilingual_generation(self) -> int:
        with self._lock:
            return _combined_generation(self._db)

    @staticmethod
    def _multilingual_write(db: sqlite3.Connection, result: WriteResult) -> None:
        """Inside a passage write's transaction, after the generation moved."""
        result.multilingual_generation = _combined_generation(db)

    @staticmethod
    def _insert_multilingual(db: sqlite3.Connection, model: str, passage_id: int,
                             vector: np.ndarray) -> None:
        _check_model(db, model)
        db.execute("INSERT OR REPLACE INTO passage_vectors_multilingual VALUES (?, ?)",
                   (passage_id, np.ascontiguousarray(vector, dtype=np.float32).tobytes()))

    def multilingual_missing(self, after: int = 0, limit: int = 64) -> list[tuple[int, str]]:
        """(id, text) of passages above `after` without a multilingual vector, in id order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT p.id, p.text FROM passages p WHERE p.id > ? AND NOT EXISTS"
                " (SELECT 1 FROM passage_vectors_multilingual m WHERE m.passage_id = p.id)"
                " ORDER BY p.id LIMIT ?", (after, limit),
            ).fetchall()
        return [(int(r[0]), str(r[1])) for r in rows]

    def multilingual_missing_count(self) -> int:
        with self._lock:
            return int(self._db.execute(
                "SELECT COUNT(*) FROM passages p WHERE NOT EXISTS"
                " (SELECT 1 FROM passage_vectors_multilingual m WHERE m.passage_id = p.id)"
            ).fetchone()[0])

    def write_multilingual(self, model: str, ids: Sequence[int], vectors: np.ndarray) -> WriteResult:
        """Store one fill batch in one transaction; passages removed since they were read are
        skipped. The result lists what was written, with the table's new generation."""
        result = WriteResult()
        with self._transaction() as db:
            for passage_id, vector in zip(ids, vectors):
                if db.execute("SELECT 1 FROM passages WHERE id = ?", (int(passage_id),)).fetchone():
                    self._insert_multilingual(db, model, int(passage_id), vector)
                    result.new_vectors[int(passage_id)] = np.asarray(vector, dtype=np.float32)
            row = db.execute("SELECT value FROM meta WHERE key = ?", (_FILLS,)).fetchone()
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (_FILLS, str(int(row[0]) + 1 if row else 1)))
            result.generation = _combined_generation(db)
        return result

    def multilingual_ids(self) -> np.ndarray:
        with self._lock:
            rows = self._db.execute("SELECT passage_id FROM passage_vectors_multilingual").fetchall()
        return np.sort(np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)))

    def multilingual_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM passage_vectors_multilingual").fetchone()[0])

    def multilingual_vectors(self, ids: Sequence[int], dimension: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of those of the given passages that have a multilingual vector."""
        with self._lock:
            rows = self._select_in("SELECT passage_id, embedding FROM passage_vectors_multilingual"
                                   " WHERE passage_id IN ({})", [int(i) for i in ids])
        found = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        out = np.empty((len(rows), dimension), dtype=np.float32)
        for row, (_, blob) in enumerate(rows):
            out[row] = np.frombuffer(blob, dtype=np.float32)
        return found, out

    def multilingual_model(self) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (_MODEL,)).fetchone()
        return None if row is None else str(row[0])


class MultilingualVectors:
    """The multilingual table seen as the `VectorSource` a `SearchIndex` and the retriever's
    statistics read: the same questions the passages' own vectors answer."""

    def __init__(self, table: MultilingualVectorTable) -> None:
        self.table = table

    def generation(self) -> int:
        return self.table.multilingual_generation()

    def passage_count(self) -> int:
        return self.table.multilingual_count()

    def passage_ids(self) -> np.ndarray:
        return self.table.multilingual_ids()

    def existing_vectors(self, ids: Sequence[int], dimension: int) -> tuple[np.ndarray, np.ndarray]:
        return self.table.multilingual_vectors(ids, dimension)

    def embedding_model(self) -> str | None:
        return self.table.multilingual_model()


def _combined_generation(db: sqlite3.Connection) -> int:
    row = db.execute(
        "SELECT COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'generation'), 0)"
        " + COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?), 0)", (_FILLS,)
    ).fetchone()
    return int(row[0])


def _check_model(db: sqlite3.Connection, model: str) -> None:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (_MODEL,)).fetchone()
    if row is None:
        db.execute("INSERT INTO meta VALUES (?, ?)", (_MODEL, model))
    elif row[0] != model:
        raise StoreError(f"the multilingual vectors were made by {row[0]!r}, not {model!r}")
