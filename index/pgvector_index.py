"""Vector search in PostgreSQL with pgvector: the shared backend's counterpart of `SearchIndex`.

The vectors are the store's own column, searched through its HNSW index (cosine), so unlike the
FAISS file there is no copy that could fall behind the store: nothing to mend at start, nothing
to apply after a write, and a passage another process added is found by the next search.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING

import numpy as np

from index.interfaces import RepairReport
from knowledge.errors import StoreError
from knowledge.postgres.store import PostgresStore
from knowledge.store_interface import WriteResult

if TYPE_CHECKING:
    import psycopg

EF_SEARCH = 100
MAX_EF_SEARCH = 1000  # pgvector's limit
"""HNSW candidates kept per search. pgvector returns at most this many rows, so it is never
below the `k` asked for; 100 measured recall@10 0.971 at 100,000 vectors (README)."""

_NEAREST = (
    "SELECT id, 1 - (embedding <=> %(v)s) FROM passages ORDER BY embedding <=> %(v)s LIMIT %(k)s"
)


class PgVectorIndex:
    """Cosine search over the passages' `embedding` column."""

    def __init__(self, store: PostgresStore, model: str, dimension: int, ef_search: int = EF_SEARCH) -> None:
        self.store = store
        self.model = model
        self.dimension = dimension
        self.ef_search = ef_search
        self._checked = False

    def open(self) -> RepairReport:
        """Refuse vectors of another model, which would be searched but answer nonsense."""
        stored = self.store.embedding_model()
        if stored is not None and stored != self.model:
            raise StoreError(
                f"the knowledge base was embedded with {stored!r} but the model is now "
                f"{self.model!r}: run 'crisisbot reindex'"
            )
        self._checked = True
        return RepairReport()

    def refresh_if_stale(self) -> RepairReport:
        return RepairReport() if self._checked else self.open()

    def apply(self, result: WriteResult, save: bool = True) -> None:
        """The store's transaction already updated the HNSW index."""

    def writing(self) -> AbstractContextManager[None]:
        """Nothing to hold: the write and the HNSW index change in one transaction."""
        return nullcontext()

    def save(self) -> None:
        """PostgreSQL keeps the index durable itself."""

    def rebuild(self) -> RepairReport:
        """After a reindex the HNSW index already holds the new vectors (updated row by row)."""
        self._checked = False
        return self.open()

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        return self.search_many(vector.reshape(1, -1), k)[0]

    def search_many(self, vectors: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        """The best `k` (passage id, cosine) pairs for each row, in one transaction."""
        queries = np.ascontiguousarray(vectors, dtype=np.float32)
        if k <= 0:
            return [[] for _ in range(len(queries))]

        def work(db: psycopg.Connection) -> list[list[tuple[int, float]]]:
            db.execute("SELECT set_config('hnsw.ef_search', %s, true)", (str(min(MAX_EF_SEARCH, max(k, self.ef_search))),))
            return [
                [(int(i), float(s)) for i, s in db.execute(_NEAREST, {"v": query, "k": k}).fetchall()]
                for query in queries
            ]

        return self.store.database.read(work)
