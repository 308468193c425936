"""The lexical half of hybrid search on PostgreSQL: full-text search over `passages.lexical`.

The embedded backend ranks with BM25 over an in-memory index it rebuilds when the knowledge
changes; here the `tsvector` column (title and text, read by `lexical_vector`: English stems
and stop words, split at punctuation as BM25's tokenizer splits; migrations 0001 and 0005;
Russian and Ukrainian stemmed by their own rules, 0007 and knowledge.postgres.lexical) is
kept by the database itself, so every process searches the current knowledge with no rebuild.

The lexical half is there for rare terms ("ATACMS", "Zaporizhzhia"), so a passage's score sums,
over the question's stems it holds, BM25's inverse document frequency of the stem times
`ts_rank` of the passage for that stem alone (normalisation 1: more occurrences count, less
and less, and long passages are damped by the log of their length). `ts_rank` of the whole
question has no notion of rarity and ranked worse than the dense half alone. Measured on
../shared/eval (nDCG@10, weight 0.3; README "PostgreSQL"): realtimeqa-dev 0.790 against 0.794
for BM25 and 0.791 dense only; cranfield 0.390 against 0.397 and 0.352. Each stem's passages
come from the GIN index, which also says how many passages hold it. Passages holding none of
the stems score 0; the fusion counts them in the mean and spread (`LexicalScores.total`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from index.interfaces import LexicalScores
from knowledge.postgres.lexical import lexical_input
from knowledge.postgres.store import PostgresStore

if TYPE_CHECKING:
    import psycopg

# Each of the question's distinct stems as a one-lexeme query (already a stem: not parsed
# again); `lexical_vector` leaves no quote or operator character in a lexeme.
_POSTINGS = (
    "SELECT t.term, array_agg(p.id), array_agg(ts_rank(p.lexical, quote_literal(t.term)::tsquery, 1))"
    " FROM unnest(tsvector_to_array(lexical_vector(%(q)s, %(language)s))) AS t(term)"
    " JOIN passages p ON p.lexical @@ quote_literal(t.term)::tsquery GROUP BY t.term"
)


def idf(passages: int, holding: int) -> float:
    """BM25's (Lucene's) inverse document frequency: always positive, high for rare terms."""
    return math.log(1 + (passages - holding + 0.5) / (holding + 0.5))


class PostgresLexicalIndex:
    """Rare-term scores of a question against every passage, from the database's GIN index."""

    def __init__(self, store: PostgresStore) -> None:
        self.store = store
        self._counted: tuple[int, int] = (-1, 0)  # (generation, passages): count(*) scans the table

    def _passages(self, db: psycopg.Connection) -> int:
        """How many passages there are, counted again only when the knowledge has changed."""
        generation = self.store.generation_in(db)
        if self._counted[0] != generation:
            row = db.execute("SELECT count(*) FROM passages").fetchone()
            self._counted = (generation, int(row[0]) if row else 0)
        return self._counted[1]

    def wait_for_build(self, timeout: float | None = None) -> bool:
        """Nothing is built in the background: the database keeps the tsvector column."""
        return True

    def scores(self, question: str) -> LexicalScores:
        def work(db: psycopg.Connection) -> tuple[list[tuple[str, list[int], list[float]]], int]:
            return db.execute(_POSTINGS, {"q": body, "language": language}).fetchall(), self._passages(db)

        body, language = lexical_input(question)  # stemmed as the passages were (migration 0007)

        postings, total = self.store.database.read(work)
        summed: dict[int, float] = {}
        weights: dict[str, float] = {}
        for term, ids, ranks in postings:
            weight = weights[term] = idf(total, len(ids))
            for passage_id, rank in zip(ids, ranks):
                summed[passage_id] = summed.get(passage_id, 0.0) + weight * rank
        ids_array = np.fromiter(sorted(summed), dtype=np.int64, count=len(summed))
        scores = np.fromiter((summed[int(i)] for i in ids_array), dtype=np.float32, count=len(ids_array))
        return LexicalScores(ids_array, scores, total, weights)
