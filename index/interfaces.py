"""What the core needs of a vector index and of a lexical index, whichever backend serves them.

Embedded: `SearchIndex` (a FAISS file mended against the store) and `LexicalIndex` (BM25 in
memory). Shared: `PgVectorIndex` (pgvector HNSW) and `PostgresLexicalIndex` (tsvector).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

import numpy as np

from index.lexical import LexicalScores
from index.search_index import RepairReport
from knowledge.store import WriteResult


class VectorIndex(Protocol):
    model: str
    dimension: int

    def open(self) -> RepairReport: ...
    def refresh_if_stale(self) -> RepairReport: ...
    def apply(self, result: WriteResult, save: bool = True) -> None: ...
    def writing(self) -> AbstractContextManager[None]: ...
    def save(self) -> None: ...
    def rebuild(self) -> RepairReport: ...
    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]: ...
    def search_many(self, vectors: np.ndarray, k: int) -> list[list[tuple[int, float]]]: ...


class TextIndex(Protocol):
    def scores(self, question: str) -> LexicalScores: ...
    def wait_for_build(self, timeout: float | None = None) -> bool: ...
