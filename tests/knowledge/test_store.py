"""The knowledge store on both backends (SQLite, PostgreSQL): writes, replacements, removals,
rollbacks and read-backs."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from knowledge.chunking import ChunkingPolicy, chunk_document
from knowledge.documents import Document, Kind
from knowledge.errors import StoreError
from knowledge.readers import read_markdown
from knowledge.postgres.database import PostgresDatabase
from knowledge.postgres.store import PostgresStore
from knowledge.store import SqliteStore
from knowledge.store_interface import KnowledgeStore, NewDocument
from tests.fakes import HashingEmbedder

EMBEDDER = HashingEmbedder(dimension=384)  # PostgreSQL's vector(384) column
MODEL = EMBEDDER.name
SMALL = ChunkingPolicy(target_tokens=12, max_sentences=2)
TEXT = "Kyiv was shelled at dawn. Air defence shot down drones. Power returned by noon. Schools reopened."


def new(id: str, text: str = TEXT, url: str | None = None, **fields: object) -> NewDocument:
    document = Document(id=id, title=f"Title {id}", text=text, url=url, **fields)  # type: ignore[arg-type]
    passages = chunk_document(document, EMBEDDER.count_tokens, SMALL)
    return NewDocument(document, passages, EMBEDDER.embed([p.text for p in passages]))


@pytest.fixture
def store(tmp_path: Path, database_url: str | None) -> Iterator[KnowledgeStore]:
    if database_url is None:
        opened: KnowledgeStore = SqliteStore(tmp_path / "store" / "knowledge.sqlite3")
        yield opened
        opened.close()
        return
    database = PostgresDatabase(database_url)
    yield PostgresStore(database)
    database.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "store" / "knowledge.sqlite3")
    yield opened
    opened.close()


def ids_of(store: KnowledgeStore) -> list[int]:
    return [int(i) for i in store.passage_ids()]


def test_write_and_read_back(store: KnowledgeStore) -> None:
    item = new("a", url="https://a.example", kind=Kind.NEWS, published="2022-03-01", publisher="P")
    other = new("b", text="A second, shorter document.", published="2022-04-01")
    result = store.write_documents([item, other], MODEL)
    assert result.added == ["a", "b"] and result.replaced == [] and result.unchanged == []
    assert len(item.passages) >= 2
    assert ids_of(store) == result.added_passage_ids
    assert store.document_count() == 2 and store.embedding_model() == MODEL

    listing = {d.id: d for d in store.documents()}
    assert [d.id for d in store.documents()] == ["b", "a"]  # newest publication first
    a = listing["a"]
    assert (a.title, a.url, a.kind, a.published, a.publisher) == (
        "Title a", "https://a.example", Kind.NEWS, "2022-03-01", "P")
    assert a.passage_count == len(item.passages) and listing["b"].passage_count == 1
    assert a.added_at  # filled in by the store

    first_ids = result.added_passage_ids[: len(item.passages)]
    stored = store.stored_passages(first_ids)
    assert sorted(stored) == first_ids
    for passage_id, written in zip(first_ids, item.passages):
        passage = stored[passage_id].passage
        assert (passage.id, passage.document_id, passage.ordinal) == (passage_id, "a", written.ordinal)
        assert (passage.text, passage.start, passage.end) == (written.text, written.start, written.end)
        assert stored[passage_id].document == replace(a, passage_count=0)  # no count here
    assert store.document_text("a") == TEXT

    vectors = store.vectors(result.added_passage_ids, EMBEDDER.dimension)
    expected = np.vstack([item.vectors, other.vectors]).astype(np.float32)
    assert vectors.dtype == np.float32
    np.testing.assert_array_equal(vectors, expected)
    np.testing.assert_array_equal(np.vstack(result.added_vectors), expected)
    reversed_ids = result.added_passage_ids[::-1]
    np.testing.assert_array_equal(store.vectors(reversed_ids, EMBEDDER.dimension), expected[::-1])
    assert dict(store.passage_texts()) == {
        i: p.text for i, p in zip(result.added_passage_ids, item.passages + other.passages)}


def test_seed_article_round_trip(store: SqliteStore, seed_path: Path) -> None:
    document = read_markdown(seed_path, "t")
    passages = chunk_document(document, EMBEDDER.count_tokens)
    vectors = EMBEDDER.embed([p.text for p in passages])
    result = store.write_documents([NewDocument(document, passages, vectors)], MODEL)
    stored = store.stored_passages(result.added_passage_ids)
    assert [stored[i].passage.text for i in result.added_passage_ids] == [p.text for p in passages]
    np.testing.assert_array_equal(store.vectors(result.added_passage_ids, EMBEDDER.dimension), vectors)
    assert store.known_hashes([document.sha256, "0" * 64]) == {document.sha256: document.id}


def test_wal_mode_and_reopen(sqlite_store: SqliteStore) -> None:
    store = sqlite_store
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.write_documents([new("a")], MODEL)
    store.close()
    reopened = SqliteStore(store.path)
    try:
        assert [d.id for d in reopened.documents()] == ["a"] and reopened.generation() == 1
        with sqlite3.connect(store.path) as raw:
            assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        reopened.close()


def test_same_text_under_another_id_is_unchanged(store: KnowledgeStore) -> None:
    store.write_documents([new("a")], MODEL)
    before = ids_of(store)
    result = store.write_documents([new("copy", url="https://elsewhere.example")], MODEL)
    assert result.unchanged == [("copy", "a")]
    assert result.added == [] and result.added_passage_ids == [] and result.removed_passage_ids == []
    assert [d.id for d in store.documents()] == ["a"] and ids_of(store) == before


def test_same_id_new_text_replaces(store: KnowledgeStore) -> None:
    first = store.write_documents([new("a")], MODEL)
    result = store.write_documents([new("a", text="Completely new words. And another sentence.")], MODEL)
    assert result.replaced == ["a"] and result.added == []
    assert result.removed_passage_ids == first.added_passage_ids
    assert ids_of(store) == result.added_passage_ids
    assert not set(result.added_passage_ids) & set(first.added_passage_ids)
    assert min(result.added_passage_ids) > max(first.added_passage_ids)
    assert store.stored_passages(first.added_passage_ids) == {}
    assert store.document_text("a").startswith("Completely new words.")


def test_ids_are_never_reused_after_removal(store: KnowledgeStore) -> None:
    first = store.write_documents([new("a")], MODEL)
    store.remove_document("a")
    again = store.write_documents([new("a")], MODEL)
    assert min(again.added_passage_ids) > max(first.added_passage_ids)


def test_same_url_under_another_id_replaces(store: KnowledgeStore) -> None:
    first = store.write_documents([new("old", url="https://x.example/a")], MODEL)
    result = store.write_documents([new("new", text="Updated report. More words.", url="https://x.example/a")], MODEL)
    assert result.replaced == ["old"]
    assert result.removed_passage_ids == first.added_passage_ids
    assert [d.id for d in store.documents()] == ["new"]


def test_documents_without_url_do_not_collide(store: KnowledgeStore) -> None:
    result = store.write_documents([new("a"), new("b", text="Different text entirely.")], MODEL)
    assert result.added == ["a", "b"] and result.replaced == []
    assert sorted(d.id for d in store.documents()) == ["a", "b"]


def test_replacement_inside_one_batch_reports_only_live_passages(store: KnowledgeStore) -> None:
    result = store.write_documents(
        [new("a", url="https://x.example/a"), new("b", text="Newer version. Of the same page.", url="https://x.example/a")],
        MODEL,
    )
    assert ids_of(store) == sorted(result.added_passage_ids)
    assert len(result.added_vectors) == len(result.added_passage_ids)
    assert [d.id for d in store.documents()] == ["b"]


def test_remove_document(store: KnowledgeStore) -> None:
    written = store.write_documents([new("a"), new("b", text="Other text. Still here.")], MODEL)
    a_ids = written.added_passage_ids[: len(new("a").passages)]
    result = store.remove_document("a")
    assert result.removed_passage_ids == a_ids and result.replaced == ["a"]
    assert result.generation == 2
    assert [d.id for d in store.documents()] == ["b"]
    assert not set(ids_of(store)) & set(a_ids)
    with pytest.raises(StoreError, match="no document with id 'a'"):
        store.remove_document("a")
    with pytest.raises(StoreError):
        store.document_text("a")
    assert store.generation() == 2  # the failed removal changed nothing


def test_generation_increases_by_one_per_write(sqlite_store: SqliteStore) -> None:
    store = sqlite_store
    assert store.generation() == 0
    assert store.write_documents([new("a")], MODEL).generation == 1
    assert store.write_documents([new("a")], MODEL).generation == 2  # unchanged still counts
    assert store.write_documents([], MODEL).generation == 3
    assert store.remove_document("a").generation == 4
    assert store.generation() == 4


def test_other_model_needs_reindex(store: KnowledgeStore) -> None:
    store.write_documents([new("a")], MODEL)
    with pytest.raises(StoreError, match="reindex"):
        store.write_documents([new("b", text="Something else.")], "another-model")
    assert store.document_count() == 1 and store.embedding_model() == MODEL and store.generation() == 1


def test_replace_embeddings_switches_model_and_vectors(store: KnowledgeStore) -> None:
    written = store.write_documents([new("a"), new("b", text="Other text. Still here.")], MODEL)
    ids = written.added_passage_ids
    fresh = np.random.default_rng(0).standard_normal((len(ids), EMBEDDER.dimension)).astype(np.float32)
    generation = store.replace_embeddings("model-2", iter([(ids[:2], fresh[:2]), (ids[2:], fresh[2:])]))
    assert generation == 2 and store.embedding_model() == "model-2"
    np.testing.assert_array_equal(store.vectors(ids, EMBEDDER.dimension), fresh)
    assert store.write_documents([new("c", text="Third text.")], "model-2").added == ["c"]
    with pytest.raises(StoreError, match="reindex"):
        store.write_documents([new("d", text="Fourth text.")], MODEL)


def test_failure_inside_a_batch_rolls_back_everything(store: KnowledgeStore) -> None:
    good, bad = new("good"), new("bad", text="Different words here. And here.")
    broken = NewDocument(bad.document, bad.passages, bad.vectors[:-1])  # one vector short
    with pytest.raises(ValueError, match="one vector per passage"):
        store.write_documents([good, broken], MODEL)
    assert store.document_count() == 0 and ids_of(store) == []
    assert store.generation() == 0 and store.embedding_model() is None
    assert store.known_hashes([good.document.sha256]) == {}
    # The store is still usable afterwards.
    assert store.write_documents([good], MODEL).added == ["good"]


def test_not_a_database_file(tmp_path: Path) -> None:
    path = tmp_path / "garbage.sqlite3"
    path.write_bytes(b"this is not a database at all\x00\x01\x02" * 200)
    with pytest.raises(StoreError, match="not a usable knowledge database"):
        SqliteStore(path)


def test_known_hashes(store: KnowledgeStore) -> None:
    items = [new(f"d{i}", text=f"Document number {i}. It has text.") for i in range(3)]
    store.write_documents(items, MODEL)
    hashes = [i.document.sha256 for i in items]
    assert store.known_hashes(hashes + ["f" * 64]) == {h: f"d{i}" for i, h in enumerate(hashes)}
    assert store.known_hashes([]) == {}


def test_set_kind_bumps_the_generation_and_refuses_unknown_ids(store: KnowledgeStore) -> None:
    store.write_documents([new("a")], MODEL)
    generation = store.generation()
    result = store.set_kind("a", Kind.FACT_CHECK)
    assert result.generation == store.generation() == generation + 1
    assert not result.added_passage_ids and not result.removed_passage_ids
    assert store.document_info("a").kind is Kind.FACT_CHECK
    with pytest.raises(StoreError, match="no document with id 'b'"):
        store.set_kind("b", Kind.NEWS)
    assert store.generation() == generation + 1


def test_documents_page_filters_in_sql_and_counts_all_matches(store: KnowledgeStore) -> None:
    store.write_documents([
        new("a", text="One.", publisher="Kyiv 100% Ledger", published="2024-11-20", kind=Kind.NEWS),
        new("b", text="Two.", publisher="Kyiv_Post", published="2024-11", kind=Kind.NEWS),
        new("c", text="Three.", publisher="ISW", published="2023", kind=Kind.ANALYSIS),
        new("d", text="Four.", publisher=None, published=None),
    ], MODEL)
    items, total = store.documents_page(0, 2)
    assert [d.id for d in items] == ["a", "b"] and total == 4
    items, total = store.documents_page(2, 2)
    assert [d.id for d in items] == ["c", "d"] and all(d.passage_count == 1 for d in items)
    assert [d.id for d in store.documents_page(0, 10, publisher="100%")[0]] == ["a"]
    assert [d.id for d in store.documents_page(0, 10, publisher="kyiv_")[0]] == ["b"]
    assert store.documents_page(0, 10, kind=Kind.ANALYSIS)[1] == 1
    assert [d.id for d in store.documents_page(0, 10, since="2024-11-25")[0]] == ["b"]
    assert [d.id for d in store.documents_page(0, 10, until="2024-06")[0]] == ["c"]
    assert store.documents_page(0, 10, since="2025") == ([], 0)
    assert store.first_passage_text("a") == "One." and store.first_passage_text("zzz") == ""
    with pytest.raises(StoreError):
        store.document_info("zzz")


def test_a_page_past_the_end_however_far_is_empty_not_an_overflow(store: KnowledgeStore) -> None:
    """Offsets and limits typed by people exceed SQL's 64-bit INTEGER: the page is just empty."""
    store.write_documents([new("a", text="One."), new("b", text="Two.")], MODEL)
    assert store.documents_page(10**20, 10) == ([], 2)
    assert store.documents_page(2**63, 2**63)[1] == 2
    assert [d.id for d in store.documents_page(0, 10**30)[0]] == ["a", "b"]
    assert [d.id for d in store.documents_page(-5, 1)[0]] == ["a"]


def test_postgres_generation_moves_with_each_committed_change_only(postgres_url: str) -> None:
    """Other processes compare the generation to know they are stale: every committed change
    moves it forward, and a rolled-back write leaves it where it was."""
    database = PostgresDatabase(postgres_url)
    store = PostgresStore(database)
    try:
        seen = [store.generation()]
        for write in (lambda: store.write_documents([new("a")], MODEL),
                      lambda: store.set_kind("a", Kind.ANALYSIS),
                      lambda: store.remove_document("a")):
            result = write()
            assert result.generation == store.generation() > seen[-1]
            seen.append(result.generation)
        broken = new("b")
        with pytest.raises(ValueError):
            store.write_documents([new("c", text="Other words."), NewDocument(broken.document, broken.passages, broken.vectors[:-1])], MODEL)
        assert store.generation() == seen[-1] and store.document_count() == 0
    finally:
        database.close()


def test_advance_meta_never_moves_back_even_when_processes_race(store: KnowledgeStore) -> None:
    """The digest's place: advanced by whichever process posted, never moved back."""
    import threading

    assert store.advance_meta("digest:x", "2026-11-20T09:00:00+00:00")
    assert not store.advance_meta("digest:x", "2026-11-13T09:00:00+00:00")
    assert store.get_meta("digest:x") == "2026-11-20T09:00:00+00:00"
    stamps = [f"2026-12-{day:02d}T09:00:00+00:00" for day in range(1, 29)]
    threads = [threading.Thread(target=lambda part=part: [store.advance_meta("digest:x", s) for s in part])
               for part in (stamps[::-1], stamps, stamps[::2])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert store.get_meta("digest:x") == stamps[-1]


def test_titled_passage_texts_read_in_pages(store: KnowledgeStore) -> None:
    result = store.write_documents([new("a"), new("b", text="A second, shorter document.")], MODEL)
    ids = result.added_passage_ids
    everything = store.titled_passage_texts()
    assert [r[0] for r in everything] == ids and everything[-1][1:] == ("Title b", "A second, shorter document.")
    pages, after = [], 0
    while page := store.titled_passage_texts(after=after, limit=2):
        assert len(page) <= 2
        pages += page
        after = page[-1][0]
    assert pages == everything
    assert store.titled_passage_texts(after=ids[-1]) == [] and store.titled_passage_texts(limit=0) == []
