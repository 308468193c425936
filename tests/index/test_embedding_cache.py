"""The embedding cache on real SQLite files, alone and wired into the bot's writer."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from bot.core.answer_sentences import answer_sentence_spans

from bot.runtime.service import CrisisBot
from bot.runtime.settings import Settings
from index.embedding_cache import CachedEmbedder, EmbeddingCache, text_key
from tests.fakes import HashingEmbedder
from tests.index.conftest import doc

TEXTS = [
    "Ukraine received new air defence systems.",
    "Gas prices rose sharply in Europe.",
    "Grain exports resumed through the Black Sea corridor.",
]
STORY = (
    "Ukraine received new air defence systems. Officials said more would follow in spring. "
    "Gas prices rose sharply in Europe after the pipeline was damaged."
)


class CountingEmbedder:
    """Wraps the fake and records every batch it is asked to embed."""

    def __init__(self, inner: HashingEmbedder | None = None) -> None:
        self.inner = inner or HashingEmbedder()
        self.name = self.inner.name
        self.dimension = self.inner.dimension
        self.batches: list[list[str]] = []

    @property
    def texts(self) -> int:
        return sum(len(batch) for batch in self.batches)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed(self, texts: list[str]) -> np.ndarray:
        self.batches.append(list(texts))
        return self.inner.embed(texts)


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[EmbeddingCache]:
    cache = EmbeddingCache(tmp_path / "embeddings.sqlite3")
    yield cache
    cache.close()


def rows(path: Path) -> list[tuple[str, bytes, int, bytes]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT model, text_sha256, dimension, vector FROM vectors").fetchall()


# -- the cache alone ---------------------------------------------------------------------------


def test_a_second_embed_of_the_same_texts_calls_the_model_zero_times(cache: EmbeddingCache) -> None:
    inner = CountingEmbedder()
    embedder = CachedEmbedder(inner, cache)
    first = embedder.embed(TEXTS)
    second = embedder.embed(TEXTS)
    assert len(inner.batches) == 1 and inner.texts == 3
    assert (embedder.hits, embedder.misses) == (3, 3)
    assert second.dtype == np.float32 and second.shape == (3, inner.dimension)
    np.testing.assert_array_equal(first, second)


def test_mixed_hits_and_misses_keep_order_and_values(cache: EmbeddingCache) -> None:
    inner = CountingEmbedder()
    embedder = CachedEmbedder(inner, cache)
    embedder.embed([TEXTS[1]])
    texts = [TEXTS[0], TEXTS[1], TEXTS[2], TEXTS[0], "Another story entirely."]
    vectors = embedder.embed(texts)
    # One call for the misses, in input order, each distinct text once.
    assert inner.batches[1:] == [[TEXTS[0], TEXTS[2], "Another story entirely."]]
    np.testing.assert_allclose(vectors, HashingEmbedder().embed(texts), rtol=0, atol=1e-7)
    assert (embedder.hits, embedder.misses) == (1, 4)


def test_an_empty_batch_has_the_model_shape(cache: EmbeddingCache) -> None:
    inner = CountingEmbedder()
    vectors = CachedEmbedder(inner, cache).embed([])
    assert vectors.shape == (0, inner.dimension) and vectors.dtype == np.float32


def test_another_model_name_does_not_hit(cache: EmbeddingCache) -> None:
    CachedEmbedder(CountingEmbedder(), cache).embed(TEXTS)
    other = CountingEmbedder(HashingEmbedder(name="other-model"))
    CachedEmbedder(other, cache).embed(TEXTS)
    assert other.texts == 3
    assert cache.lookup("other-model", 64, TEXTS).keys() == {0, 1, 2}
    assert cache.lookup("never-seen", 64, TEXTS) == {}


def test_rows_of_the_wrong_size_or_not_finite_are_ignored_then_mended(tmp_path: Path) -> None:
    path = tmp_path / "embeddings.sqlite3"
    cache = EmbeddingCache(path)
    bad = [
        (32, np.ones(32, dtype="<f4").tobytes()),  # another dimension
        (64, np.ones(60, dtype="<f4").tobytes()),  # says 64, holds 60
        (64, np.full(64, np.nan, dtype="<f4").tobytes()),  # not finite
    ]
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO vectors VALUES ('hashing-test', ?, ?, ?)",
            [(text_key(text), dimension, blob) for text, (dimension, blob) in zip(TEXTS, bad)],
        )
    assert cache.lookup("hashing-test", 64, TEXTS) == {}
    inner = CountingEmbedder()
    embedder = CachedEmbedder(inner, cache)
    vectors = embedder.embed(TEXTS)
    assert inner.texts == 3 and np.isfinite(vectors).all()
    embedder.embed(TEXTS)
    assert inner.texts == 3  # the bad rows were replaced by good ones
    cache.close()


def test_a_corrupt_file_is_moved_aside_and_the_cache_works(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "embeddings.sqlite3"
    garbage = b"this is not a database\x00\xff" * 200
    path.write_bytes(garbage)
    with caplog.at_level(logging.WARNING, logger="index.embedding_cache"):
        cache = EmbeddingCache(path)
    assert str(path) in caplog.text and "corrupt" in caplog.text
    aside = list(tmp_path.glob("embeddings.sqlite3.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == garbage
    inner = CountingEmbedder()
    CachedEmbedder(inner, cache).embed(TEXTS)
    CachedEmbedder(inner, cache).embed(TEXTS)
    assert inner.texts == 3
    cache.close()


def test_an_unusable_path_only_costs_embedding(tmp_path: Path) -> None:
    path = tmp_path / "embeddings.sqlite3"
    path.mkdir()  # a folder where the file should be: cannot be opened, must not be moved
    cache = EmbeddingCache(path)
    assert not cache.available
    inner = CountingEmbedder()
    embedder = CachedEmbedder(inner, cache)
    first, second = embedder.embed(TEXTS), embedder.embed(TEXTS)
    np.testing.assert_array_equal(first, second)
    assert inner.texts == 6 and path.is_dir()


def test_two_caches_on_one_file_see_each_other(tmp_path: Path) -> None:
    path = tmp_path / "embeddings.sqlite3"
    one, two = EmbeddingCache(path), EmbeddingCache(path)
    first = CountingEmbedder()
    CachedEmbedder(first, one).embed(TEXTS[:2])
    second = CountingEmbedder()
    CachedEmbedder(second, two).embed(TEXTS)
    assert second.batches == [[TEXTS[2]]]
    assert one.lookup("hashing-test", 64, TEXTS).keys() == {0, 1, 2}
    one.close()
    two.close()


def test_large_lookups_are_chunked(cache: EmbeddingCache) -> None:
    texts = [f"Passage number {i} about the front line." for i in range(2500)]
    inner = CountingEmbedder()
    CachedEmbedder(inner, cache).embed(texts)
    assert len(cache.lookup("hashing-test", 64, texts)) == 2500
    CachedEmbedder(inner, cache).embed(texts)
    assert inner.texts == 2500


# -- wired into the bot ------------------------------------------------------------------------


def make_bot(settings: Settings, embedder: CountingEmbedder, cache_path: Path | None = None) -> CrisisBot:
    return CrisisBot(settings, embedder, embedding_cache_path=cache_path)  # type: ignore[arg-type]


def test_removing_and_adding_a_document_again_embeds_nothing(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(load_builtin_knowledge=False)
    embedder = CountingEmbedder()
    bot = make_bot(settings, embedder)
    report = bot.ingest([doc("story", STORY)])
    embedded = embedder.texts
    assert embedded == report.passages > 0
    bot.remove("story")
    again = bot.ingest([doc("story", STORY)])
    assert again.added == ["story"] and embedder.texts == embedded
    assert len(rows(settings.embedding_cache_path)) == embedded
    bot.close()


def test_reindex_of_an_unchanged_knowledge_base_embeds_nothing(
    make_settings: Callable[..., Settings],
) -> None:
    embedder = CountingEmbedder()
    bot = make_bot(make_settings(load_builtin_knowledge=False), embedder)
    bot.ingest([doc("story", STORY), doc("other", "Grain exports resumed through the corridor.")])
    embedded = embedder.texts
    bot.reindex()
    assert embedder.texts == embedded
    assert len(bot.index.vectors) == len(bot.store.passage_ids())
    bot.close()


def test_questions_are_never_cached(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(load_builtin_knowledge=False)
    embedder = CountingEmbedder()
    bot = make_bot(settings, embedder)
    bot.ingest([doc("story", STORY)])
    passages = {text for _, text in bot.store.passage_texts()}
    question = "Which air defence systems did Ukraine receive?"
    bot.ask(question)
    assert any(question in batch for batch in embedder.batches)  # the model did see it
    # Cached: the passages, and the sentences of them that the answer weighed; nothing else.
    sentences = {text[a:b] for text in passages for a, b in answer_sentence_spans(text)}
    cached = {key for _, key, _, _ in rows(settings.embedding_cache_path)}
    assert {text_key(text) for text in passages} <= cached
    assert cached <= {text_key(text) for text in passages | sentences}
    assert text_key(question) not in cached
    bot.close()


def test_a_bot_can_use_another_folder_s_cache(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    """As `crisisbot eval` does: a throwaway knowledge base, the real folder's cache."""
    shared = tmp_path / "real" / "embeddings.sqlite3"
    embedder = CountingEmbedder()
    for run in ("first", "second"):
        settings = make_settings(data_dir=tmp_path / run, load_builtin_knowledge=False)
        bot = make_bot(settings, embedder, shared)
        bot.ingest([doc("story", STORY)])
        bot.close()
        assert not settings.embedding_cache_path.exists()
    assert len(embedder.batches) == 1 and shared.is_file()


def test_the_cache_can_be_turned_off(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRISISBOT_EMBEDDING_CACHE", "false")
    settings = make_settings(load_builtin_knowledge=False)
    assert settings.embedding_cache is False
    embedder = CountingEmbedder()
    bot = make_bot(settings, embedder)
    bot.ingest([doc("story", STORY)])
    embedded = embedder.texts
    bot.remove("story")
    bot.ingest([doc("story", STORY)])
    assert embedder.texts == 2 * embedded
    assert not settings.embedding_cache_path.exists()
    assert not list(settings.data_dir.glob("embeddings*"))
    bot.close()


SCHEMA_1 = """CREATE TABLE vectors (model TEXT NOT NULL, text_sha256 BLOB NOT NULL, dimension INTEGER NOT NULL,
    vector BLOB NOT NULL, PRIMARY KEY (model, text_sha256)) WITHOUT ROWID"""


def test_a_schema_1_file_keeps_its_vectors_in_the_rowid_table(tmp_path: Path) -> None:
    path = tmp_path / "embeddings.sqlite3"
    vectors = HashingEmbedder().embed(TEXTS)
    with sqlite3.connect(path) as db:
        db.execute(SCHEMA_1)
        db.executemany("INSERT INTO vectors VALUES ('hashing-test', ?, 64, ?)",
                       [(text_key(t), v.astype("<f4").tobytes()) for t, v in zip(TEXTS, vectors)])
        db.execute("PRAGMA user_version=1")
    cache = EmbeddingCache(path)
    found = cache.lookup("hashing-test", 64, TEXTS)
    assert sorted(found) == [0, 1, 2] and all(np.array_equal(found[i], vectors[i]) for i in found)
    cache.store("hashing-test", TEXTS[:1], vectors[:1] * 0.5)  # REPLACE still finds the row it mends
    assert np.array_equal(cache.lookup("hashing-test", 64, TEXTS[:1])[0], vectors[0] * 0.5)
    cache.close()
    with sqlite3.connect(path) as db:
        sql = db.execute("SELECT sql FROM sqlite_master WHERE name = 'vectors'").fetchone()[0]
        assert "WITHOUT ROWID" not in sql.upper() and "UNIQUE" in sql.upper()
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2
        assert db.execute("SELECT count(*) FROM vectors").fetchone()[0] == 3


def test_a_file_of_a_newer_schema_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "embeddings.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(SCHEMA_1)
        db.execute("PRAGMA user_version=3")
    cache = EmbeddingCache(path)
    assert not cache.available
    with sqlite3.connect(path) as db:
        assert "WITHOUT ROWID" in db.execute("SELECT sql FROM sqlite_master WHERE name = 'vectors'").fetchone()[0]
