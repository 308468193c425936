#!/usr/bin/env python
"""A bystander's answer latency while one person floods the bot, against idle (issue 17).

The real python-telegram-bot Application long-polls the stand-in Bot API (`tests/
telegram_server.py`, 127.0.0.1 only) with the default limits (5 questions a minute per person).
Idle: N bystanders (each a different person) ask one question each, one at a time, timed from
`push_update` to the `sendMessage` carrying their answer. Flood: the same, while one person
sends `--flood` messages (300), pushed in equal bursts just before each bystander's question,
so the flood lasts the whole measurement. The target: flood p95 within 2x of idle p95.

Before issue 17 every refused message was answered, and every reply went through the same
30-a-second budget (PTB's `AIORateLimiter`) as the bystanders' answers: 300 messages delayed
another person's answer from 0.5 s to 10.2 s.

    .venv/bin/python -m benchmarks.chat.flood [--bystanders 30] [--flood 300] [--shared PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.chat.latency import SEED_QUESTIONS, open_service
from benchmarks.chat.telegram import running_bot, to_chat
from benchmarks.common import machine, percentile, revision

if TYPE_CHECKING:
    from tests.telegram_server import FakeTelegram

FLOODER = 666
QUESTION = SEED_QUESTIONS[0]


async def _bystanders(server: FakeTelegram, count: int, first_user: int, flood: int) -> list[float]:
    """Seconds from each bystander's question to its answer; `flood` messages of the flooder
    are pushed before them, in equal bursts, one burst just before each question."""
    seconds: list[float] = []
    bursts = [flood // count + (1 if n < flood % count else 0) for n in range(count)]
    for number, burst in enumerate(bursts):
        for _ in range(burst):
            server.push_update(server.private_message(QUESTION, user_id=FLOODER))
        user = first_user + number
        start_index = len(server.requests)
        started = time.perf_counter()
        server.push_update(server.private_message(SEED_QUESTIONS[number % len(SEED_QUESTIONS)], user_id=user))
        await server.wait_for("sendMessage", to_chat(user), after=start_index, timeout=120)
        seconds.append(time.perf_counter() - started)
    return seconds


async def measure(data_dir: Path, bystanders: int, flood: int) -> tuple[list[float], list[float], int]:
    """(idle seconds, flood seconds, replies the flooder got), with the default limits."""
    async with running_bot(partial(open_service, data_dir, QUESTION, False)) as (server, _):
        idle = await _bystanders(server, bystanders, 10_000, 0)
        flood_start = len(server.requests)
        flooded = await _bystanders(server, bystanders, 20_000, flood)
        await asyncio.sleep(2)  # the flood's last replies, if any
        replies = len([r for r in server.requests[flood_start:] if r.method == "sendMessage"
                       and r.params.get("chat_id") == FLOODER])
    return idle, flooded, replies


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--bystanders", type=int, default=30)
    parser.add_argument("--flood", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        idle, flooded, replies = asyncio.run(measure(Path(folder), args.bystanders, args.flood))
    print(f"telegram: bystander answer latency, idle vs one person flooding {args.flood} messages "
          f"(stand-in server on 127.0.0.1); {revision()}; {machine()}")
    rows = {"idle": [s * 1000 for s in idle], "flood": [s * 1000 for s in flooded]}
    for name, ms in rows.items():
        print(f"  {name:5s} n={len(ms):3d}  p50 {percentile(ms, 50):7.1f} ms   p95 {percentile(ms, 95):7.1f} ms"
              f"   mean {statistics.fmean(ms):7.1f} ms")
    ratio = percentile(rows["flood"], 95) / percentile(rows["idle"], 95)
    print(f"  flood p95 / idle p95 = {ratio:.2f} (target <= 2.00); replies to the flooder: {replies}")
    return 0 if ratio <= 2.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
