"""Copy an embedded knowledge base (its `knowledge.sqlite3`) into PostgreSQL, vectors included.

Moving to the shared backend must not cost a re-embedding of every passage (an hour for a big
knowledge base on a small server), nor lose what the community built around it: votes, the
audit log, feed subscriptions and the salt that keeps voters anonymous. So every row is copied
as it is, passage ids and vectors included, in ONE transaction: the target ends up with the whole
knowledge base or, on any error, exactly as it was. The source is opened read-only.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from knowledge.crash_test_hook import crash_test_point
from knowledge.errors import StoreError
from knowledge.postgres.lexical import restem_cyrillic
from knowledge.postgres.migrations import migrate
from knowledge.postgres.store import DIMENSION

if TYPE_CHECKING:
    import psycopg

Progress = Callable[[int, int], None]

# (table, columns) copied as they are, in an order that satisfies the foreign keys; the
# activity tables exist in a data folder only once something was asked, voted or changed.
_ACTIVITY: list[tuple[str, tuple[str, ...]]] = [
    ("feedback_meta", ("key", "value")),
    ("asked", ("id", "asked_at", "platform", "user_hash", "question", "found", "document_ids", "passage_ids",
               "best_score")),
    ("votes", ("answer_id", "user_hash", "value", "voted_at")),
    ("audit", ("id", "at", "platform", "user_id", "user_name", "action", "target", "result")),
    ("feeds", ("url", "title", "added_by", "added_at", "last_polled_at", "last_error")),
    ("feed_entries", ("feed_url", "entry_url", "seen_at")),
    # Entries that keep failing, with their back-off: without them every such entry is
    # fetched again at the first poll after the move (and a feed is again stuck on them).
    ("feed_entry_failures", ("feed_url", "entry_url", "failures", "last_error", "retry_at")),
]
_SERIALS = {"passages": "id", "asked": "id", "audit": "id"}


class CopyError(StoreError):
    """The embedded knowledge base cannot be copied as asked (not one, wrong model, target in use)."""


@dataclass
class CopyReport:
    """Rows copied per table, and the passages whose vectors were compared after the copy."""

    rows: dict[str, int] = field(default_factory=dict)
    checked_vectors: int = 0


def source_database(path: Path) -> Path:
    """`PATH` may be the data folder or its `knowledge.sqlite3`."""
    candidate = path / "knowledge.sqlite3" if path.is_dir() else path
    if not candidate.is_file():
        raise CopyError(f"{path}: no knowledge base here (expected a data folder or its knowledge.sqlite3)")
    return candidate


def copy_from_sqlite(source: Path, target: psycopg.Connection, progress: Progress | None = None) -> CopyReport:
    """Copy every row of the embedded knowledge base at `source` into the database of `target`.

    The target's schema is migrated first; it must hold no documents yet.

    Raises:
        CopyError: the source is not a crisisbot knowledge base, its vectors are not of the
            model the PostgreSQL schema is built for, or the target already has documents.
    """
    import psycopg

    path = source_database(source)
    try:
        sqlite = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise CopyError(f"{path}: cannot open: {exc}") from None
    try:
        _check_source(sqlite, path)
        migrate(target)
        report = CopyReport()
        try:
            with target.transaction():
                if target.execute("SELECT EXISTS (SELECT 1 FROM documents)").fetchone() != (True,):
                    _copy_knowledge(sqlite, target, report, progress)
                else:
                    raise CopyError("the PostgreSQL database already has documents: copy into an empty one")
                for table, columns in _ACTIVITY:
                    if _has_table(sqlite, table):
                        report.rows[table] = _copy_table(sqlite, target, table, columns)
                for table, column in _SERIALS.items():
                    target.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'),"
                        f" GREATEST((SELECT max({column}) FROM {table}), 1))"
                    )
                report.checked_vectors = _check_vectors(sqlite, target)
                crash_test_point("migrate.commit.before")
            crash_test_point("migrate.commit.after")
        except psycopg.Error as exc:
            raise CopyError(f"copy failed, nothing was written: {exc}") from exc
        return report
    finally:
        sqlite.close()


def _has_table(sqlite: sqlite3.Connection, name: str) -> bool:
    return sqlite.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


def _check_source(sqlite: sqlite3.Connection, path: Path) -> None:
    try:
        if not (_has_table(sqlite, "documents") and _has_table(sqlite, "passages") and _has_table(sqlite, "meta")):
            raise CopyError(f"{path}: not a crisisbot knowledge base (no documents, passages and meta tables)")
        row = sqlite.execute("SELECT length(embedding) FROM passages LIMIT 1").fetchone()
    except sqlite3.DatabaseError as exc:
        raise CopyError(f"{path}: not a readable SQLite database: {exc}") from None
    if row is not None and int(row[0]) != DIMENSION * 4:
        raise CopyError(
            f"{path}: its vectors have {int(row[0]) // 4} dimensions; the PostgreSQL schema holds {DIMENSION}"
            " (all-MiniLM-L6-v2)"
        )


def _copy_knowledge(sqlite: sqlite3.Connection, target: psycopg.Connection, report: CopyReport,
                    progress: Progress | None) -> None:
    for key, value in sqlite.execute("SELECT key, value FROM meta"):
        target.execute("INSERT INTO meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                       (key, value))
    columns = "id, title, url, publisher, kind, published, language, added_by, added_at, sha256, text"
    with target.cursor().copy(f"COPY documents ({columns}) FROM STDIN") as copy:
        count = 0
        for row in sqlite.execute(f"SELECT {columns} FROM documents ORDER BY id"):
            copy.write_row(row)
            count += 1
    report.rows["documents"] = count
    crash_test_point("migrate.documents_copied")
    total = int(sqlite.execute("SELECT count(*) FROM passages").fetchone()[0])
    target.execute(
        "CREATE TEMPORARY TABLE incoming_passages (id bigint, document_id text, ordinal integer,"
        " start_offset integer, end_offset integer, text text, embedding vector(384)) ON COMMIT DROP"
    )
    done = 0
    with target.cursor().copy(
        "COPY incoming_passages (id, document_id, ordinal, start_offset, end_offset, text, embedding) FROM STDIN"
    ) as copy:
        for row in _passages(sqlite):
            copy.write_row(row)
            done += 1
            if progress is not None and done % 1000 == 0:
                progress(done, total)
    # The lexical vector reads the title with the text, as the embedded BM25 index does
    # (`lexical_vector`, migration 0005); passages in Cyrillic are then stemmed by their language
    # (migration 0007: Ukrainian stems come from Python), in this same transaction.
    target.execute(
        "INSERT INTO passages (id, document_id, ordinal, start_offset, end_offset, text, embedding, lexical)"
        " SELECT p.id, p.document_id, p.ordinal, p.start_offset, p.end_offset, p.text, p.embedding,"
        " lexical_vector(d.title || ' ' || p.text)"
        " FROM incoming_passages p JOIN documents d ON d.id = p.document_id"
    )
    restem_cyrillic(target)
    if progress is not None:
        progress(total, total)
    report.rows["passages"] = total


def _passages(sqlite: sqlite3.Connection) -> Iterator[tuple[object, ...]]:
    rows = sqlite.execute('SELECT id, document_id, ordinal, start, "end", text, embedding FROM passages ORDER BY id')
    for passage_id, document_id, ordinal, start, end, text, blob in rows:
        vector = np.frombuffer(blob, dtype=np.float32)
        yield passage_id, document_id, ordinal, start, end, text, "[" + ",".join(repr(float(x)) for x in vector) + "]"


def _copy_table(sqlite: sqlite3.Connection, target: psycopg.Connection, table: str, columns: tuple[str, ...]) -> int:
    names = ", ".join(columns)
    count = 0
    with target.cursor().copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        for row in sqlite.execute(f"SELECT {names} FROM {table}"):
            values = list(row)
            if table == "asked":  # SQLite keeps booleans as 0/1 and lists as JSON text
                values[columns.index("found")] = bool(values[columns.index("found")])
                for name in ("document_ids", "passage_ids"):
                    values[columns.index(name)] = json.dumps(json.loads(values[columns.index(name)]))
            copy.write_row(values)
            count += 1
    return count


def _check_vectors(sqlite: sqlite3.Connection, target: psycopg.Connection, sample: int = 200) -> int:
    """Compare an even sample of copied vectors with the source's, to the float."""
    ids = [int(r[0]) for r in sqlite.execute("SELECT id FROM passages ORDER BY id")]
    if not ids:
        return 0
    chosen = sorted(set(ids[i] for i in np.linspace(0, len(ids) - 1, min(sample, len(ids))).astype(int)))
    source = {int(i): np.frombuffer(b, dtype=np.float32) for i, b in sqlite.execute(
        f"SELECT id, embedding FROM passages WHERE id IN ({','.join('?' * len(chosen))})", chosen)}
    copied = target.execute("SELECT id, embedding::text FROM passages WHERE id = ANY(%s)", (chosen,)).fetchall()
    if len(copied) != len(chosen):
        raise CopyError(f"{len(chosen) - len(copied)} sampled passages are missing after the copy")
    for passage_id, text in copied:
        vector = np.asarray(json.loads(text), dtype=np.float32)
        if not np.array_equal(vector, source[int(passage_id)]):
            raise CopyError(f"passage {passage_id}'s vector differs after the copy")
    return len(copied)
