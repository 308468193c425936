"""The `telegram_server` fixture: a fresh stand-in Bot API server per test, on 127.0.0.1, and
`make_service`: a service whose settings point python-telegram-bot at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.service import CrisisBot
from index.embedder import SentenceTransformerEmbedder
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


@pytest.fixture
def make_service(
    tmp_path: Path, real_embedder: SentenceTransformerEmbedder, telegram_server: FakeTelegram
) -> Callable[..., CrisisBot]:
    from bot.settings import load_settings

    def make(**overrides: Any) -> CrisisBot:
        overrides.setdefault("data_dir", tmp_path / "data")
        settings = load_settings(
            TELEGRAM_BOT_TOKEN=telegram_server.token, telegram_api_url=telegram_server.base_url, **overrides
        )
        service = CrisisBot(settings, real_embedder)
        service.open()
        return service

    return make
