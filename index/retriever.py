"""A question becomes the passages that best match it: dense and lexical evidence, fused.

Dense retrieval (cosine of all-MiniLM-L6-v2 vectors) finds paraphrases; BM25 finds rare names
and exact terms. Each score is turned into a z-score over the whole knowledge base (how unusual
this passage's score is for this question) and the two are added, BM25 with weight 0.3: on the
dev sets this beats either half and reciprocal-rank fusion (README, "Evaluation"). The dense
z-score is exact without scoring every passage: the mean and variance of q.p over passages are
q.mean and q'Cq, from the passages' mean vector and covariance.

`ScoredPassage.score` stays the cosine, and `lexical_z` the BM25 half's z-score, with the IDF of
the question's stems (`term_idf`): the relevance gate reads them (bot.core.gate). The fused
`rank` only orders the passages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np

from index.background import Refresher
from index.embedder import Embedder
from index.interfaces import LexicalScores, TextIndex, VectorIndex
from index.recency import mentions_recency, recency_bonus
from knowledge.documents import StoredPassage
from knowledge.store_interface import KnowledgeStore

_STATS_SAMPLE = 20_000


@dataclass(frozen=True)
class ScoredPassage:
    """A retrieved passage: `score` is the cosine of passage and question, `rank` the fused
    score that ordered it (equal to `score` for dense-only retrieval). With the lexical half,
    `lexical_z` is the passage's BM25 z-score and `term_idf` the IDF of each of the question's
    stems that the knowledge base holds (one mapping shared by the hits of a search)."""

    stored: StoredPassage
    score: float
    rank: float | None = None
    lexical_z: float | None = None
    term_idf: Mapping[str, float] | None = None

    @property
    def rank_score(self) -> float:
        return self.score if self.rank is None else self.rank


@dataclass(frozen=True)
class RetrievalPolicy:
    """Defaults measured on ../shared/eval (README, "Evaluation"); 0 turns a part off."""

    lexical_weight: float = 0.3
    candidates: int = 100  # from each half, before fusion
    recency_weight: float = 1.0
    recency_days: float = 30.0


@dataclass(frozen=True)
class _DenseScale:
    """Mean vector and covariance of the stored passage vectors (a sample of at most 20,000)."""

    mean: np.ndarray
    covariance: np.ndarray

    @classmethod
    def measure(cls, store: KnowledgeStore, generation: int, dimension: int) -> _DenseScale:
        """Reading the sample takes about 0.5-1 s at 100,000 passages and 2-3 s at a million
        (most of it listing the ids), so the retriever recomputes it in the background once
        it is slow."""
        ids = store.passage_ids()
        if len(ids) > _STATS_SAMPLE:
            ids = np.random.default_rng(generation).choice(ids, _STATS_SAMPLE, replace=False)
        _, vectors = store.existing_vectors(ids.tolist(), dimension)
        vectors = vectors.astype(np.float64)
        if len(vectors) < 2:
            return cls(np.zeros(dimension), np.eye(dimension))
        return cls(vectors.mean(axis=0), np.cov(vectors, rowvar=False))

    def z(self, query: np.ndarray, cosines: np.ndarray) -> np.ndarray:
        q = query.astype(np.float64)
        spread = float(np.sqrt(max(float(q @ self.covariance @ q), 1e-12)))
        return (cosines - float(q @ self.mean)) / spread


class Retriever:
    """Hybrid retrieval over the store's passages."""

    def __init__(
        self,
        store: KnowledgeStore,
        index: VectorIndex,
        embedder: Embedder,
        lexical: TextIndex | None = None,
        policy: RetrievalPolicy = RetrievalPolicy(),
    ) -> None:
        self.store = store
        self.index = index
        self.embedder = embedder
        self.lexical = lexical
        self.policy = policy
        self._scale = Refresher(self._measure_scale, "vector statistics")

    def _measure_scale(self, generation: int) -> _DenseScale:
        return _DenseScale.measure(self.store, generation, self.index.dimension)

    def wait_for_builds(self, timeout: float | None = None) -> bool:
        """Wait for the background rebuilds (vector statistics, BM25) still running; True if
        none is. The owner calls it before closing the store they read."""
        done = self._scale.wait_for_build(timeout)
        return (self.lexical is None or self.lexical.wait_for_build(timeout)) and done

    def embed_query(self, text: str) -> np.ndarray:
        return self.embedder.embed([text])[0]

    def search(self, text: str, k: int, asked_at: date | None = None) -> list[ScoredPassage]:
        return self.search_vector(self.embed_query(text), k, text, asked_at)

    def search_vector(
        self, vector: np.ndarray, k: int, text: str = "", asked_at: date | None = None
    ) -> list[ScoredPassage]:
        """The best `k` passages for a question already embedded as `vector`. Without `text`
        only the dense half runs; `asked_at` (default today) anchors the recency preference."""
        policy = self.policy
        pool = max(k, policy.candidates)
        cosines = dict(self.index.search(vector, pool))
        lexical_part = bool(text) and self.lexical is not None and policy.lexical_weight > 0
        recency = bool(text) and policy.recency_weight > 0 and mentions_recency(text)
        if not lexical_part and not recency:
            return self._dense_only(cosines, k)
        fused = {i: 0.0 for i in cosines}
        lexical_z: dict[int, float] = {}
        term_idf: Mapping[str, float] | None = None
        if lexical_part:
            assert self.lexical is not None
            lexical = self.lexical.scores(text)
            lexical_z = self._add_lexical(fused, cosines, vector, lexical, pool)
            term_idf = lexical.idf
        ids = list(fused)
        scale = self._scale.get(self.store.generation())
        dense_z = scale.z(vector, np.array([cosines[i] for i in ids]))
        ranks = {i: float(z) + fused[i] for i, z in zip(ids, dense_z)}
        stored: dict[int, StoredPassage] = {}
        if recency:  # the bonus needs every candidate's date
            stored = self.store.stored_passages(ids)
            today = asked_at or date.today()
            for passage_id, passage in stored.items():
                ranks[passage_id] += recency_bonus(passage.document.published, today,
                                                   policy.recency_weight, policy.recency_days)
        order = sorted(ranks, key=lambda i: -ranks[i])
        return self._take(order, k, cosines, ranks, stored, lexical_z, term_idf)

    def _take(self, order: list[int], k: int, cosines: dict[int, float], ranks: dict[int, float],
              stored: dict[int, StoredPassage], lexical_z: dict[int, float] | None = None,
              term_idf: Mapping[str, float] | None = None) -> list[ScoredPassage]:
        """The first `k` of `order` that still exist, reading from the store only as many
        passages as needed (a passage removed by another process meanwhile is skipped)."""
        results: list[ScoredPassage] = []
        start = 0
        while len(results) < k and start < len(order):
            chunk = order[start : start + k - len(results)]
            start += len(chunk)
            missing = [i for i in chunk if i not in stored]
            if missing:
                stored.update(self.store.stored_passages(missing))
            results += [ScoredPassage(stored[i], cosines[i], ranks[i],
                                      lexical_z.get(i) if lexical_z else None, term_idf)
                        for i in chunk if i in stored]
        return results

    def _add_lexical(self, fused: dict[int, float], cosines: dict[int, float], vector: np.ndarray,
                     lexical: LexicalScores, pool: int) -> dict[int, float]:
        """Add BM25's weighted z-score to every candidate, and return the z-scores; lexical-only
        candidates get their cosine from the stored vectors so both halves score every candidate."""
        ids, scores = lexical.ids, lexical.scores
        missing = [int(i) for i in lexical.top(pool) if int(i) not in cosines]
        if missing:
            found, vectors = self.store.existing_vectors(missing, len(vector))
            for passage_id, similarity in zip(found.tolist(), vectors @ vector):
                cosines[int(passage_id)] = float(similarity)
                fused[int(passage_id)] = 0.0
        if len(scores) == 0:
            return {}
        mean, spread = lexical.mean_and_spread()
        candidates = np.fromiter(fused, dtype=np.int64, count=len(fused))
        at = np.clip(np.searchsorted(ids, candidates), 0, len(ids) - 1)
        found_here = ids[at] == candidates
        values = np.where(found_here, scores[at], 0.0)
        weight = self.policy.lexical_weight
        z_scores = {}
        for passage_id, value in zip(candidates.tolist(), values):
            z = z_scores[passage_id] = (float(value) - mean) / spread
            fused[passage_id] += weight * z
        return z_scores

    def _dense_only(self, cosines: dict[int, float], k: int) -> list[ScoredPassage]:
        best = sorted(cosines.items(), key=lambda item: -item[1])[:k]
        stored = self.store.stored_passages([i for i, _ in best])
        return [ScoredPassage(stored[i], score) for i, score in best if i in stored]
