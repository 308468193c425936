"""Fixtures of the bot tests: the Telegram and Discord stand-in servers, and a bot with the fast
hashing embedder that may fetch from the stand-in web server on 127.0.0.1 (`allow_private_urls`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import pytest_asyncio

from bot.runtime.service import CrisisBot
from bot.runtime.settings import Settings
from tests.discord_server import FakeDiscord
from tests.fakes import HashingEmbedder
from tests.telegram_server import FakeTelegram


@pytest_asyncio.fixture
async def telegram_server() -> AsyncIterator[FakeTelegram]:
    """A fresh stand-in Bot API server per test on 127.0.0.1: queued updates, recorded
    requests and failures never leak between tests."""
    server = FakeTelegram()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest_asyncio.fixture
async def discord_server() -> AsyncIterator[FakeDiscord]:
    """A fresh stand-in Discord (gateway + REST) per test on 127.0.0.1: messages, interactions,
    recorded calls and failures never leak. Point discord.py at it with
    `discord_server.patch_client_urls(monkeypatch)` before login."""
    server = FakeDiscord()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def make_bot(make_backend_settings: Callable[..., Settings]) -> Iterator[Callable[..., CrisisBot]]:
    made: list[CrisisBot] = []

    def make(**overrides: object) -> CrisisBot:
        overrides.setdefault("load_builtin_knowledge", False)
        overrides.setdefault("allow_private_urls", True)
        bot = CrisisBot(make_backend_settings(**overrides), HashingEmbedder(dimension=384))
        made.append(bot)
        return bot

    yield make
    for bot in made:
        bot.close()


@pytest.fixture
def bot(make_bot: Callable[..., CrisisBot]) -> CrisisBot:
    return make_bot()
