"""A question becomes the passages that best match it: dense and lexical evidence, fused.

Dense retrieval (cosine of all-MiniLM-L6-v2 vectors) finds paraphrases; BM25 finds rare names
and exact terms. Each score is turned into a z-score over the whole knowledge base (how unusual
this passage's score is for this question) and the two are added, BM25 with weight 0.3: on the
dev sets this beats either half and reciprocal-rank fusion (README, "Evaluation"). The dense
z-score is exact without scoring every passage: the mean and variance of q.p over passages are
q.mean and q'Cq, from the passages' mean vector and covariance.

With multilingual retrieval on and every passage's e5 vector stored (index.multilingual), a
third half joins: the z-score of the e5 cosine of the question ("query: ") and the passage, so
that Ukrainian and Russian questions find English passages. For a question that is not English,
MiniLM's half gets no weight (its cosines are noise outside English). Candidates come from all
three halves, and each half scores every candidate.

`ScoredPassage.score` stays the MiniLM cosine, and `lexical_z` the BM25 half's z-score, with the
IDF of the question's stems (`term_idf`): the relevance gate reads them (bot.core.gate);
`multilingual_score` is the e5 cosine and `language` the question's, for a gate that learns
them. The fused `rank` only orders the passages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np

from index.background import Refresher
from index.dense_scale import DenseScale
from index.embedder import Embedder
from index.interfaces import LexicalScores, TextIndex, VectorIndex
from index.multilingual import MultilingualRetrieval
from index.recency import mentions_recency, recency_bonus
from knowledge.documents import StoredPassage
from knowledge.language import Language, detect_language
from knowledge.store_interface import KnowledgeStore


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
    multilingual_score: float | None = None  # the e5 cosine, when that half ran
    language: str | None = None  # the question's ("en", "uk", "ru"), when that half ran

    @property
    def rank_score(self) -> float:
        return self.score if self.rank is None else self.rank


@dataclass(frozen=True)
class RetrievalPolicy:
    """Defaults measured on ../shared/eval (README, "Evaluation"); 0 turns a part off."""

    lexical_weight: float = 0.3
    candidates: int = 100  # from each half, before fusion
    dense_weight: float = 1.0  # MiniLM's half, for English questions (0 for others)
    multilingual_weight: float = 1.0  # e5's half, when it runs
    multilingual_lexical_weight: float = 0.2  # BM25's weight when e5's half runs (measured)
    recency_weight: float = 1.0
    recency_days: float = 30.0


@dataclass
class _Multilingual:
    """The e5 half of one question: its vector, the cosines found so far, the language."""

    vector: np.ndarray
    cosines: dict[int, float]
    language: str | None


class Retriever:
    """Hybrid retrieval over the store's passages."""

    def __init__(
        self,
        store: KnowledgeStore,
        index: VectorIndex,
        embedder: Embedder,
        lexical: TextIndex | None = None,
        policy: RetrievalPolicy = RetrievalPolicy(),
        multilingual: MultilingualRetrieval | None = None,
    ) -> None:
        self.store = store
        self.index = index
        self.embedder = embedder
        self.lexical = lexical
        self.policy = policy
        self.multilingual = multilingual
        self._scale = Refresher(self._measure_scale, "vector statistics")

    def _measure_scale(self, generation: int) -> DenseScale:
        return DenseScale.measure(self.store, generation, self.index.dimension)

    def wait_for_builds(self, timeout: float | None = None) -> bool:
        """Wait for the background rebuilds (vector statistics, BM25) still running; True if
        none is. The owner calls it before closing the store they read."""
        done = self._scale.wait_for_build(timeout)
        if self.multilingual is not None:
            done = self.multilingual.wait_for_builds(timeout) and done
        return (self.lexical is None or self.lexical.wait_for_build(timeout)) and done

    def embed_query(self, text: str) -> np.ndarray:
        return self.embedder.embed([text])[0]

    def multilingual_ready(self) -> bool:
        """Whether the e5 half runs now: on, and every passage has its e5 vector."""
        return self.multilingual is not None and self.multilingual.complete()

    def search(self, text: str, k: int, asked_at: date | None = None) -> list[ScoredPassage]:
        return self.search_vector(self.embed_query(text), k, text, asked_at)

    def search_vector(
        self, vector: np.ndarray, k: int, text: str = "", asked_at: date | None = None,
        multilingual_vector: np.ndarray | None = None,
    ) -> list[ScoredPassage]:
        """The best `k` passages for a question already embedded as `vector`. Without `text`
        only the dense half runs; `asked_at` (default today) anchors the recency preference.
        `multilingual_vector`: the question's e5 vector if already embedded (a batch of
        evaluation queries), else it is embedded here when the e5 half runs."""
        policy = self.policy
        pool = max(k, policy.candidates)
        cosines = dict(self.index.search(vector, pool))
        second = self._multilingual_half(text, multilingual_vector, pool)
        lexical_weight = policy.lexical_weight if second is None else policy.multilingual_lexical_weight
        lexical_part = bool(text) and self.lexical is not None and lexical_weight > 0
        recency = bool(text) and policy.recency_weight > 0 and mentions_recency(text)
        if not lexical_part and not recency and second is None:
            return self._dense_only(cosines, k)
        fused = {i: 0.0 for i in cosines}
        if second is not None:
            fused.update((i, 0.0) for i in second.cosines)
        lexical_z: dict[int, float] = {}
        term_idf: Mapping[str, float] | None = None
        lexical: LexicalScores | None = None
        if lexical_part:
            assert self.lexical is not None
            lexical = self.lexical.scores(text)
            fused.update((int(i), 0.0) for i in lexical.top(pool))
            term_idf = lexical.idf
        self._add_cosines(fused, cosines, vector)
        if lexical is not None:
            lexical_z = self._add_lexical(fused, lexical, lexical_weight)
        ranks = self._dense_ranks(fused, cosines, vector, second)
        stored: dict[int, StoredPassage] = {}
        if recency:  # the bonus needs every candidate's date
            stored = self.store.stored_passages(list(ranks))
            today = asked_at or date.today()
            for passage_id, passage in stored.items():
                ranks[passage_id] += recency_bonus(passage.document.published, today,
                                                   policy.recency_weight, policy.recency_days)
        order = sorted(ranks, key=lambda i: -ranks[i])
        return self._take(order, k, cosines, ranks, stored, lexical_z, term_idf, second)

    def _multilingual_half(self, text: str, vector: np.ndarray | None, pool: int) -> _Multilingual | None:
        """The e5 half of this question, or None when it does not run (off, incomplete, or no
        text to embed)."""
        if not text or self.multilingual is None or self.policy.multilingual_weight <= 0:
            return None
        if not self.multilingual.complete():
            return None
        if vector is None:
            vector = self.multilingual.embed_questions([text])[0]
        language = detect_language(text)
        return _Multilingual(vector, self.multilingual.search(vector, pool),
                             None if language is None else language.value)

    def _add_cosines(self, fused: dict[int, float], cosines: dict[int, float], vector: np.ndarray) -> None:
        """MiniLM cosines of the candidates another half found, from the stored vectors, so
        that every half scores every candidate; a passage removed meanwhile is dropped."""
        missing = [i for i in fused if i not in cosines]
        if not missing:
            return
        found, vectors = self.store.existing_vectors(missing, len(vector))
        cosines.update(zip(found.tolist(), (vectors @ vector).tolist()))
        for passage_id in missing:
            if passage_id not in cosines:
                del fused[passage_id]

    def _dense_ranks(self, fused: dict[int, float], cosines: dict[int, float], vector: np.ndarray,
                     second: _Multilingual | None) -> dict[int, float]:
        """Each candidate's fused rank: the lexical part in `fused`, plus the weighted dense
        z-scores (MiniLM's weight 0 for a question the e5 half found not to be English)."""
        ids = list(fused)
        weight = self.policy.dense_weight
        if second is not None and second.language not in (None, Language.EN.value):
            weight = 0.0
        ranks = dict(fused)
        if weight > 0 or second is None:
            scale = self._scale.get(self.store.generation())
            dense_z = scale.z(vector, np.array([cosines[i] for i in ids]))
            scaled = weight if second is not None else 1.0
            for passage_id, z in zip(ids, dense_z.tolist()):
                ranks[passage_id] += scaled * z
        if second is not None:
            assert self.multilingual is not None
            self.multilingual.add_cosines(second.cosines, ids, second.vector)
            known = [i for i in ids if i in second.cosines]  # a passage without one adds 0
            e5_z = self.multilingual.z(second.vector, np.array([second.cosines[i] for i in known]))
            for passage_id, z in zip(known, e5_z.tolist()):
                ranks[passage_id] += self.policy.multilingual_weight * z
        return ranks

    def _take(self, order: list[int], k: int, cosines: dict[int, float], ranks: dict[int, float],
              stored: dict[int, StoredPassage], lexical_z: dict[int, float] | None = None,
              term_idf: Mapping[str, float] | None = None,
              second: _Multilingual | None = None) -> list[ScoredPassage]:
        """The first `k` of `order` that still exist, reading from the store only as many
        passages as needed (a passage removed by another process meanwhile is skipped)."""
        results: list[ScoredPassage] = []
        start = 0
        language = None if second is None else second.language
        while len(results) < k and start < len(order):
            chunk = order[start : start + k - len(results)]
            start += len(chunk)
            missing = [i for i in chunk if i not in stored]
            if missing:
                stored.update(self.store.stored_passages(missing))
            results += [ScoredPassage(stored[i], cosines[i], ranks[i],
                                      lexical_z.get(i) if lexical_z else None, term_idf,
                                      None if second is None else second.cosines.get(i), language)
                        for i in chunk if i in stored]
        return results

    def _add_lexical(self, fused: dict[int, float], lexical: LexicalScores,
                     weight: float) -> dict[int, float]:
        """Add BM25's weighted z-score to every candidate, and return the z-scores."""
        ids, scores = lexical.ids, lexical.scores
        if len(scores) == 0:
            return {}
        mean, spread = lexical.mean_and_spread()
        candidates = np.fromiter(fused, dtype=np.int64, count=len(fused))
        at = np.clip(np.searchsorted(ids, candidates), 0, len(ids) - 1)
        found_here = ids[at] == candidates
        values = np.where(found_here, scores[at], 0.0)
        z_scores = {}
        for passage_id, value in zip(candidates.tolist(), values):
            z = z_scores[passage_id] = (float(value) - mean) / spread
            fused[passage_id] += weight * z
        return z_scores

    def _dense_only(self, cosines: dict[int, float], k: int) -> list[ScoredPassage]:
        best = sorted(cosines.items(), key=lambda item: -item[1])[:k]
        stored = self.store.stored_passages([i for i, _ in best])
        return [ScoredPassage(stored[i], score) for i, score in best if i in stored]
