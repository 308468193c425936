"""The `telegram_server` fixture: a fresh stand-in Bot API server per test, on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tests.telegram_server import FakeTelegram


@pytest_asyncio.fixture
async def telegram_server() -> AsyncIterator[FakeTelegram]:
    """Function scope so that queued updates, recorded requests and failures never leak."""
    server = FakeTelegram()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
