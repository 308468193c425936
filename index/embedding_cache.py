"""Passage vectors kept across runs, so unchanged text is never embedded twice.

Embedding is the slow part of an ingest (about 70 passages a second on two cores); a second
`crisisbot eval` over the same corpus, a document removed and added again, or a `reindex`
with the same model would otherwise pay for it again. Vectors are keyed by (model name,
SHA-256 of the text), in one SQLite file (WAL) that several processes can share.

The cache is an optimisation, never a source of truth: a row that does not look like a
vector of the expected size is treated as absent, a file that is not a database is moved
aside, and any other SQLite failure only costs a re-embedding. Only passage texts from the
knowledge base go through it; the bot never wraps the embedder that sees user questions.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from index.embedder import Embedder
from knowledge.crash_test_hook import crash_test_point

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
# A rowid table with a unique index, not WITHOUT ROWID (schema 1): a 1.5 KB vector is too big
# for a row of an index b-tree and spilled to an overflow page, so the file was 2.2 times the
# vectors' size and a lookup of 50 sentences took 1.1 ms instead of 0.3 ms (10k passages).
_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    model TEXT NOT NULL,
    text_sha256 BLOB NOT NULL,
    dimension INTEGER NOT NULL,
    vector BLOB NOT NULL,
    UNIQUE (model, text_sha256)
);
"""
_FROM_SCHEMA_1 = (
    _SCHEMA.replace("EXISTS vectors", "EXISTS vectors_2"),
    "INSERT INTO vectors_2 (model, text_sha256, dimension, vector) "
    "SELECT model, text_sha256, dimension, vector FROM vectors",
    "DROP TABLE vectors",
    "ALTER TABLE vectors_2 RENAME TO vectors",
)
_CHUNK = 500  # keys per query: well under SQLite's bound-variable limit (999 on old builds)
_VECTOR_DTYPE = np.dtype("<f4")  # fixed byte order, so the file means the same everywhere


def text_key(text: str) -> bytes:
    """SHA-256 of the text: a fixed-size key that holds no readable passage text."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class EmbeddingCache:
    """(model, text hash) -> vector in a SQLite file; safe for threads and processes.

    Each `store` is one transaction, so after a crash an entry is whole or absent. Failures
    are logged and degrade to cache misses: a broken cache must never stop the bot.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        try:
            self._db = self._connect()
        except sqlite3.OperationalError as exc:  # unreadable, read-only, locked for too long
            log.warning("embedding cache %s unavailable, embedding without it: %s", path, exc)
        except sqlite3.DatabaseError as exc:  # not a database, or a damaged one
            log.warning("embedding cache %s is corrupt (%s): moving it aside", path, exc)
            self._move_aside()
            try:
                self._db = self._connect()
            except sqlite3.Error as again:
                log.warning("embedding cache %s unavailable, embedding without it: %s", path, again)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            # A cache may lose its last entries in a power cut (WAL stays consistent); no fsync
            # on every batch.
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("BEGIN IMMEDIATE")
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            if version not in (0, 1, SCHEMA_VERSION):  # a newer crisisbot's file: leave it be
                db.execute("ROLLBACK")
                raise sqlite3.OperationalError(f"made by another crisisbot (schema {version})")
            if _without_rowid(db):
                # Copied in this transaction: a crash leaves schema 1 whole, to be copied again.
                log.info("embedding cache %s: moving its vectors to schema %d", self.path, SCHEMA_VERSION)
                for statement in _FROM_SCHEMA_1:
                    db.execute(statement)
            db.execute(_SCHEMA)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            db.execute("COMMIT")
            db.execute("SELECT 1 FROM vectors LIMIT 1").fetchall()
        except BaseException:
            db.close()
            raise
        return db

    def _move_aside(self) -> None:
        """Keep the damaged file for inspection, with its WAL files (a stale WAL would
        otherwise be replayed into the fresh database)."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for suffix in ("", "-wal", "-shm"):
            source = self.path.with_name(self.path.name + suffix)
            try:
                source.rename(source.with_name(f"{source.name}.corrupt-{stamp}"))
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("could not move %s aside: %s", source, exc)

    @property
    def available(self) -> bool:
        return self._db is not None

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def lookup(self, model: str, dimension: int, texts: Sequence[str]) -> dict[int, np.ndarray]:
        """Cached vectors of `texts` as {position in texts: float32 vector}.

        A row of another dimension, of the wrong length or with non-finite values is skipped,
        so the caller embeds that text again (and `store` then replaces the row).
        """
        positions: dict[bytes, list[int]] = {}
        for position, text in enumerate(texts):
            positions.setdefault(text_key(text), []).append(position)
        keys = list(positions)
        found: dict[int, np.ndarray] = {}
        with self._lock:
            if self._db is None:
                return found
            try:
                for first in range(0, len(keys), _CHUNK):
                    chunk = keys[first : first + _CHUNK]
                    rows = self._db.execute(
                        "SELECT text_sha256, dimension, vector FROM vectors WHERE model = ? "
                        f"AND text_sha256 IN ({','.join('?' * len(chunk))})",
                        [model, *chunk],
                    ).fetchall()
                    for key, stored_dimension, blob in rows:
                        vector = _decode(stored_dimension, blob, dimension)
                        if vector is not None:
                            for position in positions[bytes(key)]:
                                found[position] = vector
            except sqlite3.Error as exc:
                log.warning("embedding cache %s: lookup failed, embedding again: %s", self.path, exc)
        return found

    def store(self, model: str, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Remember vectors of `texts` (rows in the same order), all in one transaction."""
        if len(texts) != len(vectors):
            raise ValueError(f"{len(texts)} texts but {len(vectors)} vectors")
        rows = [
            (model, text_key(text), int(vector.shape[0]), vector.astype(_VECTOR_DTYPE).tobytes())
            for text, vector in zip(texts, vectors)
            if np.isfinite(vector).all()
        ]
        with self._lock:
            if self._db is None or not rows:
                return
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    # REPLACE, not IGNORE: a row skipped by `lookup` as unusable gets mended.
                    self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?)", rows)
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                crash_test_point("embedding_cache.commit.before")
                self._db.execute("COMMIT")
                crash_test_point("embedding_cache.commit.after")
            except sqlite3.Error as exc:
                log.warning("embedding cache %s: could not store %d vectors: %s", self.path, len(rows), exc)


def _without_rowid(db: sqlite3.Connection) -> bool:
    """Whether the file holds schema 1's `vectors` table (WITHOUT ROWID)."""
    row = db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'vectors'").fetchone()
    return row is not None and "WITHOUT ROWID" in str(row[0]).upper()


def _decode(stored_dimension: object, blob: object, dimension: int) -> np.ndarray | None:
    """The row's vector, or None when it is not a finite vector of `dimension` floats."""
    if stored_dimension != dimension or not isinstance(blob, bytes):
        return None
    if len(blob) != dimension * _VECTOR_DTYPE.itemsize:
        return None
    vector = np.frombuffer(blob, dtype=_VECTOR_DTYPE).astype(np.float32)
    return vector if np.isfinite(vector).all() else None


class CachedEmbedder:
    """An `Embedder` that asks its inner model only for texts the cache does not hold.

    `hits` counts texts answered from the cache, `misses` texts sent to the inner model
    (each distinct text once per call); both are for logs and tests.
    """

    def __init__(self, inner: Embedder, cache: EmbeddingCache) -> None:
        self.inner = inner
        self.cache = cache
        self.name = inner.name
        self.dimension = inner.dimension
        self.hits = 0
        self.misses = 0

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        cached = self.cache.lookup(self.name, self.dimension, texts)
        for position, vector in cached.items():
            out[position] = vector
        missing: dict[str, list[int]] = {}
        for position, text in enumerate(texts):
            if position not in cached:
                missing.setdefault(text, []).append(position)
        if missing:
            fresh = np.asarray(self.inner.embed(list(missing)), dtype=np.float32)
            for row, positions in enumerate(missing.values()):
                out[positions] = fresh[row]
            self.cache.store(self.name, list(missing), fresh)
        self.hits += len(cached)
        self.misses += len(missing)
        log.debug("embedding cache: %d hits, %d embedded", len(cached), len(missing))
        return out
