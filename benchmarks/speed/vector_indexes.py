#!/usr/bin/env python
"""Vector-index benchmark (issue 8): FAISS flat, FAISS HNSW and pgvector HNSW in one run.

For each corpus size the script measures build time, single-query latency (p50/p95, one query
at a time, as the bot searches), recall@10 against exact search, and memory, so that a switch
away from the exact FAISS index is decided on numbers from this machine rather than on
published benchmarks measured on other hardware and other data.

Run from the project root:

    .venv/bin/python -m benchmarks.speed.vector_indexes [--sizes 100000 1000000] [--queries 200]
        [--dim 384] [--data DIR] [--out FILE] [--json]

Needs `faiss-cpu`, `pgserver` (a PostgreSQL 16 with pgvector that runs as a subprocess) and
`psycopg[binary]` 3.x. The Postgres data folder is a temporary folder removed afterwards,
unless --data DIR is given (the server is then stopped but the folder kept).

Why synthetic vectors, and why these: the index comparison needs 1M vectors, and embedding 1M
passages with MiniLM would take hours here (about 47 passages/s). Uniform random unit vectors
are a poor stand-in: in 384 dimensions every point is almost equally far from every other, so
there is no neighbourhood structure and HNSW recall collapses in a way it does not on text
embeddings. Text embeddings are clustered (topics, near-duplicates) with uneven cluster sizes,
so the data here is a mixture of a few thousand Gaussian clusters with log-normal sizes and
per-cluster spread, normalised. Queries come from the same mixture but are fresh draws, so
they are near the data but never equal to a stored vector. The report states the mean cosine
of each query's nearest and 10th-nearest neighbour so the difficulty can be compared with
real embeddings.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.common import (PROJECT, finite, machine, make_log, percentile_ms, postgres, recall_at_k,
                               revision)

if TYPE_CHECKING:
    import faiss
    import numpy as np
    import psycopg

K = 10
SEED = 20240801
CLUSTERS = 4000
# (M, efConstruction): first pgvector's defaults, for a like-for-like pair; then M 32, which
# FAISS needs here to reach the recall pgvector gets from m 16 (its graph is built differently).
FAISS_HNSW = [(16, 64), (32, 64)]
PG_M = 16
PG_EF_CONSTRUCTION = 64
WARM_UP = 20  # untimed queries before each timed pass: first touches fault pages in
CHUNK = 50_000

log = make_log("vectors")


@dataclass
class Row:
    """One line of the result table: an index configuration at one corpus size."""

    size: int
    method: str
    params: str
    build_s: float
    p50_ms: float
    p95_ms: float
    recall_at_10: float
    memory_mb: float
    memory_note: str
    extra: dict[str, Any] = field(default_factory=dict)


# -- data -----------------------------------------------------------------------------------


def make_mixture(dim: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cluster centres, sampling weights and per-cluster spreads of the synthetic corpus.

    A spread near 1 makes a point's cosine to its centre about 0.7 and to a same-cluster
    neighbour about 0.5, with unrelated points near 0 - roughly the contrast MiniLM shows
    between a passage, its topic and the rest of a news corpus.
    """
    import numpy as np

    centres = rng.standard_normal((CLUSTERS, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    weights = rng.lognormal(0.0, 1.0, CLUSTERS)
    weights /= weights.sum()
    spreads = rng.uniform(0.7, 1.3, CLUSTERS).astype(np.float32)
    return centres, weights, spreads


def draw(count: int, mixture: tuple[np.ndarray, np.ndarray, np.ndarray],
         rng: np.random.Generator) -> np.ndarray:
    """`count` unit float32 vectors from the mixture, made in chunks to bound temporary memory."""
    import numpy as np

    centres, weights, spreads = mixture
    dim = centres.shape[1]
    out = np.empty((count, dim), dtype=np.float32)
    for start in range(0, count, CHUNK):
        stop = min(start + CHUNK, count)
        which = rng.choice(len(centres), size=stop - start, p=weights)
        noise = rng.standard_normal((stop - start, dim), dtype=np.float32)
        noise *= (spreads[which] / np.sqrt(dim))[:, None]
        block = centres[which] + noise
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start:stop] = block
    return out


def timed_queries(search: Callable[[np.ndarray], Sequence[int]],
                  queries: np.ndarray) -> tuple[list[float], np.ndarray]:
    """Latencies (s) and ids of one-at-a-time searches, after a few untimed warm-up queries."""
    import numpy as np

    for query in queries[:WARM_UP]:
        search(query)
    seconds, ids = [], np.full((len(queries), K), -1, dtype=np.int64)
    for number, query in enumerate(queries):
        started = time.perf_counter()
        found = search(query)
        seconds.append(time.perf_counter() - started)
        ids[number, : len(found)] = found
    return seconds, ids


def figures(seconds: Sequence[float], ids: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    """p50 and p95 in ms, and recall@10, of one timed pass: the measured columns of a Row."""
    return percentile_ms(seconds, 50), percentile_ms(seconds, 95), recall_at_k(ids, truth)


# -- FAISS ----------------------------------------------------------------------------------


def faiss_rows(size: int, data: np.ndarray, queries: np.ndarray, truth: np.ndarray,
               flat: faiss.Index, flat_build_s: float, ef_values: Sequence[int]) -> list[Row]:
    """The exact index (already built for the ground truth), then each HNSW configuration."""
    import faiss

    rows = []
    seconds, ids = timed_queries(lambda query: flat.search(query[None, :], K)[1][0], queries)
    rows.append(Row(size, "FAISS flat (exact)", "IndexFlatIP", flat_build_s, *figures(seconds, ids, truth),
                    len(faiss.serialize_index(flat)) / 2**20, "serialised"))
    log(f"{size:,}: FAISS flat p50 {rows[-1].p50_ms:.2f} ms")

    for m, ef_construction in FAISS_HNSW:
        rows += faiss_hnsw_rows(size, data, queries, truth, m, ef_construction, ef_values)
    return rows


def faiss_hnsw_rows(size: int, data: np.ndarray, queries: np.ndarray, truth: np.ndarray,
                    m: int, ef_construction: int, ef_values: Sequence[int]) -> list[Row]:
    """One FAISS HNSW graph, built once and searched at each efSearch."""
    import faiss

    hnsw = faiss.IndexHNSWFlat(data.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = ef_construction
    log(f"{size:,}: building FAISS HNSW (M {m}, efConstruction {ef_construction})")
    started = time.perf_counter()
    hnsw.add(data)
    build_s = time.perf_counter() - started
    log(f"{size:,}: FAISS HNSW built in {build_s:.1f} s")
    memory = len(faiss.serialize_index(hnsw)) / 2**20
    rows = []
    for ef in ef_values:
        hnsw.hnsw.efSearch = ef
        seconds, ids = timed_queries(lambda query: hnsw.search(query[None, :], K)[1][0], queries)
        rows.append(Row(size, "FAISS HNSW", f"M {m}, efC {ef_construction}, efSearch {ef}",
                        build_s, *figures(seconds, ids, truth), memory, "serialised, vectors + graph"))
        log(f"{size:,}: FAISS HNSW M {m} efSearch {ef}: p50 {rows[-1].p50_ms:.3f} ms, "
            f"recall {rows[-1].recall_at_10:.3f}")
    return rows


# -- pgvector -------------------------------------------------------------------------------


def copy_binary(conn: psycopg.Connection[Any], table: str, data: np.ndarray) -> None:
    """Load (id, embedding) rows with COPY ... FORMAT BINARY, built as one numpy record array.

    Binary COPY skips formatting and parsing 384 floats as text per row; each tuple is a field
    count, then length-prefixed fields: int8 id and pgvector's wire form (int16 dim, int16
    unused, big-endian float4 values).
    """
    import numpy as np

    dim = data.shape[1]
    tuple_type = np.dtype([("fields", ">i2"), ("id_len", ">i4"), ("id", ">i8"), ("vec_len", ">i4"),
                           ("dim", ">i2"), ("unused", ">i2"), ("values", ">f4", (dim,))])
    with conn.cursor() as cur, cur.copy(f"COPY {table} (id, embedding) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big"))
        for start in range(0, len(data), CHUNK):
            stop = min(start + CHUNK, len(data))
            block = np.zeros(stop - start, dtype=tuple_type)
            block["fields"], block["id_len"], block["vec_len"], block["dim"] = 2, 8, 4 + 4 * dim, dim
            block["id"] = np.arange(start, stop)
            block["values"] = data[start:stop]
            copy.write(block.tobytes())
        copy.write((-1).to_bytes(2, "big", signed=True))


def watch_build(uri: str, total: int, stop: threading.Event) -> None:
    """Log the HNSW build's progress from pg_stat_progress_create_index every 30 s."""
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(uri, autocommit=True) as conn:
        while not stop.wait(30):
            row = conn.execute("SELECT phase, tuples_done, blocks_done, blocks_total "
                               "FROM pg_stat_progress_create_index").fetchone()
            if row:
                elapsed = time.perf_counter() - started
                log(f"pgvector build: {elapsed:.0f} s, phase '{row[0]}', tuples {row[1]:,}/{total:,}, "
                    f"blocks {row[2]:,}/{row[3]:,}")


def one_row(conn: psycopg.Connection[Any], sql: str) -> tuple[Any, ...]:
    """The single row a catalogue or check query must return."""
    row = conn.execute(sql).fetchone()
    if row is None:
        raise SystemExit(f"benchmarks.speed.vector_indexes: no row from {sql}")
    return tuple(row)


def load_table(conn: psycopg.Connection[Any], table: str, data: np.ndarray) -> float:
    """Create and fill the table, check one vector survived the binary COPY; seconds taken."""
    conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.execute(f"CREATE TABLE {table} (id bigint NOT NULL, "
                 f"embedding vector({data.shape[1]}) NOT NULL)")
    started = time.perf_counter()
    copy_binary(conn, table, data)
    conn.execute(f"VACUUM ANALYZE {table}")
    load_s = time.perf_counter() - started
    stored = one_row(conn, f"SELECT embedding::text FROM {table} WHERE id = 1")[0]
    values = [float(x) for x in stored.strip("[]").split(",")]
    if max(abs(a - float(b)) for a, b in zip(values, data[1])) > 1e-6:
        raise SystemExit("benchmarks.speed.vector_indexes: the binary COPY did not round-trip a vector")
    return load_s


def build_index(conn: psycopg.Connection[Any], uri: str, table: str, size: int) -> float:
    """CREATE INDEX ... USING hnsw after loading (faster than growing it row by row); seconds."""
    stop = threading.Event()
    watcher = threading.Thread(target=watch_build, args=(uri, size, stop), daemon=True)
    watcher.start()
    started = time.perf_counter()
    try:
        conn.execute(f"CREATE INDEX {table}_hnsw ON {table} "
                     f"USING hnsw (embedding vector_cosine_ops) "
                     f"WITH (m = {PG_M}, ef_construction = {PG_EF_CONSTRUCTION})")
    finally:
        stop.set()
    return time.perf_counter() - started


def literal(query: np.ndarray) -> str:
    """pgvector's text form of a vector; a bound text parameter keeps the driver dependency-free."""
    return "[" + ",".join(map(str, query.tolist())) + "]"


def pgvector_rows(uri: str, size: int, data: np.ndarray, queries: np.ndarray, truth: np.ndarray,
                  ef_values: Sequence[int]) -> list[Row]:
    """Load the vectors with COPY, build an HNSW index after loading, query at each ef_search."""
    import psycopg

    table = f"passages_{size}"
    with psycopg.connect(uri, autocommit=True) as conn:
        load_s = load_table(conn, table, data)
        log(f"{size:,}: COPY + VACUUM ANALYZE of {size:,} rows in {load_s:.1f} s")
        log(f"{size:,}: building pgvector HNSW (m {PG_M}, ef_construction {PG_EF_CONSTRUCTION})")
        build_s = build_index(conn, uri, table, size)
        log(f"{size:,}: pgvector HNSW built in {build_s:.1f} s")
        heap, index, total = one_row(
            conn, f"SELECT pg_relation_size('{table}'), pg_relation_size('{table}_hnsw'), "
            f"pg_total_relation_size('{table}')")
        sql = f"SELECT id FROM {table} ORDER BY embedding <=> %s::vector LIMIT {K}"

        def one(query: np.ndarray) -> Sequence[int]:
            return [r[0] for r in conn.execute(sql, [literal(query)], prepare=True).fetchall()]

        plan = conn.execute("EXPLAIN " + sql, [literal(queries[0])]).fetchall()
        if not any("hnsw" in line[0] for line in plan):
            raise SystemExit(f"benchmarks.speed.vector_indexes: pgvector did not plan the HNSW index: {plan}")
        rows = []
        for ef in ef_values:
            conn.execute(f"SET hnsw.ef_search = {ef}")
            seconds, ids = timed_queries(one, queries)
            rows.append(Row(size, "pgvector HNSW", f"m {PG_M}, ef_construction {PG_EF_CONSTRUCTION}, "
                            f"ef_search {ef}", build_s, *figures(seconds, ids, truth), index / 2**20,
                            f"index; table {heap / 2**20:.0f} MB, total {total / 2**20:.0f} MB",
                            {"load_s": load_s, "heap_bytes": heap, "index_bytes": index,
                             "total_bytes": total}))
            log(f"{size:,}: pgvector ef_search {ef}: p50 {rows[-1].p50_ms:.3f} ms, "
                f"recall {rows[-1].recall_at_10:.3f}")
        conn.execute(f"DROP TABLE {table}")  # frees disk and cache
    return rows


# -- one size and the report ----------------------------------------------------------------


def run_size(size: int, args: argparse.Namespace, uri: str) -> tuple[list[Row], dict[str, float]]:
    """Every method at one corpus size; the data's neighbour cosines describe its difficulty."""
    import faiss
    import numpy as np

    rng = np.random.default_rng(SEED)
    mixture = make_mixture(args.dim, rng)
    started = time.perf_counter()
    data = draw(size, mixture, np.random.default_rng([SEED, size]))
    queries = draw(args.queries, mixture, np.random.default_rng([SEED, size, 1]))
    log(f"{size:,}: generated {size:,} + {args.queries} vectors in {time.perf_counter() - started:.1f} s")

    flat = faiss.IndexFlatIP(args.dim)
    started = time.perf_counter()
    flat.add(data)
    flat_build_s = time.perf_counter() - started
    scores, truth = flat.search(queries, K)  # batched: the ground truth, not a latency figure
    shape = {"top1_cosine_mean": float(scores[:, 0].mean()),
             "top10_cosine_mean": float(scores[:, K - 1].mean())}
    log(f"{size:,}: exact top-{K} done; mean cosine of 1st/10th neighbour "
        f"{shape['top1_cosine_mean']:.3f}/{shape['top10_cosine_mean']:.3f}")

    rows = faiss_rows(size, data, queries, truth, flat, flat_build_s, args.faiss_ef)
    del flat
    rows += pgvector_rows(uri, size, data, queries, truth, args.pg_ef)
    # Other work on a 2-core machine shows in every figure; the load average makes it visible.
    shape["load_avg_15min_after"] = os.getloadavg()[2]
    return rows, shape


def table(rows: Sequence[Row]) -> str:
    """The result rows as a Markdown table (printed per size as it finishes, and in the report)."""
    lines = ["| passages | method | parameters | build s | p50 ms | p95 ms | recall@10 | memory MB |",
             "|---:|---|---|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r.size:,} | {r.method} | {r.params} | {r.build_s:.1f} | {r.p50_ms:.3f} | "
                     f"{r.p95_ms:.3f} | {r.recall_at_10:.3f} | {r.memory_mb:.0f} ({r.memory_note}) |")
    return "\n".join(lines)


def per_size(shapes: dict[int, dict[str, float]], show: Callable[[dict[str, float]], str]) -> str:
    """One figure per corpus size, for the notes under the table."""
    return "; ".join(f"{size:,}: {show(values)}" for size, values in shapes.items())


def report(rows: Sequence[Row], shapes: dict[int, dict[str, float]], args: argparse.Namespace,
           wall_s: float) -> str:
    """The Markdown results: the command, the table, and what a reader needs to judge it."""
    import faiss
    import psycopg

    loads = {r.size: r.extra for r in rows if r.method.startswith("pgvector")}
    notes = [
        f"Run {datetime.now():%Y-%m-%d %H:%M}, project {revision()}, {wall_s / 60:.1f} min in all.",
        f"Machine: {machine()}.",
        (f"Libraries: faiss {faiss.__version__}, PostgreSQL 16 + pgvector from pgserver, "
         f"psycopg {psycopg.__version__}."),
        (f"Data: {args.dim}-d unit float32 vectors from a mixture of {CLUSTERS:,} Gaussian clusters "
         f"(log-normal sizes, spread 0.7-1.3), seed {SEED}; {args.queries} queries, fresh draws "
         "from the same mixture. Mean cosine of a query's 1st / 10th exact neighbour: "
         + per_size(shapes, lambda v: f"{v['top1_cosine_mean']:.3f} / {v['top10_cosine_mean']:.3f}")
         + "."),
        ("15-minute load average after each size (the benchmark itself keeps one or two of the "
         "2 cores busy; more means other work competed): "
         + per_size(shapes, lambda v: f"{v['load_avg_15min_after']:.2f}") + "."),
        (f"Latency: one query at a time after {WARM_UP} untimed ones; FAISS in-process "
         f"({faiss.omp_get_max_threads()} OpenMP threads), pgvector over a Unix socket with a "
         "prepared statement (the client-server round trip is included, as the bot would pay it)."),
        "Recall@10: share of the exact inner-product top 10 (FAISS flat, batched) returned.",
        ("Build: FAISS flat = add; FAISS HNSW = add on 2 OpenMP threads; pgvector = CREATE INDEX "
         "after loading (max_parallel_maintenance_workers 1, maintenance_work_mem "
         f"{args.maintenance_work_mem}, shared_buffers {args.shared_buffers}). pgvector loading "
         "(binary COPY + VACUUM ANALYZE): "
         + "; ".join(f"{size:,}: {extra['load_s']:.1f} s" for size, extra in loads.items()) + "."),
        ("Memory: FAISS = serialised index size (what it holds in RAM); pgvector = HNSW index "
         "relation size, with the table (heap) and total relation sizes beside it."),
    ]
    command = "python -m benchmarks.speed.vector_indexes " + " ".join(
        ["--sizes", *map(str, args.sizes), "--queries", str(args.queries), "--dim", str(args.dim)])
    return ("# Vector indexes: FAISS flat, FAISS HNSW, pgvector HNSW\n\n"
            f"`{command}`\n\n" + table(rows) + "\n\n" + "\n".join(f"- {n}" for n in notes) + "\n")


def parse_args() -> argparse.Namespace:
    """Command-line options; the defaults are the issue's sizes and the bot's vector size."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--faiss-ef", type=int, nargs="+", default=[40, 64, 100, 128])
    parser.add_argument("--pg-ef", type=int, nargs="+", default=[40, 100])
    parser.add_argument("--data", type=Path, default=None,
                        help="Postgres data folder to use and keep (default: a temporary one, removed)")
    parser.add_argument("--shared-buffers", default="6GB",
                        help="enough to hold the 1M table and index, as a tuned server would")
    parser.add_argument("--maintenance-work-mem", default="8GB",
                        help="enough for the 1M HNSW graph to be built in memory")
    parser.add_argument("--out", type=Path, default=PROJECT / "benchmarks/results/vector_indexes.md")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    return parser.parse_args()


def main() -> None:
    """One server for all sizes; each size's table is printed as soon as it is measured."""
    args = parse_args()
    started = time.perf_counter()
    rows: list[Row] = []
    shapes: dict[int, dict[str, float]] = {}
    with postgres(args.data, args.shared_buffers, args.maintenance_work_mem) as uri:
        for size in args.sizes:
            size_rows, shapes[size] = run_size(size, args, uri)
            rows += size_rows
            print(table(size_rows), flush=True)  # partial results survive a later failure
    text = report(rows, shapes, args, time.perf_counter() - started)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    log(f"wrote {args.out}")
    if args.json:
        print(json.dumps(finite({"rows": [asdict(r) for r in rows], "data": shapes}), indent=2))
    else:
        print(text)


if __name__ == "__main__":
    main()
