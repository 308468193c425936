"""A serving bot builds what retrieval needs before its first question (`CrisisBot.warm_up`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.service import CrisisBot
from bot.settings import load_settings
from tests.fakes import HashingEmbedder

QUESTION = "How many North Korean troops arrived in Russia?"


def test_warming_up_builds_what_retrieval_needs_before_the_first_question(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from index.lexical import LexicalIndex

    built: list[int] = []
    original = LexicalIndex._build
    monkeypatch.setattr(LexicalIndex, "_build", lambda self, generation: built.append(generation)
                        or original(self, generation))
    bot = CrisisBot(load_settings(data_dir=tmp_path / "data"), HashingEmbedder())
    try:
        bot.warm_up()
        assert built == [bot.store.generation()]
        bot.ask(QUESTION)
        assert len(built) == 1  # the question found it built
    finally:
        bot.close()
