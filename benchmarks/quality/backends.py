#!/usr/bin/env python
"""The two backends side by side on a real benchmark: retrieval quality and answer latency.

Builds the same knowledge base (a BEIR folder of ../shared/eval) once on the embedded backend
(SQLite + exact FAISS + BM25) and once on PostgreSQL (pgvector HNSW + tsvector, a pgserver
PostgreSQL 16 started here), through the bot's own ingest, and scores every query with the
same code as `crisisbot eval`; then times `CrisisBot.ask` (embedding, hybrid retrieval, gate,
composition) for the first N queries on each, one at a time, model warm.

    .venv/bin/python -m benchmarks.quality.backends [--dataset realtimeqa-dev] [--asks 200]
        [--cache PATH/embeddings.sqlite3] [--shared PATH]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import add_shared_option, make_log, revision

log = make_log("backends")


def ask_latencies(data_dir: Path, database_url: str | None, questions: list[str]) -> list[float]:
    from bot.runtime.service import CrisisBot
    from bot.runtime.settings import load_settings

    bot = CrisisBot(load_settings(data_dir=data_dir, load_builtin_knowledge=False, database_url=database_url,
                                  embedding_cache=False))
    try:
        for question in questions[:10]:  # warm: model, pools, caches
            bot.ask(question)
        seconds = []
        for question in questions:
            started = time.perf_counter()
            bot.ask(question)
            seconds.append(time.perf_counter() - started)
        return seconds
    finally:
        bot.close()


def ms(values: list[float], q: int) -> float:
    return 1000 * statistics.quantiles(values, n=100)[q - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_shared_option(parser)
    parser.add_argument("--dataset", default="realtimeqa-dev")
    parser.add_argument("--asks", type=int, default=200)
    parser.add_argument("--cache", type=Path, help="an embeddings.sqlite3 to reuse passage vectors from")
    args = parser.parse_args()

    import pgserver

    from bot.runtime.evaluation import evaluate, load_dataset

    folder = Path(args.shared) / "eval" / args.dataset
    questions = [q.text for q in load_dataset(folder).queries[: args.asks]]
    rows: list[tuple[str, dict[str, Any], float, list[float]]] = []
    with tempfile.TemporaryDirectory(prefix="crisisbot-backends-") as tmp:
        root = Path(tmp)
        server = pgserver.get_server(root / "postgres", cleanup_mode="delete")
        try:
            server.psql("CREATE DATABASE bench;")
            for name, url in (("embedded (SQLite + FAISS flat + BM25)", None),
                              ("PostgreSQL (pgvector HNSW + tsvector)", str(server.get_uri("bench")))):
                keep = root / ("kb-sqlite" if url is None else "kb-postgres")
                started = time.perf_counter()
                result = evaluate(folder, keep=keep, embedding_cache=args.cache, database_url=url)
                build = time.perf_counter() - started
                log(f"{name}: {result['metrics']} in {build:.0f} s")
                seconds = ask_latencies(keep, url, questions)
                log(f"{name}: ask p50 {ms(seconds, 50):.1f} ms, p95 {ms(seconds, 95):.1f} ms")
                rows.append((name, result, build, seconds))
        finally:
            server.cleanup()

    print(f"# Backends on {args.dataset} ({rows[0][1]['documents']:,} documents, "
          f"{rows[0][1]['passages']:,} passages, {rows[0][1]['queries']:,} queries)\n")
    print("| backend | nDCG@10 | recall@10 | recall@100 | MRR@10 | ask p50 ms | ask p95 ms | build + eval s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, result, build, seconds in rows:
        m = result["metrics"]
        print(f"| {name} | {m['nDCG@10']:.3f} | {m['Recall@10']:.3f} | {m['Recall@100']:.3f} | {m['MRR@10']:.3f} "
              f"| {ms(seconds, 50):.1f} | {ms(seconds, 95):.1f} | {build:.0f} |")
    print(f"\n- project {revision()}; ask latency over the first {len(questions)} queries, one at a time, "
          "model warm; retrieval metrics over all queries, dated as `crisisbot eval` dates them.")


if __name__ == "__main__":
    main()
