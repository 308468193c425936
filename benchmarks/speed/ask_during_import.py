#!/usr/bin/env python
"""Does a big import hold answers back? `ask` latency idle, then while an import runs.

One run, on the embedded default (ONNX embeddings, SQLite + FAISS + BM25) in a temporary
data folder:

1. untimed set-up: `news-2022.jsonl` (397 documents) ingested and its answer sentences
   prepared, so questions about it are answered from cached sentence vectors;
2. idle: every question once (document titles of that file), one at a time;
3. during an import: `official-statements-2021-2022.jsonl` (1,796 documents, about 14,500
   passages) is ingested in one thread, as the knowledge thread of a chat process does, while
   the main thread asks the same questions over and over until the import ends. The import's
   passages/s with questions beside it is reported too, and the share of answers answered.

Run from the project root:

    .venv/bin/python -m benchmarks.speed.ask_during_import [--shared PATH] [--questions N] [--json]

Progress goes to stderr; the table (or JSON) to stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.common import STATEMENTS, add_shared_option, make_log, percentile, revision

NEWS = Path("corpus/news-2022.jsonl")
ADDED_BY = "benchmark"

log = make_log("import")


def timed_asks(bot: Any, questions: list[str]) -> tuple[list[float], int]:
    seconds, answered = [], 0
    for question in questions:
        started = time.perf_counter()
        answer = bot.ask(question)
        seconds.append(time.perf_counter() - started)
        answered += bool(answer.quotes)
    return seconds, answered


def figures(seconds: list[float], answered: int) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {"asked": len(ms), "answered": answered, "p50_ms": percentile(ms, 50),
            "p95_ms": percentile(ms, 95), "max_ms": max(ms) if ms else float("nan")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_shared_option(parser)
    parser.add_argument("--questions", type=int, default=150)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from bot.runtime.service import CrisisBot
    from bot.runtime.settings import load_settings

    with tempfile.TemporaryDirectory(prefix="crisisbot-import-") as folder:
        bot = CrisisBot(load_settings(data_dir=Path(folder), warm_answer_sentences=False))
        started = time.perf_counter()
        news = bot.read([args.shared / NEWS], ADDED_BY).documents
        bot.ingest(news)
        bot.embed_answer_sentences()
        log(f"set-up: {len(news)} documents, {bot.store.passage_count():,} passages, "
            f"answers prepared, {time.perf_counter() - started:.0f} s (embedding: "
            f"{getattr(bot.embedder, 'backend', 'torch')})")
        questions = [d.title for d in news if d.title][: args.questions]
        timed_asks(bot, questions[:5])  # warm-up

        idle = figures(*timed_asks(bot, questions))
        log(f"idle: p50 {idle['p50_ms']:.1f} ms, p95 {idle['p95_ms']:.1f} ms")

        statements = bot.read([args.shared / STATEMENTS], ADDED_BY).documents
        done = threading.Event()
        result: dict[str, Any] = {}

        def run_import() -> None:
            try:
                begun = time.perf_counter()
                report = bot.ingest(statements)
                result["seconds"] = time.perf_counter() - begun
                result["passages"] = report.passages
            finally:
                done.set()

        importer = threading.Thread(target=run_import, name="import")
        importer.start()
        rng = random.Random(1)
        seconds: list[float] = []
        answered = 0
        while not done.is_set():
            batch = rng.sample(questions, len(questions))
            for question in batch:
                if done.is_set():
                    break
                took, hit = timed_asks(bot, [question])
                seconds += took
                answered += hit
        importer.join()
        during = figures(seconds, answered)
        rate = result["passages"] / result["seconds"]
        log(f"during: p50 {during['p50_ms']:.1f} ms, p95 {during['p95_ms']:.1f} ms; import "
            f"{result['passages']:,} passages in {result['seconds']:.0f} s ({rate:.0f}/s)")
        bot.close()

    report = {"revision": revision(), "date": datetime.now().isoformat(timespec="seconds"),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores",
              "idle": idle, "during_import": during,
              "import": {"passages": result["passages"], "seconds": result["seconds"], "per_second": rate}}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"ask latency idle and during an import ({report['revision']}, {report['date']})\n")
    print("| when | asked | answered | p50 ms | p95 ms | max ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, row in (("idle", idle), ("during the import", during)):
        print(f"| {name} | {row['asked']} | {row['answered']} | {row['p50_ms']:.1f} | "
              f"{row['p95_ms']:.1f} | {row['max_ms']:.0f} |")
    print(f"\nimport: {result['passages']:,} passages in {result['seconds']:.0f} s "
          f"({rate:.0f} passages/s with questions asked beside it)")


if __name__ == "__main__":
    main()
