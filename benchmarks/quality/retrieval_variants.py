#!/usr/bin/env python
"""Replays retrieval configurations over one knowledge base built by `crisisbot eval --keep`.

The README's table of configurations comes from here: every variant scores the same stored
passages and vectors (no re-embedding of passages), so differences are the configuration's
alone. Queries are embedded once. Documents rank by their best passage, as in `crisisbot eval`.

    .venv/bin/crisisbot eval ../shared/eval/cranfield --keep /tmp/kb-cranfield
    .venv/bin/python -m benchmarks.quality.retrieval_variants ../shared/eval/cranfield /tmp/kb-cranfield
"""

from __future__ import annotations

import argparse
import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.common import make_log
from bot.runtime.evaluation import load_dataset, ndcg_at
from index.embedder import SentenceTransformerEmbedder, bundled_model_path
from index.recency import mentions_recency, recency_bonus

log = make_log("variants")
Scorer = Callable[[int], np.ndarray]


def z(x: np.ndarray) -> np.ndarray:
    spread = x.std()
    return (x - x.mean()) / (spread if spread > 0 else 1.0)


def bm25_matrix(texts: list[str], queries: list[str], k1: float = 1.2, b: float = 0.75) -> np.ndarray:
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    model = bm25s.BM25(k1=k1, b=b, method="lucene")
    model.index(bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False),
                show_progress=False)
    rows = []
    for query in queries:
        tokens = bm25s.tokenize([query], stopwords="en", stemmer=stemmer, show_progress=False,
                                return_ids=False)[0]
        known = [t for t in tokens if t in model.vocab_dict]
        rows.append(model.get_scores(known) if known else np.zeros(len(texts)))
    return np.asarray(rows, dtype=np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("kb", type=Path, help="a folder built by crisisbot eval --keep")
    args = parser.parse_args()
    dataset = load_dataset(args.dataset)
    db = sqlite3.connect(args.kb / "knowledge.sqlite3")
    rows = db.execute("SELECT p.id, p.document_id, d.title, p.text, p.embedding, d.published"
                      " FROM passages p JOIN documents d ON d.id = p.document_id ORDER BY p.id").fetchall()
    docs = [r[1] for r in rows]
    published = [r[5] for r in rows]
    vectors = np.stack([np.frombuffer(r[4], dtype=np.float32) for r in rows])
    queries = dataset.queries
    log(f"{len(rows)} passages, {len(queries)} queries: embedding the queries")
    embedder = SentenceTransformerEmbedder(bundled_model_path(), "all-MiniLM-L6-v2")
    qv = embedder.embed([q.text for q in queries])
    dense = qv @ vectors.T
    bm_title = bm25_matrix([f"{r[2]}\n{r[3]}" for r in rows], [q.text for q in queries])
    bm_text = bm25_matrix([r[3] for r in rows], [q.text for q in queries])

    def ndcg(score: Scorer) -> float:
        total = 0.0
        for i, query in enumerate(queries):
            s = score(i)
            ranking: list[str] = []
            for j in np.argsort(-s)[:300]:
                if docs[j] not in ranking:
                    ranking.append(docs[j])
            total += ndcg_at(ranking, dataset.qrels[query.id])
        return total / len(queries)

    def fused(w: float, bm: np.ndarray = bm_title) -> Scorer:
        return lambda i: z(dense[i]) + w * z(bm[i])

    def rrf(i: int, k: int = 60) -> np.ndarray:
        out = np.zeros(len(rows))
        for s in (dense[i], bm_title[i]):
            rank = np.empty(len(rows))
            rank[np.argsort(-s)] = np.arange(len(rows))
            out += 1 / (k + rank + 1)
        return out

    def rocchio(n: int, a: float) -> Scorer:
        def score(i: int) -> np.ndarray:
            top = np.argsort(-dense[i])[:n]
            q = qv[i] + a * vectors[top].mean(0)
            return z(vectors @ (q / np.linalg.norm(q))) + 0.3 * z(bm_title[i])
        return score

    def recency(weight: float, every: bool) -> Scorer:
        def score(i: int) -> np.ndarray:
            s = fused(0.3)(i)
            query = queries[i]
            if query.asked_at and (every or mentions_recency(query.text)):
                s = s + np.array([recency_bonus(p, query.asked_at, weight, 30) for p in published])
            return s
        return score

    variants: list[tuple[str, Scorer]] = [
        ("dense only", lambda i: dense[i]),
        ("BM25 only, passage text", lambda i: bm_text[i]),
        ("BM25 only, title + text", lambda i: bm_title[i]),
        ("RRF k=60", rrf),
        *[(f"z(dense) + {w} z(BM25)", fused(w)) for w in (0.1, 0.2, 0.3, 0.5)],
        *[(f"Rocchio top {n}, {a}, + 0.3 z(BM25)", rocchio(n, a)) for n, a in ((3, 0.3), (5, 0.5))],
        *[(f"default + recency {w} (recency words)", recency(w, False)) for w in (0.3, 0.5, 1.0)],
        ("default + recency 1.0 (every question)", recency(1.0, True)),
    ]
    print(f"{dataset.name}: nDCG@10")
    for label, score in variants:
        print(f"  {label:<45}{ndcg(score):.4f}", flush=True)


if __name__ == "__main__":
    main()
