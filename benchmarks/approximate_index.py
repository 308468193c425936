#!/usr/bin/env python
"""The approximate index through SearchIndex, at one size: build time, chosen nprobe, recall@10,
single-query p50/p95 exact against IVF, serialised size.

Run from the project root:

    .venv/bin/python benchmarks/approximate_index.py [--size 200000] [--dim 384] [--queries 200]

The corpus is the clustered synthetic mixture of vector_indexes.py (same generator), written
into a temporary SQLite store; queries are fresh draws from the mixture, never stored vectors.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
from common import percentile
from vector_indexes import SEED, draw, make_mixture, recall

from index.search_index import SearchIndex
from index.vectors import FaissVectorStore
from knowledge.documents import Document, Kind, Passage
from knowledge.store import SqliteStore
from knowledge.store_interface import NewDocument

PER_DOC = 100


def fill(store: SqliteStore, data: np.ndarray) -> None:
    for first in range(0, len(data), 50 * PER_DOC):
        items = []
        for start in range(first, min(first + 50 * PER_DOC, len(data)), PER_DOC):
            block = data[start : start + PER_DOC]
            doc_id = f"d{start}"
            document = Document(id=doc_id, title=doc_id, text=f"document {start}", url=None,
                                kind=Kind.NEWS, published="2022-03")
            passages = [Passage(None, doc_id, i, f"{doc_id}-{i}", 0, 1) for i in range(len(block))]
            items.append(NewDocument(document, passages, block))
        store.write_documents(items, "synthetic")


def timed(index: FaissVectorStore, queries: np.ndarray) -> tuple[list[float], np.ndarray]:
    for query in queries[:20]:
        index.search(query, 10)
    seconds, found = [], []
    for query in queries:
        started = time.perf_counter()
        hits = index.search(query, 10)
        seconds.append(time.perf_counter() - started)
        found.append([i for i, _ in hits] + [-1] * (10 - len(hits)))
    return seconds, np.asarray(found)


def main() -> None:
    import faiss

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    rng = np.random.default_rng(SEED)
    mixture = make_mixture(args.dim, rng)
    data = draw(args.size, mixture, rng)
    queries = draw(args.queries, mixture, rng)
    print(f"load before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as folder:
        store = SqliteStore(Path(folder) / "kb.sqlite")
        started = time.perf_counter()
        fill(store, data)
        print(f"store written in {time.perf_counter() - started:.1f} s")
        del data
        path = Path(folder) / "passages.faiss"
        started = time.perf_counter()
        index = SearchIndex(store, path, "synthetic", args.dim, approximate_above=args.size - 1)
        index.open()
        opened = time.perf_counter() - started
        exact = FaissVectorStore.load(path)  # the exact copy as saved before the build
        assert index.wait_for_build(3600)
        swapped = time.perf_counter() - started
        ivf = index.vectors
        build = index.last_build
        assert build is not None and ivf.kind == "ivf"
        exact_s, truth = timed(exact, queries)
        ivf_s, found = timed(ivf, queries)
        sizes = {name: len(faiss.serialize_index(v._index)) for name, v in (("exact", exact), ("ivf", ivf))}
        print(f"exact copy built and saved at open: {opened:.1f} s; open to swap: {swapped:.1f} s")
        print(f"IVF build: {build.seconds:.1f} s, nlist {build.nlist}, nprobe {build.nprobe}, "
              f"recall@10 on stored vectors {build.recall_at_10:.3f} ({build.recall_by_nprobe})")
        print(f"recall@10 on fresh queries at nprobe {ivf.nprobe}: {recall(found, truth):.3f}")
        for name, seconds in (("exact", exact_s), ("ivf", ivf_s)):
            print(f"{name}: p50 {1000 * percentile(seconds, 50):.2f} ms, p95 {1000 * percentile(seconds, 95):.2f} ms, "
                  f"serialised {sizes[name] / 2**20:.1f} MiB")
        print(f"file on disk: {path.stat().st_size / 2**20:.1f} MiB; load after: {os.getloadavg()}")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
        print(f"peak resident memory of the whole run (data, exact, IVF, saved copy): {peak:.0f} MiB")
        store.close()


if __name__ == "__main__":
    main()
