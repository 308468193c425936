"""The sentences answers quote are embedded ahead of questions, into the embedding cache, and
answers read them from there: the same answer, without embedding anything but the question."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bot.core.answer_sentences import AnswerSentences, answer_sentence_spans
from bot.runtime.service import CrisisBot
from bot.runtime.settings import load_settings
from index.embedder import SentenceTransformerEmbedder
from knowledge.errors import ConfigError
from tests.fakes import HashingEmbedder

QUESTION = "How many North Korean troops arrived in Russia?"


class CountingEmbedder:
    """Records every text it embeds (the real model underneath)."""

    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self.texts: list[str] = []

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed(self, texts: list[str]) -> np.ndarray:
        self.texts.extend(texts)
        return self.inner.embed(texts)


@pytest.fixture
def counting(real_embedder: SentenceTransformerEmbedder) -> CountingEmbedder:
    return CountingEmbedder(real_embedder)


def make_bot(folder: Path, embedder: object, **settings: object) -> CrisisBot:
    return CrisisBot(load_settings(data_dir=folder, **settings), embedder)  # type: ignore[arg-type]


@pytest.fixture
def bots() -> Iterator[list[CrisisBot]]:
    made: list[CrisisBot] = []
    yield made
    for bot in made:
        bot.close()


def test_spans_are_the_sentences_of_three_words_or_more() -> None:
    text = "Kyiv, Tuesday. Air raid sirens sounded across the city overnight. Then calm."
    assert [text[a:b] for a, b in answer_sentence_spans(text)] == [
        "Air raid sirens sounded across the city overnight."
    ]


def test_prepared_answers_embed_only_the_question_and_answer_the_same(
        tmp_path: Path, counting: CountingEmbedder, real_embedder: SentenceTransformerEmbedder,
        bots: list[CrisisBot]) -> None:
    plain = make_bot(tmp_path / "plain", real_embedder, embedding_cache=False)
    bots.append(plain)
    expected = plain.ask(QUESTION)
    assert expected.quotes

    bot = make_bot(tmp_path / "prepared", counting)
    bots.append(bot)
    first = bot.embed_answer_sentences()
    assert first > 0 and bot.embed_answer_sentences() == 0  # all there: nothing embedded again
    counting.texts.clear()
    answer = bot.ask(QUESTION)
    assert counting.texts == [QUESTION]  # the sentences came from the cache
    assert [q.text for q in answer.quotes] == [q.text for q in expected.quotes]
    assert [s.document.id for s in answer.sources] == [s.document.id for s in expected.sources]


def test_unprepared_sentences_are_embedded_when_an_answer_needs_them_then_kept(
        tmp_path: Path, counting: CountingEmbedder, bots: list[CrisisBot]) -> None:
    bot = make_bot(tmp_path / "data", counting)
    bots.append(bot)
    bot.open()
    counting.texts.clear()
    assert bot.ask(QUESTION).quotes
    assert len(counting.texts) > 1  # question and sentences
    counting.texts.clear()
    assert bot.ask(QUESTION + " ").quotes  # same sentences again: only the question now
    assert counting.texts == [QUESTION]


def test_new_passages_are_prepared_in_the_background_after_an_import(
        tmp_path: Path, counting: CountingEmbedder, bots: list[CrisisBot]) -> None:
    bot = make_bot(tmp_path / "data", counting, warm_answer_sentences=True, load_builtin_knowledge=False)
    bots.append(bot)
    document = bot.read([_article(tmp_path)], "test").documents
    report = bot.ingest(document)
    assert report.passage_ids
    assert bot.answer_sentences.wait(60)
    assert bot.embed_answer_sentences(report.passage_ids) == 0  # already there


def test_without_warming_an_import_prepares_nothing(
        tmp_path: Path, counting: CountingEmbedder, bots: list[CrisisBot]) -> None:
    bot = make_bot(tmp_path / "data", counting, load_builtin_knowledge=False)
    bots.append(bot)
    report = bot.ingest(bot.read([_article(tmp_path)], "test").documents)
    assert bot.answer_sentences.wait(5) and bot.embed_answer_sentences(report.passage_ids) > 0


def test_closing_stops_the_background_work(tmp_path: Path) -> None:
    bot = make_bot(tmp_path / "data", HashingEmbedder(), warm_answer_sentences=True)
    bot.open()
    sentences = bot.answer_sentences
    sentences.submit(bot.store.passage_ids().tolist())
    bot.close()  # joins the worker after the chunk in progress
    assert sentences._worker is None or not sentences._worker.is_alive()
    sentences.submit([1])  # after closing: ignored, no new thread
    assert sentences._worker is None or not sentences._worker.is_alive()
    assert isinstance(sentences, AnswerSentences)


def test_preparing_needs_the_cache(tmp_path: Path, bots: list[CrisisBot]) -> None:
    bot = make_bot(tmp_path / "data", HashingEmbedder(), embedding_cache=False)
    bots.append(bot)
    with pytest.raises(ConfigError, match="CRISISBOT_EMBEDDING_CACHE"):
        bot.embed_answer_sentences()


def test_the_command_prepares_answers(tmp_path: Path) -> None:
    env_run = [sys.executable, "-m", "bot", "prepare-answers"]
    done = subprocess.run(env_run, capture_output=True, text=True, timeout=300,
                          env={**_env(), "CRISISBOT_DATA_DIR": str(tmp_path / "data")})
    assert done.returncode == 0, done.stderr
    assert "answer sentences ready" in done.stdout
    again = subprocess.run(env_run, capture_output=True, text=True, timeout=300,
                           env={**_env(), "CRISISBOT_DATA_DIR": str(tmp_path / "data")})
    assert "(0 embedded now" in again.stdout


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


def _article(folder: Path) -> Path:
    path = folder / "ferry.md"
    path.write_text(
        "---\ntitle: Ferry service resumes\npublished: 2024-11-20\n---\n\n"
        "The ferry between Izmail and the Romanian bank resumed service on Monday after a week "
        "of repairs. Officials said the crossing carries about 400 trucks a day. Drivers "
        "reported waits of six hours at the border checkpoint.\n",
        encoding="utf-8",
    )
    return path

