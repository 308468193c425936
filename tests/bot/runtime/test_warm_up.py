"""A serving bot builds what retrieval needs before its first question (`CrisisBot.warm_up`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.runtime.service import CrisisBot
from bot.runtime.settings import load_settings
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


def test_closing_waits_for_a_background_rebuild_before_closing_the_store(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import threading

    from index.lexical import LexicalIndex

    bot = CrisisBot(load_settings(data_dir=tmp_path / "data"), HashingEmbedder())
    bot.warm_up()
    entered, release = threading.Event(), threading.Event()
    lexical = bot.retriever.lexical
    assert isinstance(lexical, LexicalIndex)
    lexical._matrix.slow_after = 0.0  # every rebuild after the first runs in the background
    original = lexical._build

    def slow_build(generation: int) -> object:
        entered.set()
        assert release.wait(30)
        return original(generation)

    lexical._matrix._build = slow_build  # type: ignore[method-assign]
    bot.ingest(bot.read([_article(tmp_path)], "test").documents)
    bot.ask(QUESTION)  # starts the rebuild behind, answers from the old build
    assert entered.wait(30)
    threading.Timer(0.2, release.set).start()
    bot.close()  # waits for the rebuild, then closes the store it reads
    assert lexical.wait_for_build(30)
    assert "building in the background failed" not in caplog.text


def _article(folder: Path) -> Path:
    path = folder / "ferry.md"
    path.write_text("---\ntitle: Ferry service resumes\npublished: 2024-11-20\n---\n\n"
                    "The ferry between Izmail and the Romanian bank resumed service on Monday.\n",
                    encoding="utf-8")
    return path
