"""Fixtures of the admin tests: a bot with the fast hashing embedder that may fetch from the
stand-in web server on 127.0.0.1 (`allow_private_urls`), no model judgement needed."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from bot.service import CrisisBot
from bot.settings import Settings
from tests.fakes import HashingEmbedder


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
