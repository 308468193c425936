"""The `discord_server` fixture: a fresh stand-in Discord (gateway + REST) per test on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tests.discord_server import FakeDiscord


@pytest_asyncio.fixture
async def discord_server() -> AsyncIterator[FakeDiscord]:
    """Function scope so that messages, interactions, recorded calls and failures never leak.

    Point discord.py at it with `discord_server.patch_client_urls(monkeypatch)` before login.
    """
    server = FakeDiscord()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
