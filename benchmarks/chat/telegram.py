#!/usr/bin/env python
"""Telegram latency: from an update pushed to the stand-in Bot API to the answer it receives.

The real python-telegram-bot Application long-polls the stand-in server of the test suite
(`tests/telegram_server.py`, 127.0.0.1 only) and answers N different questions over the seed
knowledge base; for each, the time from `push_update` to the `sendMessage` carrying its answer.
Questions are sent one at a time so the figure is latency, not queueing.

    .venv/bin/python -m benchmarks.chat.telegram [--questions 50] [--shared PATH]
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.chat import latency

if TYPE_CHECKING:
    from bot.runtime.service import CrisisBot
    from tests.telegram_server import FakeTelegram


def to_chat(chat: int) -> Callable[[Any], bool]:
    return lambda request: bool(request.params.get("chat_id") == chat)


@asynccontextmanager
async def running_bot(open_service: Callable[..., CrisisBot]) -> AsyncIterator[tuple[FakeTelegram, CrisisBot]]:
    """The stand-in Bot API and the real Application long-polling it, over the service that
    `open_service(TELEGRAM_BOT_TOKEN=…, telegram_api_url=…)` opens; all stopped afterwards."""
    from bot.adapters.telegram.app import build_application
    from tests.telegram_server import FakeTelegram

    server = FakeTelegram()
    await server.start()
    service = open_service(TELEGRAM_BOT_TOKEN=server.token, telegram_api_url=server.base_url)
    application = build_application(service, service.settings.telegram)
    await application.initialize()
    await application.start()
    assert application.updater is not None
    await application.updater.start_polling(poll_interval=0, timeout=10)
    try:
        yield server, service
    finally:
        await application.updater.stop()
        await application.stop()
        await application.shutdown()
        await server.stop()
        service.close()


async def measure(texts: list[str], data_dir: Path) -> list[tuple[float, bool]]:
    results: list[tuple[float, bool]] = []
    async with running_bot(partial(latency.open_service, data_dir, texts[0])) as (server, _):
        for number, text in enumerate(texts):
            start_index = len(server.requests)
            chat = 10_000 + number
            started = time.perf_counter()
            server.push_update(server.private_message(text, user_id=chat))
            reply = await server.wait_for("sendMessage", to_chat(chat), after=start_index, timeout=60)
            results.append((time.perf_counter() - started, "no answer" not in reply.params["text"]))
    return results


if __name__ == "__main__":
    raise SystemExit(latency.main("telegram: update pushed -> answer sent (long polling)", measure, __doc__))
