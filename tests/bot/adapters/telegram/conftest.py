"""`make_service`: a service whose settings point python-telegram-bot at the stand-in Bot API
server (the `telegram_server` fixture of tests/bot/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.runtime.service import CrisisBot
from index.embedder import SentenceTransformerEmbedder
from tests.telegram_server import FakeTelegram


@pytest.fixture
def make_service(
    tmp_path: Path, real_embedder: SentenceTransformerEmbedder, telegram_server: FakeTelegram
) -> Callable[..., CrisisBot]:
    from bot.runtime.settings import load_settings

    def make(**overrides: Any) -> CrisisBot:
        overrides.setdefault("data_dir", tmp_path / "data")
        # The stand-in's default group is a moderator chat: its administrators are moderators.
        overrides.setdefault("telegram_moderator_chat_ids", "-100777")
        settings = load_settings(
            TELEGRAM_BOT_TOKEN=telegram_server.token, telegram_api_url=telegram_server.base_url, **overrides
        )
        service = CrisisBot(settings, real_embedder)
        service.open()
        return service

    return make
