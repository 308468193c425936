"""The embedded knowledge store: documents, passages and their vectors in one SQLite file.

Vectors live beside their passages so that a document is written in one transaction, whole or
not at all, and the FAISS index (a derived, faster copy) can always be rebuilt from here
without running the model again.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from knowledge.crash_test_hook import crash_test_point
from knowledge.documents import DocumentInfo, Kind, Passage, StoredPassage
from knowledge.errors import StoreError
from knowledge.multilingual_store import TABLE_SCHEMA, MultilingualVectorTable
from knowledge.sql_bounds import sql_count
from knowledge.store_interface import NewDocument, WriteResult

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    url TEXT,
    publisher TEXT,
    kind TEXT NOT NULL,
    published TEXT,
    language TEXT NOT NULL,
    added_by TEXT NOT NULL,
    added_at TEXT NOT NULL,
    sha256 TEXT NOT NULL UNIQUE,
    text TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS documents_url ON documents(url) WHERE url IS NOT NULL;
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    text TEXT NOT NULL,
    embedding BLOB NOT NULL,
    UNIQUE (document_id, ordinal)
);
CREATE INDEX IF NOT EXISTS passages_document ON passages(document_id);
""" + TABLE_SCHEMA

_INFO_COLUMNS = (
    "d.id, d.title, d.url, d.publisher, d.kind, d.published, d.language, d.added_by, d.added_at"
)


def in_order_of(ids: Sequence[int], found: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """The rows of `vectors` (of passages `found`) in the order of `ids`; all must be found."""
    if len(found) != len(ids):
        missing = sorted(set(int(i) for i in ids) - set(found.tolist()))[:5]
        raise StoreError(f"no passages with ids {missing}")
    order = {int(i): row for row, i in enumerate(found)}
    return vectors[[order[int(i)] for i in ids]]


def _info(row: sqlite3.Row | tuple, passage_count: int = 0) -> DocumentInfo:
    return DocumentInfo(
        id=row[0], title=row[1], url=row[2], publisher=row[3], kind=Kind(row[4]),
        published=row[5], language=row[6], added_by=row[7], added_at=row[8],
        passage_count=passage_count,
    )


class SqliteStore(MultilingualVectorTable):
    """One SQLite database in WAL mode; safe to share between threads of one process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA synchronous=FULL")  # a reported write survives a power cut
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: not a usable knowledge database ({exc})") from None
        version = self.get_meta("schema_version")
        if version is None:
            self.set_meta("schema_version", str(SCHEMA_VERSION))
        elif int(version) > SCHEMA_VERSION:
            raise StoreError(f"{path}: made by a newer crisisbot (schema {version})")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            crash_test_point("store.commit.before")
            self._db.execute("COMMIT")
            crash_test_point("store.commit.after")

    # -- metadata -------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def advance_meta(self, key: str, value: str) -> bool:
        """Set `key` to `value` unless the stored value sorts after it, in one statement, so
        two processes advancing the same key can never move it back. Values must sort as they
        should advance (ISO 8601 times in UTC do). True if the value was written."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
                " WHERE excluded.value > meta.value", (key, value)
            )
        return cursor.rowcount > 0

    def generation(self) -> int:
        """A counter bumped by every write, so readers can tell cheaply that they are stale."""
        return int(self.get_meta("generation") or 0)

    @staticmethod
    def _bump(db: sqlite3.Connection) -> int:
        row = db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        generation = int(row[0]) + 1 if row else 1
        db.execute("INSERT OR REPLACE INTO meta VALUES ('generation', ?)", (str(generation),))
        return generation

    # -- writes ---------------------------------------------------------------------------

    def write_documents(self, items: Sequence[NewDocument], model: str) -> WriteResult:
        """Add documents in one transaction: each is skipped, added, or replaces its old version.

        A document whose text is already stored is skipped; one that shares an id or a URL with
        a stored document replaces it, passages and vectors included.
        """
        result = WriteResult()
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self._transaction() as db:
            self._check_model(db, model)
            for item in items:
                self._write_one(db, item, now, result)
            result.generation = self._bump(db)
            self._multilingual_write(db, result)
        return result

    @staticmethod
    def _check_model(db: sqlite3.Connection, model: str) -> None:
        row = db.execute("SELECT value FROM meta WHERE key = 'embedding_model'").fetchone()
        if row is None:
            db.execute("INSERT INTO meta VALUES ('embedding_model', ?)", (model,))
        elif row[0] != model:
            raise StoreError(
                f"the knowledge base was embedded with {row[0]!r}, not {model!r}: run 'crisisbot reindex'"
            )

    def _write_one(
        self, db: sqlite3.Connection, item: NewDocument, now: str, result: WriteResult
    ) -> None:
        doc = item.document
        if len(item.passages) != len(item.vectors):
            raise ValueError("one vector per passage is required")
        same_text = db.execute("SELECT id FROM documents WHERE sha256 = ?", (doc.sha256,)).fetchone()
        if same_text is not None:
            result.unchanged.append((doc.id, same_text[0]))
            return
        olds = db.execute(
            "SELECT id FROM documents WHERE id = ? OR (url IS NOT NULL AND url = ?)", (doc.id, doc.url)
        ).fetchall()
        replaced_stored = False
        for (old_id,) in olds:
            result.forget_passages(self._delete(db, old_id))
            if old_id in result.added:  # written earlier in this same batch
                result.added.remove(old_id)
            else:
                result.replaced.append(old_id)
                replaced_stored = True
        db.execute(
            "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (doc.id, doc.title, doc.url, doc.publisher, doc.kind.value, doc.published,
             doc.language, doc.added_by, doc.added_at or now, doc.sha256, doc.text),
        )
        vectors = np.ascontiguousarray(item.vectors, dtype=np.float32)
        second = item.multilingual_vectors
        if second is not None and len(second) != len(vectors):
            raise ValueError("one multilingual vector per passage is required")
        for row, (passage, vector) in enumerate(zip(item.passages, vectors)):
            cursor = db.execute(
                'INSERT INTO passages (document_id, ordinal, start, "end", text, embedding)'
                " VALUES (?, ?, ?, ?, ?, ?)",
                (doc.id, passage.ordinal, passage.start, passage.end, passage.text, vector.tobytes()),
            )
            passage_id = int(cursor.lastrowid or 0)
            result.new_vectors[passage_id] = vector
            if second is not None:
                self._insert_multilingual(db, item.multilingual_model, passage_id, second[row])
                result.new_multilingual_vectors[passage_id] = second[row]
        if not replaced_stored:
            result.added.append(doc.id)

    @staticmethod
    def _delete(db: sqlite3.Connection, document_id: str) -> list[int]:
        ids = [r[0] for r in db.execute("SELECT id FROM passages WHERE document_id = ?", (document_id,))]
        db.execute("DELETE FROM passages WHERE document_id = ?", (document_id,))
        db.execute("DELETE FROM documents WHERE id = ?", (document_id,))
        return ids

    def remove_document(self, document_id: str) -> WriteResult:
        result = WriteResult()
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM documents WHERE id = ?", (document_id,)).fetchone() is None:
                raise StoreError(f"no document with id {document_id!r} (see 'crisisbot sources')")
            result.removed_passage_ids = self._delete(db, document_id)
            result.replaced.append(document_id)
            result.generation = self._bump(db)
            self._multilingual_write(db, result)
        return result

    def set_kind(self, document_id: str, kind: Kind) -> WriteResult:
        """Change what sort of source a document is; passages and vectors stay as they are.

        The generation moves like any other write, so readers in other processes notice.
        """
        result = WriteResult()
        with self._transaction() as db:
            cursor = db.execute("UPDATE documents SET kind = ? WHERE id = ?", (kind.value, document_id))
            if cursor.rowcount == 0:
                raise StoreError(f"no document with id {document_id!r} (see 'crisisbot sources')")
            result.generation = self._bump(db)
            self._multilingual_write(db, result)
        return result

    def replace_embeddings(self, model: str, batches: Iterator[tuple[list[int], np.ndarray]]) -> int:
        """Swap every passage's vector for one from `model`, all in one transaction."""
        with self._transaction() as db:
            for ids, vectors in batches:
                db.executemany(
                    "UPDATE passages SET embedding = ? WHERE id = ?",
                    [(v.astype(np.float32).tobytes(), i) for i, v in zip(ids, vectors)],
                )
            db.execute("INSERT OR REPLACE INTO meta VALUES ('embedding_model', ?)", (model,))
            return self._bump(db)

    # -- reads ----------------------------------------------------------------------------

    def embedding_model(self) -> str | None:
        return self.get_meta("embedding_model")

    def known_hashes(self, hashes: Sequence[str]) -> dict[str, str]:
        """Which of these content hashes are stored already, and under which document id."""
        with self._lock:
            rows = self._select_in("SELECT sha256, id FROM documents WHERE sha256 IN ({})", hashes)
        return {str(h): str(i) for h, i in rows}

    def document_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM documents").fetchone()[0])

    def passage_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM passages").fetchone()[0])

    def documents_added_by_week(self, since: str) -> dict[str, int]:
        """Documents added per ISO week (keyed by its Monday, UTC) from `since` (YYYY-MM-DD) on.

        Counts the documents still stored: a removed one no longer counts in its week.
        """
        with self._lock:
            rows = self._db.execute(
                "SELECT date(added_at, 'weekday 0', '-6 days') AS week, COUNT(*) FROM documents"
                " WHERE added_at >= ? GROUP BY week", (since,)
            ).fetchall()
        return {str(week): int(count) for week, count in rows}

    def passage_ids(self) -> np.ndarray:
        """Every passage id, ascending. Read without ORDER BY, so SQLite scans the small
        document_id index instead of the table, whose rows carry the vectors (0.4 s instead of
        1.3-2.9 s at a million passages), and sorted here."""
        with self._lock:
            rows = self._db.execute("SELECT id FROM passages").fetchall()
        return np.sort(np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)))

    def passage_texts(self, ids: Sequence[int] | None = None) -> Iterator[tuple[int, str]]:
        """(id, text) of the given passages, or of all of them in id order."""
        with self._lock:
            if ids is None:
                rows = self._db.execute("SELECT id, text FROM passages ORDER BY id").fetchall()
            else:
                rows = self._select_in("SELECT id, text FROM passages WHERE id IN ({})", [int(i) for i in ids])
        yield from ((int(r[0]), str(r[1])) for r in rows)

    def titled_passage_texts(self, after: int = 0, limit: int | None = None) -> list[tuple[int, str, str]]:
        """(id, document title, passage text) of the passages with ids above `after` in id
        order, at most `limit` of them, for the lexical index: a title often names what the
        passage is about without repeating it. Reading a large store in pages keeps only one
        page of texts in memory and lets writers in between."""
        with self._lock:
            rows = self._db.execute(
                "SELECT p.id, d.title, p.text FROM passages p JOIN documents d"
                " ON d.id = p.document_id WHERE p.id > ? ORDER BY p.id LIMIT ?",
                (after, -1 if limit is None else limit),
            ).fetchall()
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    def vectors(self, ids: Sequence[int], dimension: int) -> np.ndarray:
        """Stored vectors of the given passages, in the order of `ids`; all must exist."""
        return in_order_of(ids, *self.existing_vectors(ids, dimension))

    def existing_vectors(self, ids: Sequence[int], dimension: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of those of the given passages that still exist: another process may
        have removed some since their ids were read."""
        with self._lock:
            rows = self._select_in(
                "SELECT id, embedding FROM passages WHERE id IN ({})", [int(i) for i in ids]
            )
        found = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        out = np.empty((len(rows), dimension), dtype=np.float32)
        for row, (_, blob) in enumerate(rows):
            out[row] = np.frombuffer(blob, dtype=np.float32)
        return found, out

    def _select_in(self, sql: str, keys: Sequence[int] | Sequence[str]) -> list[tuple]:
        rows: list[tuple] = []
        for first in range(0, len(keys), 500):
            chunk = list(keys[first : first + 500])
            rows.extend(self._db.execute(sql.format(",".join("?" * len(chunk))), chunk).fetchall())
        return rows

    def stored_passages(self, ids: Sequence[int]) -> dict[int, StoredPassage]:
        """Passages with their document's citation data, keyed by passage id."""
        with self._lock:
            rows = self._select_in(
                f'SELECT p.id, p.document_id, p.ordinal, p.text, p.start, p."end", {_INFO_COLUMNS}'
                " FROM passages p JOIN documents d ON d.id = p.document_id WHERE p.id IN ({})",
                [int(i) for i in ids],
            )
        return {
            int(r[0]): StoredPassage(Passage(int(r[0]), r[1], r[2], r[3], r[4], r[5]), _info(r[6:]))
            for r in rows
        }

    def passage_ids_where(
        self, since: str | None = None, until: str | None = None, added_since: str | None = None,
        added_before: str | None = None,
    ) -> list[int]:
        """Ids of the passages of documents published within `since`..`until` (compared as
        `documents_page` compares them; undated documents never match a date) and added in
        [`added_since`, `added_before`) (ISO 8601 UTC times), in id order."""
        where, params = self._page_filter(None, None, since, until)
        for bound, operator in ((added_since, ">="), (added_before, "<")):
            if bound:
                where += (" AND " if where else " WHERE ") + f"d.added_at {operator} ?"
                params.append(bound)
        with self._lock:
            rows = self._db.execute(
                f"SELECT p.id FROM passages p JOIN documents d ON d.id = p.document_id{where} ORDER BY p.id",
                params,
            ).fetchall()
        return [int(r[0]) for r in rows]

    def documents(self) -> list[DocumentInfo]:
        """Every document, newest publication first, with its passage count."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_INFO_COLUMNS}, COUNT(p.id) FROM documents d"
                " LEFT JOIN passages p ON p.document_id = d.id GROUP BY d.id"
                " ORDER BY d.published IS NULL, d.published DESC, d.title"
            ).fetchall()
        return [_info(r[:9], int(r[9])) for r in rows]

    def documents_page(
        self,
        offset: int,
        limit: int,
        publisher: str | None = None,
        kind: Kind | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> tuple[list[DocumentInfo], int]:
        """One page of documents in the order of `documents()`, and how many match in all.

        `publisher` matches part of the name, ignoring case. `since` and `until` are
        (possibly partial) dates, compared at the coarser of the two precisions: a document
        dated only "2024-11" is within `since="2024-11-15"`. Undated documents never match a
        date filter.
        """
        where, params = self._page_filter(publisher, kind, since, until)
        with self._lock:
            total = int(self._db.execute(f"SELECT COUNT(*) FROM documents d{where}", params).fetchone()[0])
            rows = self._db.execute(
                f"SELECT {_INFO_COLUMNS}, (SELECT COUNT(*) FROM passages p WHERE p.document_id = d.id)"
                f" FROM documents d{where}"
                " ORDER BY d.published IS NULL, d.published DESC, d.title, d.id LIMIT ? OFFSET ?",
                [*params, sql_count(limit), sql_count(offset)],
            ).fetchall()
        return [_info(r[:9], int(r[9])) for r in rows], total

    @staticmethod
    def _page_filter(
        publisher: str | None, kind: Kind | None, since: str | None, until: str | None
    ) -> tuple[str, list[object]]:
        clauses: list[str] = []
        params: list[object] = []
        if publisher:
            escaped = publisher.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            clauses.append("d.publisher LIKE ? ESCAPE '\\'")
            params.append(f"%{escaped}%")
        if kind is not None:
            clauses.append("d.kind = ?")
            params.append(kind.value)
        for value, operator in ((since, ">="), (until, "<=")):
            if value:
                clauses.append(
                    "substr(d.published, 1, min(length(d.published), length(?)))"
                    f" {operator} substr(?, 1, min(length(d.published), length(?)))"
                )
                params.extend([value, value, value])
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    def document_info(self, document_id: str) -> DocumentInfo:
        """One document's citation data with its passage count."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_INFO_COLUMNS}, (SELECT COUNT(*) FROM passages p WHERE p.document_id = d.id)"
                " FROM documents d WHERE d.id = ?",
                (document_id,),
            ).fetchone()
        if row is None:
            raise StoreError(f"no document with id {document_id!r} (see 'crisisbot sources')")
        return _info(row[:9], int(row[9]))

    def first_passage_text(self, document_id: str) -> str:
        """The opening passage of a document ("" if it has none), for a preview."""
        with self._lock:
            row = self._db.execute(
                "SELECT text FROM passages WHERE document_id = ? ORDER BY ordinal LIMIT 1", (document_id,)
            ).fetchone()
        return "" if row is None else str(row[0])

    def document_text(self, document_id: str) -> str:
        with self._lock:
            row = self._db.execute("SELECT text FROM documents WHERE id = ?", (document_id,)).fetchone()
        if row is None:
            raise StoreError(f"no document with id {document_id!r}")
        return str(row[0])
