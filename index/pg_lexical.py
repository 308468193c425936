"""The lexical half of hybrid search on PostgreSQL: full-text search over `passages.lexical`.

The embedded backend ranks with BM25 over an in-memory index it rebuilds when the knowledge
changes; here the `tsvector` column (the document's title and the passage's text, English
stemming and stop words, migration 0001) is kept by the database itself, so every process
searches the current knowledge with no rebuild. Like BM25, a passage matches when it holds ANY
of the question's terms (plainto_tsquery would demand all of them), and is ranked by
`ts_rank` normalised by document length (`1`: divided by 1 + log of its length), the nearest
built-in relative of BM25's length normalisation. Non-matching passages score 0; the fusion
counts them in the mean and spread (`LexicalScores.total`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from index.lexical import LexicalScores
from knowledge.postgres.store import PostgresStore

if TYPE_CHECKING:
    import psycopg

# plainto_tsquery stems and drops stop words, joining the terms with '&'; '|' makes it "any".
_ANY_TERM = "replace(plainto_tsquery('english', %(q)s)::text, ' & ', ' | ')::tsquery"
_MATCHES = (
    f"SELECT p.id, ts_rank(p.lexical, q.terms, 1) FROM passages p, (SELECT {_ANY_TERM} AS terms) q"
    " WHERE p.lexical @@ q.terms ORDER BY p.id"
)


class PostgresLexicalIndex:
    """Full-text scores of a question against every passage, computed by the database."""

    def __init__(self, store: PostgresStore) -> None:
        self.store = store

    def scores(self, question: str) -> LexicalScores:
        def work(db: psycopg.Connection) -> tuple[list[tuple[int, float]], int]:
            total_row = db.execute("SELECT count(*) FROM passages").fetchone()
            rows = db.execute(_MATCHES, {"q": question}).fetchall()
            return rows, int(total_row[0]) if total_row else 0

        rows, total = self.store.database.read(work)
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        scores = np.fromiter((r[1] for r in rows), dtype=np.float32, count=len(rows))
        return LexicalScores(ids, scores, total)
