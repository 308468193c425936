"""What the core needs of a vector index and of a lexical index, whichever backend serves them.

Embedded: `SearchIndex` (a FAISS file mended against the store) and `LexicalIndex` (BM25 in
memory). Shared: `PgVectorIndex` (pgvector HNSW) and `PostgresLexicalIndex` (tsvector).
The values they return live here too, so that the interface imports no backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from knowledge.store_interface import WriteResult

_TOP_STRIDE = 32  # LexicalScores.top bounds the best scores by a sample of every 32nd


@dataclass(frozen=True)
class RepairReport:
    """What opening the index had to do; all zero/False when file and store agreed."""

    rebuilt: bool = False
    reason: str = ""
    removed: int = 0
    added: int = 0

    @property
    def changed(self) -> bool:
        return self.rebuilt or self.removed > 0 or self.added > 0


@dataclass(frozen=True)
class LexicalScores:
    """Lexical scores of one question (`ids[i]` scores `scores[i]`, ids ascending).

    `ids` may list only the passages that match (PostgreSQL's text search); the other passages
    of the `total` score 0, and the mean and spread that fusion needs count them too.

    `idf` gives BM25's inverse document frequency of each of the question's stems that some
    passage holds: the relevance gate weighs the question's terms a passage contains by their
    rarity, with the knowledge base's own document frequencies, whichever backend counted them.
    """

    ids: np.ndarray
    scores: np.ndarray
    total: int | None = None  # passages in the knowledge base; None: `ids` lists them all
    idf: Mapping[str, float] = field(default_factory=dict)  # question stem -> BM25 idf

    @property
    def passages(self) -> int:
        return len(self.ids) if self.total is None else max(self.total, len(self.ids))

    def mean_and_spread(self) -> tuple[float, float]:
        """Mean and standard deviation over every passage (1.0 for a spread of 0)."""
        n = self.passages
        if n == 0:
            return 0.0, 1.0
        scores = self.scores  # summed in float64 without a float64 copy (4x faster at 1M)
        mean = float(scores.sum(dtype=np.float64)) / n
        squares = float(np.einsum("i,i->", scores, scores, dtype=np.float64))
        variance = max(squares / n - mean * mean, 0.0)
        return mean, (float(np.sqrt(variance)) or 1.0)

    def top(self, n: int) -> np.ndarray:
        """Ids of the `n` best-scoring passages that match at least one term."""
        if len(self.ids) == 0 or n <= 0:
            return np.empty(0, dtype=np.int64)
        n = min(n, len(self.ids))
        scores = self.scores
        within = self._at_least_the_best(n)
        if within is not None:
            best = within[np.argpartition(-scores[within], n - 1)[:n]]
        else:
            best = np.argpartition(-scores, n - 1)[:n]
        best = best[scores[best] > 0]
        return self.ids[best[np.argsort(-scores[best], kind="stable")]]

    def _at_least_the_best(self, n: int) -> np.ndarray | None:
        """Positions of a few times `n` scores that surely include the best `n`, or None when
        there are too few scores for that to pay. The `n`-th best of every 32nd score is a
        bound: at least `n` scores reach it, so the best `n` all do. Selecting among those is
        cheaper than partitioning a million scores (0.6 ms against 2.5 ms)."""
        scores = self.scores
        if len(scores) < _TOP_STRIDE * 4 * n:
            return None
        sample = scores[::_TOP_STRIDE]
        bound = np.partition(sample, len(sample) - n)[len(sample) - n]
        return np.flatnonzero(scores >= bound) if bound > 0 else None


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
