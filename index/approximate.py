"""Builds the approximate (IVF) copy of the vector index from the store, measuring its recall.

Above a size where exact search gets slow (221 ms a query at 1M vectors here), the copy becomes
an `IndexIVFFlat`: vectors are grouped around `nlist` k-means centroids and a query visits only
the `nprobe` nearest groups. How many groups it must visit depends on the data, so `nprobe` is
not guessed but measured at build time: the smallest candidate whose recall@10 against exact
search, on stored vectors used as queries, reaches the target, times a margin for questions.

Everything is read from the store in chunks (ids, then vectors), so the build never needs the
live index or its lock: searches keep using the exact copy meanwhile.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from index.vectors import FLOAT32, FaissVectorStore, scalar_quantizer_type
from knowledge.store_interface import VectorSource

log = logging.getLogger(__name__)

K = 10
NPROBE_CANDIDATES = (8, 16, 32, 64, 128)
TARGET_RECALL = 0.95
QUESTION_MARGIN = 8
"""nprobe is the first candidate whose recall on stored vectors reaches the target, times this.
Questions are not passages: they sit farther from their neighbours (top cosine about 0.7), so
the same nprobe finds fewer of them. Measured with 220 real questions (the speed benchmark's)
at the first candidate: 0.938 against 0.953 on stored vectors over 10,000 real passages, 0.816
against 0.988 over 100,000 tiled ones; eight times as many lists gave 1.000 and 0.980 (four
times: 0.995 and 0.947). Visiting 64 of 1,024 lists costs about a millisecond."""
TRAINING_SAMPLE = 100_000
QUERIES = 200
SEED = 20240801
CHUNK = 4096
MIN_POINTS_PER_LIST = 39  # FAISS's k-means warns (and trains badly) below this


@dataclass(frozen=True)
class BuildReport:
    """What a build measured; logged, and nprobe/recall also kept in the file header."""

    count: int
    nlist: int
    nprobe: int
    recall_at_10: float
    recall_by_nprobe: dict[int, float]
    seconds: float


def choose_nlist(count: int, training: int) -> int:
    """About 4·sqrt(n) lists, rounded to a power of two (2048 at 200k), with enough training
    points per centroid."""
    wanted = 2 ** round(math.log2(max(1.0, 4 * math.sqrt(count))))
    return max(1, min(wanted, training // MIN_POINTS_PER_LIST))


def build_ivf(
    store: VectorSource, model: str, dimension: int, ids: np.ndarray | None = None,
    progress: Callable[[str], None] | None = None, storage: str = FLOAT32,
) -> tuple[FaissVectorStore, BuildReport]:
    """An IVF copy of the passages `ids` (default: all stored), with nprobe chosen by recall.
    `storage` (see index.vectors) quantises the vectors in the lists; the recall measured is
    then that of the quantised copy, so nprobe compensates where it can.

    Passages removed while the build reads are simply missing from the result; the caller
    mends the copy against the store (by id) before using it.
    """
    import faiss

    started = time.perf_counter()
    ids = store.passage_ids() if ids is None else np.asarray(ids, dtype=np.int64)
    rng = np.random.default_rng(SEED)
    sample_ids = np.sort(rng.choice(ids, size=min(len(ids), TRAINING_SAMPLE), replace=False))
    _, sample = store.existing_vectors(sample_ids.tolist(), dimension)
    nlist = choose_nlist(len(ids), len(sample))
    quantizer = faiss.IndexFlatIP(dimension)
    index: faiss.IndexIVF
    if storage == FLOAT32:
        index = faiss.IndexIVFFlat(quantizer, dimension, nlist, faiss.METRIC_INNER_PRODUCT)
    else:
        index = faiss.IndexIVFScalarQuantizer(quantizer, dimension, nlist,
                                              scalar_quantizer_type(storage), faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = SEED
    index.train(np.ascontiguousarray(sample))
    if progress:
        progress(f"trained {nlist} lists on {len(sample)} vectors")

    del sample
    query_ids, queries = _held_out_queries(store, ids, sample_ids, dimension, rng)
    truth = _ExactTopK(query_ids, queries)
    for first in range(0, len(ids), CHUNK):
        found, vectors = store.existing_vectors(ids[first : first + CHUNK].tolist(), dimension)
        index.add_with_ids(vectors, found)
        truth.absorb(found, vectors)
    built = FaissVectorStore(dimension, model, index, trained_on=len(ids))

    by_nprobe = {}
    enough = NPROBE_CANDIDATES[-1]
    for nprobe in NPROBE_CANDIDATES:
        built.nprobe = nprobe
        by_nprobe[nprobe] = truth.recall(built)
        if by_nprobe[nprobe] >= TARGET_RECALL or nprobe >= nlist:
            enough = nprobe
            break
    chosen = min(nlist, enough * QUESTION_MARGIN)
    if chosen not in by_nprobe:
        built.nprobe = chosen
        by_nprobe[chosen] = truth.recall(built)
    built.nprobe = chosen
    built.recall_at_10 = by_nprobe[chosen]
    report = BuildReport(len(built), nlist, chosen, by_nprobe[chosen], by_nprobe,
                         time.perf_counter() - started)
    level = logging.INFO if report.recall_at_10 >= TARGET_RECALL else logging.WARNING
    log.log(level, "approximate index built: %d vectors, %d lists, nprobe %d, recall@10 %.3f "
            "against exact (by nprobe: %s) in %.1f s", report.count, nlist, chosen,
            report.recall_at_10, {n: round(r, 3) for n, r in by_nprobe.items()}, report.seconds)
    return built, report


def _held_out_queries(store: VectorSource, ids: np.ndarray, sample_ids: np.ndarray, dimension: int,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """QUERIES stored vectors (seeded) to search with, outside the training sample when there
    are enough (centroids fitted to a point flatter its recall); each query's own id is left
    out of both result lists."""
    unseen = np.setdiff1d(ids, sample_ids, assume_unique=True)
    pool = unseen if len(unseen) >= QUERIES else ids
    picked = np.sort(rng.choice(pool, size=min(QUERIES, len(pool)), replace=False))
    return store.existing_vectors(picked.tolist(), dimension)


class _ExactTopK:
    """The exact top-K of each query, excluding the query itself, accumulated over chunks."""

    def __init__(self, query_ids: np.ndarray, queries: np.ndarray) -> None:
        self.query_ids = query_ids
        self.queries = queries
        self.scores = np.full((len(queries), K), -np.inf, dtype=np.float32)
        self.ids = np.full((len(queries), K), -1, dtype=np.int64)

    def absorb(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        scores = self.queries @ vectors.T
        scores[self.query_ids[:, None] == ids[None, :]] = -np.inf
        all_scores = np.hstack([self.scores, scores])
        all_ids = np.hstack([self.ids, np.broadcast_to(ids, scores.shape)])
        best = np.argsort(-all_scores, axis=1, kind="stable")[:, :K]
        self.scores = np.take_along_axis(all_scores, best, axis=1)
        self.ids = np.take_along_axis(all_ids, best, axis=1)

    def recall(self, built: FaissVectorStore) -> float:
        """Mean share of the exact top-K found in the index's top-K (order ignored)."""
        if len(self.queries) == 0:
            return 1.0
        rows = built.search_many(self.queries, K + 1)
        hits = 0
        total = 0
        for own, row, truth in zip(self.query_ids, rows, self.ids):
            found = [i for i, _ in row if i != own][:K]
            expected = set(truth[truth >= 0].tolist())
            hits += len(expected.intersection(found))
            total += len(expected)
        return hits / total if total else 1.0
