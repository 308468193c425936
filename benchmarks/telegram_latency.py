#!/usr/bin/env python
"""Telegram latency: from an update pushed to the stand-in Bot API to the answer it receives.

The real python-telegram-bot Application long-polls the stand-in server of the test suite
(`tests/telegram_server.py`, 127.0.0.1 only) and answers N different questions over the seed
knowledge base; for each, the time from `push_update` to the `sendMessage` carrying its answer.
Questions are sent one at a time so the figure is latency, not queueing.

    .venv/bin/python benchmarks/telegram_latency.py [--questions 50] [--shared PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import PROJECT, add_shared_option, percentile, read_jsonl

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


def _to_chat(chat: int) -> Callable[[Any], bool]:
    return lambda request: bool(request.params.get("chat_id") == chat)


async def measure(texts: list[str], data_dir: Path) -> list[tuple[float, bool]]:
    import sys

    sys.path.insert(0, str(PROJECT))
    from bot.service import CrisisBot
    from bot.settings import load_settings
    from bot.telegram.app import build_application
    from tests.telegram_server import FakeTelegram

    server = FakeTelegram()
    await server.start()
    settings = load_settings(
        data_dir=data_dir, TELEGRAM_BOT_TOKEN=server.token, telegram_api_url=server.base_url,
        questions_per_minute=1000,
    )
    service = CrisisBot(settings)
    service.open()
    service.ask(texts[0])  # load the model before timing
    application = build_application(service, settings)
    await application.initialize()
    await application.start()
    assert application.updater is not None
    await application.updater.start_polling(poll_interval=0, timeout=10)
    results: list[tuple[float, bool]] = []
    try:
        for number, text in enumerate(texts):
            start_index = len(server.requests)
            chat = 10_000 + number
            started = time.perf_counter()
            server.push_update(server.private_message(text, user_id=chat))
            reply = await server.wait_for("sendMessage", _to_chat(chat), after=start_index, timeout=60)
            results.append((time.perf_counter() - started, "no answer" not in reply.params["text"]))
    finally:
        await application.updater.stop()
        await application.stop()
        await application.shutdown()
        await server.stop()
        service.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add_shared_option(parser)
    parser.add_argument("--questions", type=int, default=50)
    args = parser.parse_args()
    texts = questions(args.shared, args.questions)
    with tempfile.TemporaryDirectory() as folder:
        results = asyncio.run(measure(texts, Path(folder)))
    ms = [seconds * 1000 for seconds, _ in results]
    answered = sum(found for _, found in results)
    print(f"telegram: update pushed -> answer sent, {len(ms)} questions ({answered} answered, "
          f"{len(ms) - answered} declined), stand-in Bot API on 127.0.0.1, long polling")
    groups = {"all": ms, "answered": [m for m, (_, f) in zip(ms, results) if f],
              "declined": [m for m, (_, f) in zip(ms, results) if not f]}
    for name, values in groups.items():
        if values:
            print(f"  {name:9s} n={len(values):3d}  p50 {percentile(values, 50):6.1f} ms   "
                  f"p95 {percentile(values, 95):6.1f} ms   mean {statistics.fmean(values):6.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
