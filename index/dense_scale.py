"""How unusual a passage's cosine is for a question, without scoring every passage.

Fusion adds z-scores, so each dense half needs the mean and spread of its cosines over the
whole knowledge base. For unit vectors they follow from the passages' mean vector m and
covariance C: the mean of q.p is q.m and its variance q'Cq. The MiniLM vectors and the
multilingual ones each get their own (`index.retriever`, `index.multilingual`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from knowledge.store_interface import VectorSource

STATS_SAMPLE = 20_000


@dataclass(frozen=True)
class DenseScale:
    """Mean vector and covariance of the stored vectors (a sample of at most 20,000)."""

    mean: np.ndarray
    covariance: np.ndarray

    @classmethod
    def measure(cls, source: VectorSource, generation: int, dimension: int) -> DenseScale:
        """Reading the sample takes about 0.5-1 s at 100,000 passages and 2-3 s at a million
        (most of it listing the ids), so the retriever recomputes it in the background once
        it is slow."""
        ids = source.passage_ids()
        if len(ids) > STATS_SAMPLE:
            ids = np.random.default_rng(generation).choice(ids, STATS_SAMPLE, replace=False)
        _, vectors = source.existing_vectors(ids.tolist(), dimension)
        vectors = vectors.astype(np.float64)
        if len(vectors) < 2:
            return cls(np.zeros(dimension), np.eye(dimension))
        return cls(vectors.mean(axis=0), np.cov(vectors, rowvar=False))

    def z(self, query: np.ndarray, cosines: np.ndarray) -> np.ndarray:
        q = query.astype(np.float64)
        spread = float(np.sqrt(max(float(q @ self.covariance @ q), 1e-12)))
        return (cosines - float(q @ self.mean)) / spread
