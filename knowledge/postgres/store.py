"""The shared knowledge store: documents, passages and their vectors in PostgreSQL.

The same operations and answers as the embedded `SqliteStore`, so the core cannot tell them
apart; what differs is that several processes write and read it at once. A write is one
transaction (a document is whole or absent), and the knowledge's generation moves inside that
transaction (a trigger, migration 0004), so a reader never sees the new generation with the
old rows. Vectors are searched in place by pgvector (`index.pgvector_index`), so there is no
copy to keep in step: a document added by one process is found by the next question any other
process answers.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import numpy as np

from knowledge.crash_test_hook import crash_test_point
from knowledge.documents import DocumentInfo, Kind, Passage, StoredPassage
from knowledge.errors import StoreError
from knowledge.sql_bounds import sql_count
from knowledge.postgres.database import PostgresDatabase
from knowledge.postgres.lexical import lexical_input
from knowledge.postgres.times import utc_text
from knowledge.store import in_order_of
from knowledge.store_interface import NewDocument, WriteResult

if TYPE_CHECKING:
    import psycopg

DIMENSION = 384  # the vector(384) column of migration 0001 (all-MiniLM-L6-v2)

_INFO_COLUMNS = (
    "d.id, d.title, d.url, d.publisher, d.kind, d.published, d.language, d.added_by, d.added_at"
)
_PASSAGE_COUNT = "(SELECT count(*) FROM passages p WHERE p.document_id = d.id)"
# Byte order, as SQLite compares text: listings come out the same on both backends.
_LISTING_ORDER = 'd.published IS NULL, d.published COLLATE "C" DESC, d.title COLLATE "C"'


def _info(row: Sequence[Any], passage_count: int = 0) -> DocumentInfo:
    return DocumentInfo(
        id=row[0], title=row[1], url=row[2], publisher=row[3], kind=Kind(row[4]),
        published=row[5], language=row[6], added_by=row[7], added_at=utc_text(row[8]) or "",
        passage_count=passage_count,
    )


def _missing(document_id: str) -> StoreError:
    return StoreError(f"no document with id {document_id!r} (see 'crisisbot sources')")


class PostgresStore:
    """One PostgreSQL database shared by every process of a deployment."""

    def __init__(self, database: PostgresDatabase) -> None:
        self.database = database

    def close(self) -> None:
        """The database belongs to whoever opened it; nothing of the store's own to release."""

    # -- metadata -------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self.database.read(
            lambda db: db.execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()
        )
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.database.write(lambda db: db.execute(
            "INSERT INTO meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        ))

    def advance_meta(self, key: str, value: str) -> bool:
        """As `SqliteStore.advance_meta`: never moves a value back, whoever writes at once."""
        cursor = self.database.write(lambda db: db.execute(
            "INSERT INTO meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
            ' WHERE excluded.value COLLATE "C" > meta.value COLLATE "C"', (key, value),
        ))
        return cursor.rowcount > 0

    def generation(self) -> int:
        """Moved by every write to the knowledge, by any process (see the module's docstring)."""
        return int(self.get_meta("generation") or 0)

    @staticmethod
    def generation_in(db: psycopg.Connection) -> int:
        """The generation as seen by a transaction already open on `db`."""
        row = db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0]) if row else 0

    # -- writes ---------------------------------------------------------------------------

    def write_documents(self, items: Sequence[NewDocument], model: str) -> WriteResult:
        """Add documents in one transaction, as `SqliteStore.write_documents` does."""
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")

        def work(db: psycopg.Connection) -> WriteResult:
            result = WriteResult()
            self._check_model(db, model)
            for item in items:
                self._write_one(db, item, now, result)
            result.generation = self.generation_in(db)
            crash_test_point("pg.write.before_commit")
            return result

        return self.database.write(work)

    @staticmethod
    def _check_model(db: psycopg.Connection, model: str) -> None:
        row = db.execute("SELECT value FROM meta WHERE key = 'embedding_model' FOR UPDATE").fetchone()
        if row is None:
            db.execute("INSERT INTO meta VALUES ('embedding_model', %s)", (model,))
        elif row[0] != model:
            raise StoreError(
                f"the knowledge base was embedded with {row[0]!r}, not {model!r}: run 'crisisbot reindex'"
            )

    def _write_one(self, db: psycopg.Connection, item: NewDocument, now: str, result: WriteResult) -> None:
        doc = item.document
        if len(item.passages) != len(item.vectors):
            raise ValueError("one vector per passage is required")
        vectors = np.ascontiguousarray(item.vectors, dtype=np.float32)
        if len(vectors) and vectors.shape[1] != DIMENSION:
            raise StoreError(
                f"the PostgreSQL knowledge base holds {DIMENSION}-dimensional vectors "
                f"(all-MiniLM-L6-v2); this model gives {vectors.shape[1]}"
            )
        same_text = db.execute("SELECT id FROM documents WHERE sha256 = %s", (doc.sha256,)).fetchone()
        if same_text is not None:
            result.unchanged.append((doc.id, same_text[0]))
            return
        olds = db.execute(
            "SELECT id FROM documents WHERE id = %s OR (url IS NOT NULL AND url = %s)", (doc.id, doc.url)
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
            "INSERT INTO documents (id, title, url, publisher, kind, published, language, added_by,"
            " added_at, sha256, text) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (doc.id, doc.title, doc.url, doc.publisher, doc.kind.value, doc.published,
             doc.language, doc.added_by, doc.added_at or now, doc.sha256, doc.text),
        )
        if not item.passages:
            if not replaced_stored:
                result.added.append(doc.id)
            return
        ids = [int(r[0]) for r in db.execute(
            "SELECT nextval(pg_get_serial_sequence('passages', 'id')) FROM generate_series(1, %s)",
            (len(item.passages),),
        ).fetchall()]
        with db.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO passages (id, document_id, ordinal, start_offset, end_offset, text, embedding,"
                " lexical) VALUES (%s, %s, %s, %s, %s, %s, %s, lexical_vector(%s::text, %s::text))",
                [(passage_id, doc.id, p.ordinal, p.start, p.end, p.text, vector, *lexical_input(f"{doc.title} {p.text}"))
                 for passage_id, p, vector in zip(ids, item.passages, vectors)],
            )
        for passage_id, vector in zip(ids, vectors):
            result.new_vectors[passage_id] = vector
        if not replaced_stored:
            result.added.append(doc.id)

    @staticmethod
    def _delete(db: psycopg.Connection, document_id: str) -> list[int]:
        ids = [int(r[0]) for r in db.execute(
            "DELETE FROM passages WHERE document_id = %s RETURNING id", (document_id,)
        ).fetchall()]
        db.execute("DELETE FROM documents WHERE id = %s", (document_id,))
        return sorted(ids)

    def remove_document(self, document_id: str) -> WriteResult:
        def work(db: psycopg.Connection) -> WriteResult:
            if db.execute("SELECT 1 FROM documents WHERE id = %s FOR UPDATE", (document_id,)).fetchone() is None:
                raise _missing(document_id)
            result = WriteResult()
            result.removed_passage_ids = self._delete(db, document_id)
            result.replaced.append(document_id)
            result.generation = self.generation_in(db)
            return result

        return self.database.write(work)

    def set_kind(self, document_id: str, kind: Kind) -> WriteResult:
        """Change what sort of source a document is; passages and vectors stay as they are."""
        def work(db: psycopg.Connection) -> WriteResult:
            cursor = db.execute("UPDATE documents SET kind = %s WHERE id = %s", (kind.value, document_id))
            if cursor.rowcount == 0:
                raise _missing(document_id)
            return WriteResult(generation=self.generation_in(db))

        return self.database.write(work)

    def replace_embeddings(self, model: str, batches: Iterator[tuple[list[int], np.ndarray]]) -> int:
        """Swap every passage's vector for one from `model`, all in one transaction."""
        def work(db: psycopg.Connection) -> int:
            with db.cursor() as cursor:
                for ids, vectors in batches:
                    cursor.executemany(
                        "UPDATE passages SET embedding = %s WHERE id = %s",
                        [(np.asarray(v, dtype=np.float32), int(i)) for i, v in zip(ids, vectors)],
                    )
            db.execute(
                "INSERT INTO meta VALUES ('embedding_model', %s)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (model,)
            )
            return self.generation_in(db)

        return self.database.write(work)

    # -- reads ----------------------------------------------------------------------------

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        return self.database.read(lambda db: db.execute(sql, params).fetchall())

    def embedding_model(self) -> str | None:
        return self.get_meta("embedding_model")

    def known_hashes(self, hashes: Sequence[str]) -> dict[str, str]:
        rows = self._rows("SELECT sha256, id FROM documents WHERE sha256 = ANY(%s)", (list(hashes),))
        return {str(h): str(i) for h, i in rows}

    def document_count(self) -> int:
        return int(self._rows("SELECT count(*) FROM documents")[0][0])

    def passage_count(self) -> int:
        return int(self._rows("SELECT count(*) FROM passages")[0][0])

    def documents_added_by_week(self, since: str) -> dict[str, int]:
        """Documents added per ISO week (keyed by its Monday, UTC) from `since` on."""
        rows = self._rows(
            "SELECT to_char(date_trunc('week', added_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS week,"
            " count(*) FROM documents WHERE added_at >= %s::timestamptz GROUP BY week", (since,)
        )
        return {str(week): int(count) for week, count in rows}

    def passage_ids(self) -> np.ndarray:
        rows = self._rows("SELECT id FROM passages ORDER BY id")
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def passage_texts(self, ids: Sequence[int] | None = None) -> Iterator[tuple[int, str]]:
        if ids is None:
            rows = self._rows("SELECT id, text FROM passages ORDER BY id")
        else:
            rows = self._rows("SELECT id, text FROM passages WHERE id = ANY(%s)", ([int(i) for i in ids],))
        yield from ((int(r[0]), str(r[1])) for r in rows)

    def titled_passage_texts(self, after: int = 0, limit: int | None = None) -> list[tuple[int, str, str]]:
        rows = self._rows(
            "SELECT p.id, d.title, p.text FROM passages p JOIN documents d ON d.id = p.document_id"
            " WHERE p.id > %s ORDER BY p.id LIMIT %s", (after, limit)
        )
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    def vectors(self, ids: Sequence[int], dimension: int) -> np.ndarray:
        """Stored vectors of the given passages, in the order of `ids`; all must exist."""
        return in_order_of(ids, *self.existing_vectors(ids, dimension))

    def existing_vectors(self, ids: Sequence[int], dimension: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of those of the given passages that still exist."""
        rows = self._rows(
            "SELECT id, embedding FROM passages WHERE id = ANY(%s) ORDER BY id", ([int(i) for i in ids],)
        )
        found = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        out = np.empty((len(rows), dimension), dtype=np.float32)
        for row, (_, vector) in enumerate(rows):
            out[row] = vector.to_numpy()  # a pgvector.Vector
        return found, out

    def stored_passages(self, ids: Sequence[int]) -> dict[int, StoredPassage]:
        """Passages with their document's citation data, keyed by passage id."""
        rows = self._rows(
            f"SELECT p.id, p.document_id, p.ordinal, p.text, p.start_offset, p.end_offset, {_INFO_COLUMNS}"
            " FROM passages p JOIN documents d ON d.id = p.document_id WHERE p.id = ANY(%s)",
            ([int(i) for i in ids],),
        )
        return {
            int(r[0]): StoredPassage(Passage(int(r[0]), r[1], r[2], r[3], r[4], r[5]), _info(r[6:]))
            for r in rows
        }

    def passage_ids_where(
        self, since: str | None = None, until: str | None = None, added_since: str | None = None,
        added_before: str | None = None,
    ) -> list[int]:
        """As `SqliteStore.passage_ids_where`."""
        where, params = _page_filter(None, None, since, until)
        for bound, operator in ((added_since, ">="), (added_before, "<")):
            if bound:
                where += (" AND " if where else " WHERE ") + f"d.added_at {operator} %s::timestamptz"
                params.append(bound)
        rows = self._rows(
            f"SELECT p.id FROM passages p JOIN documents d ON d.id = p.document_id{where} ORDER BY p.id", params
        )
        return [int(r[0]) for r in rows]

    def documents(self) -> list[DocumentInfo]:
        """Every document, newest publication first, with its passage count."""
        rows = self._rows(f"SELECT {_INFO_COLUMNS}, {_PASSAGE_COUNT} FROM documents d ORDER BY {_LISTING_ORDER}")
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
        """As `SqliteStore.documents_page`: one page, and how many match in all."""
        where, params = _page_filter(publisher, kind, since, until)

        def work(db: psycopg.Connection) -> tuple[list[tuple[Any, ...]], int]:
            total_row = db.execute(f"SELECT count(*) FROM documents d{where}", params).fetchone()
            rows = db.execute(
                f"SELECT {_INFO_COLUMNS}, {_PASSAGE_COUNT} FROM documents d{where}"
                f" ORDER BY {_LISTING_ORDER}, d.id COLLATE \"C\" LIMIT %s OFFSET %s",
                [*params, sql_count(limit), sql_count(offset)],
            ).fetchall()
            return rows, int(total_row[0]) if total_row else 0

        rows, total = self.database.read(work)
        return [_info(r[:9], int(r[9])) for r in rows], total

    def document_info(self, document_id: str) -> DocumentInfo:
        rows = self._rows(f"SELECT {_INFO_COLUMNS}, {_PASSAGE_COUNT} FROM documents d WHERE d.id = %s",
                          (document_id,))
        if not rows:
            raise _missing(document_id)
        return _info(rows[0][:9], int(rows[0][9]))

    def first_passage_text(self, document_id: str) -> str:
        rows = self._rows(
            "SELECT text FROM passages WHERE document_id = %s ORDER BY ordinal LIMIT 1", (document_id,)
        )
        return "" if not rows else str(rows[0][0])

    def document_text(self, document_id: str) -> str:
        rows = self._rows("SELECT text FROM documents WHERE id = %s", (document_id,))
        if not rows:
            raise StoreError(f"no document with id {document_id!r}")
        return str(rows[0][0])


def _page_filter(
    publisher: str | None, kind: Kind | None, since: str | None, until: str | None
) -> tuple[str, list[object]]:
    """The WHERE clause of a listing, with the embedded store's meaning (see
    `SqliteStore.documents_page`): publisher matches part of the name ignoring case, dates are
    compared at the coarser of the two precisions, undated documents never match a date."""
    clauses: list[str] = []
    params: list[object] = []
    if publisher:
        escaped = publisher.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        clauses.append("d.publisher ILIKE %s")
        params.append(f"%{escaped}%")
    if kind is not None:
        clauses.append("d.kind = %s")
        params.append(kind.value)
    for value, operator in ((since, ">="), (until, "<=")):
        if value:
            clauses.append(
                "substr(d.published, 1, least(length(d.published), length(%s::text))) COLLATE \"C\""
                f" {operator} substr(%s::text, 1, least(length(d.published), length(%s::text))) COLLATE \"C\""
            )
            params.extend([value, value, value])
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params
