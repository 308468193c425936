"""The multilingual table of the SQLite store (issue 20): a second vector per passage, written in
the passages' transaction, removed with them, filled later in atomic batches."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from knowledge.chunking import ChunkingPolicy, chunk_document
from knowledge.documents import Document
from knowledge.errors import StoreError
from knowledge.store import SqliteStore
from knowledge.store_interface import NewDocument
from tests.fakes import HashingEmbedder

MINILM = HashingEmbedder(dimension=16, name="minilm-test")
E5 = HashingEmbedder(dimension=8, name="e5-test")
SMALL = ChunkingPolicy(target_tokens=12, max_sentences=2)
TEXT = "Kyiv was shelled at dawn. Air defence shot down drones. Power returned by noon. Schools reopened."


def new(doc_id: str, text: str = TEXT, multilingual: bool = True) -> NewDocument:
    document = Document(id=doc_id, title=f"Title {doc_id}", text=text)
    passages = chunk_document(document, MINILM.count_tokens, SMALL)
    texts = [p.text for p in passages]
    second = E5.embed(texts) if multilingual else None
    return NewDocument(document, passages, MINILM.embed(texts), second, E5.name if multilingual else "")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "knowledge.sqlite3")
    yield opened
    opened.close()


def test_written_in_the_passages_transaction(store: SqliteStore) -> None:
    result = store.write_documents([new("a")], MINILM.name)
    ids = result.added_passage_ids
    assert len(ids) > 1 and sorted(result.new_multilingual_vectors) == ids
    found, vectors = store.multilingual_vectors(ids, E5.dimension)
    assert found.tolist() == ids
    assert np.allclose(vectors, E5.embed([t for _, t in store.passage_texts(ids)]))
    assert store.multilingual_missing_count() == 0 and store.multilingual_model() == E5.name
    assert result.multilingual_generation == store.multilingual_generation()


def test_a_failed_write_leaves_neither(store: SqliteStore) -> None:
    bad = new("b", TEXT + " Trains ran late.")
    bad = replace(bad, multilingual_vectors=bad.multilingual_vectors[:-1])  # type: ignore[index]
    with pytest.raises(ValueError):
        store.write_documents([new("a"), bad], MINILM.name)
    assert store.passage_count() == 0 and store.multilingual_count() == 0


def test_removed_with_the_passages(store: SqliteStore) -> None:
    store.write_documents([new("a"), new("b", TEXT + " Trains ran late.")], MINILM.name)
    before = store.multilingual_generation()
    result = store.remove_document("a")
    assert store.multilingual_count() == store.passage_count() > 0
    assert set(store.multilingual_ids().tolist()) == set(store.passage_ids().tolist())
    assert result.multilingual_generation > before
    assert result.multilingual_part().removed_passage_ids == result.removed_passage_ids


def test_replacing_a_document_replaces_its_vectors(store: SqliteStore) -> None:
    store.write_documents([new("a")], MINILM.name)
    result = store.write_documents([new("a", TEXT + " Trains ran late.")], MINILM.name)
    assert result.replaced == ["a"]
    assert set(store.multilingual_ids().tolist()) == set(store.passage_ids().tolist())


def test_filled_later_in_batches(store: SqliteStore) -> None:
    store.write_documents([new("a", multilingual=False)], MINILM.name)
    generation, fills_before = store.generation(), store.multilingual_generation()
    missing = store.multilingual_missing(limit=2)
    assert len(missing) == 2 and store.multilingual_missing_count() == store.passage_count()
    ids = [i for i, _ in missing]
    result = store.write_multilingual(E5.name, ids, E5.embed([t for _, t in missing]))
    assert sorted(result.new_vectors) == ids and result.generation == fills_before + 1
    assert store.generation() == generation  # MiniLM's index, BM25 and statistics stay valid
    assert [i for i, _ in store.multilingual_missing(after=ids[-1])] == [
        i for i in store.passage_ids().tolist() if i not in ids]


def test_a_fill_skips_passages_removed_meanwhile(store: SqliteStore) -> None:
    store.write_documents([new("a", multilingual=False)], MINILM.name)
    missing = store.multilingual_missing()
    store.remove_document("a")
    result = store.write_multilingual(E5.name, [i for i, _ in missing], E5.embed([t for _, t in missing]))
    assert result.new_vectors == {} and store.multilingual_count() == 0


def test_another_model_is_refused(store: SqliteStore) -> None:
    store.write_documents([new("a")], MINILM.name)
    item = new("b", TEXT + " Trains ran late.")
    with pytest.raises(StoreError, match="multilingual vectors were made by"):
        store.write_documents([replace(item, multilingual_model="other")], MINILM.name)
