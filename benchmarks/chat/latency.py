"""What the chat-latency benchmarks share: the questions, the run, and the printed table.

Each platform script supplies only `measure(questions, data_dir)`, which times N questions
through its stand-in server and returns (seconds, answered) per question.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path

from benchmarks.common import add_shared_option, percentile, read_jsonl

Measure = Callable[[list[str], Path], Coroutine[object, object, list[tuple[float, bool]]]]

QUESTIONS_FILE = Path("eval/realtimeqa-dev/queries.jsonl")
SEED_QUESTIONS = [
    "How many North Korean troops arrived in Russia?",
    "so how many troops did NK send??",
    "What did Macron call North Korea's support?",
    "Which missiles can Ukraine now fire at Russian positions?",
    "When did Zelensky congratulate Trump?",
]


def questions(shared: Path, count: int) -> list[str]:
    """Seed-article questions first (answered), then distinct realtimeqa-dev ones (mostly declined)."""
    chosen = list(SEED_QUESTIONS)
    for record in read_jsonl(shared / QUESTIONS_FILE):
        if len(chosen) >= count:
            break
        if record["text"] not in chosen:
            chosen.append(record["text"])
    return chosen[:count]


def main(title: str, measure: Measure, description: str | None) -> int:
    parser = argparse.ArgumentParser(description=(description or "").splitlines()[0])
    add_shared_option(parser)
    parser.add_argument("--questions", type=int, default=50)
    args = parser.parse_args()
    texts = questions(args.shared, args.questions)
    with tempfile.TemporaryDirectory() as folder:
        results = asyncio.run(measure(texts, Path(folder)))
    ms = [seconds * 1000 for seconds, _ in results]
    print(f"{title}, {len(ms)} questions, stand-in server on 127.0.0.1")
    groups = {"all": ms, "answered": [m for m, (_, f) in zip(ms, results) if f],
              "declined": [m for m, (_, f) in zip(ms, results) if not f]}
    for name, values in groups.items():
        if values:
            print(f"  {name:9s} n={len(values):3d}  p50 {percentile(values, 50):6.1f} ms   "
                  f"p95 {percentile(values, 95):6.1f} ms   mean {statistics.fmean(values):6.1f} ms")
    return 0
