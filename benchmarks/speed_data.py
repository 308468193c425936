"""The data of speed.py: the real ~10k passages, their tiled copies up to 1M, the questions,
the exact top-10 each approximate index is scored against, and the PostgreSQL copy.

- The real knowledge base is the shared corpus in publication order, cut after the document
  that brings it to the target passage count (counted with the bot's own chunker).
- A larger size is the previous one plus copies of the real documents: same passage texts
  (so one warm sentence cache covers every size), document ids, titles and URLs suffixed
  with the copy number, and each vector jittered: Gaussian noise of norm 0.48 then
  renormalised, which puts a copy at cosine ~0.9 to its original and ~0.81 to its siblings,
  so copies are neighbours but never duplicates. They are written straight into the store in
  big transactions (`SqliteStore.write_documents`): no embedding, no near-duplicate check.
- Questions: titles of real documents (a knowledge-base question by construction) and the
  first realtimeqa-dev questions (mostly about other news: the share answered shows the
  relevance gate declining as well as answering).
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
from core import unique_questions

if TYPE_CHECKING:
    from bot.runtime.service import CrisisBot
    from knowledge.documents import Document
    from knowledge.store import SqliteStore
    from knowledge.store_interface import NewDocument

CORPUS = ("corpus/news-2022.jsonl", "corpus/official-statements-2021-2022.jsonl")
REALTIMEQA = Path("eval/realtimeqa-dev/queries.jsonl")
SEED = 20240801
K = 10
COPY_NOISE = 0.484  # |noise| = r gives cosine 1/sqrt(1 + r^2) = 0.90 to the original
COPY_META = "speed_bench_copies"  # meta key: the last copy number written into a store
WRITE_BATCH = 20_000  # passages per transaction while tiling
READ_CHUNK = 50_000


# -- the real knowledge base and the questions (in the ingest child) --------------------------


def real_documents(bot: CrisisBot, shared: Path, target: int) -> list[Document]:
    """The corpus in publication order, up to the document that reaches `target` passages."""
    from knowledge.chunking import ChunkingPolicy, chunk_document

    documents = bot.read([shared / name for name in CORPUS], "benchmark").documents
    documents.sort(key=lambda d: (d.published or "", d.id))
    chosen, passages = [], 0
    for document in documents:
        if passages >= target:
            break
        chosen.append(document)
        passages += len(chunk_document(document, bot.embedder.count_tokens, ChunkingPolicy()))
    return chosen


def make_questions(documents: list[Document], shared: Path, count: int,
                   realtimeqa_share: float = 0.2) -> list[tuple[str, str]]:
    """(question, topic): `count` distinct questions, titles of real documents then realtimeqa-dev."""
    from_eval = [(text, "realtimeqa-dev") for text, _ in
                 unique_questions(shared / REALTIMEQA, round(count * realtimeqa_share))]
    usable = {d.title for d in documents if len(d.title.split()) >= 4 and not d.title.endswith("…")}
    titles = sorted(usable - {t for t, _ in from_eval})
    wanted = count - len(from_eval)
    if len(titles) < wanted:
        raise SystemExit(f"speed.py: only {len(titles)} usable titles for {wanted} title questions")
    return [(t, "document title") for t in random.Random(SEED).sample(titles, wanted)] + from_eval


# -- larger sizes: tiled copies (in the parent) ---------------------------------------------


def clone_database(source: Path, target: Path) -> None:
    """Copy a SQLite file with the backup API (consistent even with a WAL beside it)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def jitter(vectors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors at cosine ~0.9 to `vectors` (noise nearly orthogonal in 384 dimensions)."""
    noise = rng.standard_normal(vectors.shape, dtype=np.float32) * (COPY_NOISE / np.sqrt(vectors.shape[1]))
    out = vectors + noise
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


class RealBase:
    """The real documents with their passages and vectors, read once from the base store."""

    def __init__(self, store: SqliteStore, dimension: int) -> None:
        from knowledge.documents import Document

        ids = store.passage_ids()
        stored = store.stored_passages(ids.tolist())
        self.vectors = store.vectors(ids.tolist(), dimension)
        self.ids = ids
        self.model = store.embedding_model() or ""
        self.documents: list[tuple[Document, list[int]]] = []  # (document, rows of its passages)
        rows: dict[str, list[int]] = {}
        for row, passage_id in enumerate(ids.tolist()):
            rows.setdefault(stored[passage_id].passage.document_id, []).append(row)
        self.passages = [stored[i].passage for i in ids.tolist()]
        for info in store.documents():
            self.documents.append((Document(
                id=info.id, title=info.title, text=store.document_text(info.id), url=info.url,
                publisher=info.publisher, kind=info.kind, published=info.published,
                language=info.language, added_by=info.added_by, added_at=info.added_at,
            ), rows.get(info.id, [])))

    def copy(self, number: int, document: Document, rows: list[int], vectors: np.ndarray) -> NewDocument:
        """A NewDocument: copy `number` of `document` (text suffixed, so its hash differs)."""
        from dataclasses import replace

        from knowledge.documents import Document, Passage
        from knowledge.store_interface import NewDocument

        suffix = f" [copy {number}]"
        copied = Document(
            id=f"{document.id}~{number}", title=document.title + suffix, text=document.text + suffix,
            url=f"{document.url}#copy-{number}" if document.url else None, publisher=document.publisher,
            kind=document.kind, published=document.published, language=document.language,
            added_by="benchmark", added_at=document.added_at,
        )
        passages: list[Passage] = [replace(self.passages[r], id=None, document_id=copied.id) for r in rows]
        return NewDocument(copied, passages, vectors[rows])


def grow(store: SqliteStore, base: RealBase, size: int, log: Callable[[str], None]) -> int:
    """Append jittered copies of the real documents until `store` holds `size` passages."""
    count = store.passage_count()
    number = int(store.get_meta(COPY_META) or 0)
    started = time.perf_counter()
    while count < size:
        number += 1
        vectors = jitter(base.vectors, np.random.default_rng([SEED, number]))
        batch, batch_passages = [], 0
        for document, rows in base.documents:
            if count + batch_passages >= size:
                break
            batch.append(base.copy(number, document, rows, vectors))
            batch_passages += len(rows)
            if batch_passages >= WRITE_BATCH:
                store.write_documents(batch, base.model)
                count += batch_passages
                batch, batch_passages = [], 0
        if batch:
            store.write_documents(batch, base.model)
            count += batch_passages
        store.set_meta(COPY_META, str(number))
        elapsed = time.perf_counter() - started
        log(f"tiles: copy {number} written, {count:,}/{size:,} passages, {elapsed:.0f} s")
    return count


# -- ground truth ---------------------------------------------------------------------------


def exact_top10(store: SqliteStore, queries: np.ndarray) -> np.ndarray:
    """Ids of the exact inner-product top 10 of each query over every stored vector."""
    ids = store.passage_ids()
    best_scores = np.full((len(queries), K), -np.inf, dtype=np.float32)
    best_ids = np.full((len(queries), K), -1, dtype=np.int64)
    for first in range(0, len(ids), READ_CHUNK):
        found, vectors = store.existing_vectors(ids[first : first + READ_CHUNK].tolist(), queries.shape[1])
        scores = np.hstack([best_scores, queries @ vectors.T])
        every = np.hstack([best_ids, np.broadcast_to(found, (len(queries), len(found)))])
        top = np.argsort(-scores, axis=1, kind="stable")[:, :K]
        best_scores = np.take_along_axis(scores, top, axis=1)
        best_ids = np.take_along_axis(every, top, axis=1)
    return best_ids


def recall_at_10(found: list[list[int]], truth: np.ndarray) -> float:
    """Mean share of each exact top 10 that the index returned (order ignored)."""
    hits = sum(len(set(f) & set(t.tolist())) for f, t in zip(found, truth))
    return hits / (K * len(truth)) if len(truth) else float("nan")


# -- PostgreSQL (in the parent) -------------------------------------------------------------


def with_database(uri: str, name: str) -> str:
    """The server URI pointed at database `name`."""
    parts = urlsplit(uri)
    return urlunsplit(parts._replace(path="/" + name))


def load_postgres(server_uri: str, name: str, data_dir: Path, log: Callable[[str], None]) -> dict[str, Any]:
    """A new database `name` holding the data folder's knowledge base (`copy_from_sqlite`, as
    `crisisbot migrate --from-sqlite` does), with the HNSW index of the migrations dropped
    before the load and built again after it (faster than growing it row by row)."""
    import psycopg

    from knowledge.postgres.copy_from_sqlite import copy_from_sqlite
    from knowledge.postgres.migrations import migrate

    with psycopg.connect(server_uri, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    url = with_database(server_uri, name)
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn)
        row = conn.execute("SELECT pg_get_indexdef('passages_embedding'::regclass)").fetchone()
        assert row is not None
        conn.execute("DROP INDEX passages_embedding")
        started = time.perf_counter()
        report = copy_from_sqlite(data_dir, conn)
        load_s = time.perf_counter() - started
        log(f"postgres: {report.rows.get('passages', 0):,} passages copied in {load_s:.0f} s; building HNSW")
        started = time.perf_counter()
        conn.execute(row[0])
        build_s = time.perf_counter() - started
        conn.execute("VACUUM ANALYZE passages")
        log(f"postgres: HNSW built in {build_s:.0f} s")
    return {"url": url, "load_s": load_s, "build_s": build_s}


def drop_database(server_uri: str, name: str) -> None:
    import psycopg

    with psycopg.connect(server_uri, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
