"""What the chat-latency benchmarks share: the questions, the bot, the run, and the printed table.

Each platform module supplies only `measure(questions, data_dir)`, which times N questions
through its stand-in server and returns (seconds, answered) per question.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.common import (
    REALTIMEQA_QUERIES,
    add_shared_option,
    percentile,
    read_jsonl,
)

if TYPE_CHECKING:
    from bot.runtime.service import CrisisBot

Measure = Callable[[list[str], Path], Coroutine[object, object, list[tuple[float, bool]]]]

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
    for record in read_jsonl(shared / REALTIMEQA_QUERIES):
        if len(chosen) >= count:
            break
        if record["text"] not in chosen:
            chosen.append(record["text"])
    return chosen[:count]


def open_service(data_dir: Path, first_question: str, unlimited: bool = True, **settings: Any) -> CrisisBot:
    """The bot over an empty data folder with its model loaded by one untimed question, so the
    first timed answer is not the one that pays for loading it; no rate limit in the way unless
    `unlimited` is False (the default limits: the flood benchmark measures them)."""
    from bot.runtime.service import CrisisBot
    from bot.runtime.settings import load_settings

    if unlimited:
        settings = {"questions_per_minute": 1000, **settings}
    service = CrisisBot(load_settings(data_dir=data_dir, **settings))
    service.open()
    service.ask(first_question)
    return service


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
