"""The background fill of multilingual vectors and the retriever's switch to fusion once they
are complete (issue 20), with fake embedders; tests/bot/runtime/test_multilingual.py runs the
real models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from index.lexical import LexicalIndex
from index.multilingual import MultilingualRetrieval
from index.multilingual_fill import MultilingualFill
from index.retriever import Retriever
from index.search_index import SearchIndex
from index.writer import KnowledgeWriter, MultilingualPart
from knowledge.store import SqliteStore
from tests.fakes import HashingEmbedder
from tests.index.conftest import Folder, doc

E5 = HashingEmbedder(dimension=32, name="e5-test")
TEXTS = [f"Report {n}: the {word} convoy reached the city at dawn." for n, word in
         enumerate(["grain", "fuel", "medical", "water", "school", "power", "rail", "bridge"])]


class Killed(Exception):
    """Stands for the process dying between embedding a batch and writing it."""


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Folder]:
    opened = Folder(tmp_path)
    opened.writer.ingest([doc(f"d{n}", text) for n, text in enumerate(TEXTS)])
    yield opened
    opened.close()


def second_index(folder: Folder) -> SearchIndex:
    assert isinstance(folder.store, SqliteStore)
    return SearchIndex(folder.store.multilingual(), folder.root / "passages-multilingual.faiss",
                       E5.name, E5.dimension)


def make_fill(folder: Folder, index: SearchIndex, **options: object) -> MultilingualFill:
    assert isinstance(folder.store, SqliteStore)
    return MultilingualFill(folder.store, index, lambda: E5, folder.writer.lock, batch=3, **options)  # type: ignore[arg-type]


def test_the_fill_gives_every_passage_a_vector(folder: Folder) -> None:
    index = second_index(folder)
    fill = make_fill(folder, index)
    assert fill.start()
    assert fill.wait(10) and fill.filled == folder.store.passage_count() == len(TEXTS)
    assert folder.store.multilingual_missing_count() == 0  # type: ignore[attr-defined]
    assert sorted(index.vectors.ids().tolist()) == folder.store.passage_ids().tolist()
    reopened = second_index(folder)  # saved: the next start reads it as it is
    assert not reopened.open().changed


def test_a_kill_mid_fill_keeps_whole_batches_and_resumes(folder: Folder) -> None:
    batches: list[list[int]] = []

    def die_at_the_third(ids: list[int]) -> None:
        batches.append(ids)
        if len(batches) == 3:
            raise Killed

    index = second_index(folder)
    with pytest.raises(Killed):
        make_fill(folder, index, before_write=die_at_the_third).run()
    store = folder.store
    assert isinstance(store, SqliteStore)
    assert store.multilingual_ids().tolist() == batches[0] + batches[1]  # whole batches only
    fresh = second_index(folder)  # the next process: mends its copy from the table
    fresh.open()
    assert sorted(fresh.vectors.ids().tolist()) == batches[0] + batches[1]
    assert make_fill(folder, fresh).run() == len(TEXTS) - 6
    assert store.multilingual_missing_count() == 0
    assert sorted(fresh.vectors.ids().tolist()) == store.passage_ids().tolist()


def test_the_retriever_fuses_only_once_the_vectors_are_complete(folder: Folder) -> None:
    store = folder.store
    assert isinstance(store, SqliteStore)
    index = second_index(folder)
    fill = make_fill(folder, index)
    started: list[bool] = []
    part = MultilingualRetrieval(store, index, E5, on_incomplete=lambda: started.append(True))
    retriever = Retriever(store, folder.index, folder.embedder, LexicalIndex(store), multilingual=part)
    hits = retriever.search("medical convoy", 3)
    assert started and all(h.multilingual_score is None for h in hits)  # MiniLM and BM25 alone
    fill.run()
    hits = retriever.search("medical convoy", 3)
    assert hits[0].stored.document.id == "d2"
    assert all(h.multilingual_score is not None for h in hits) and hits[0].language == "en"


def test_the_writer_writes_both_vectors_together(folder: Folder) -> None:
    store = folder.store
    assert isinstance(store, SqliteStore)
    index = second_index(folder)
    make_fill(folder, index).run()
    writer = KnowledgeWriter(store, folder.index, folder.embedder, folder.writer.lock,
                             multilingual=MultilingualPart(E5, index))
    report = writer.ingest([doc("new", "A ferry carried volunteers across the river at night.")])
    assert set(report.passage_ids) <= set(store.multilingual_ids().tolist())
    assert store.multilingual_missing_count() == 0
    assert set(report.passage_ids) <= set(index.vectors.ids().tolist())
    writer.remove("new")
    assert sorted(index.vectors.ids().tolist()) == store.passage_ids().tolist()


def test_only_one_process_fills(folder: Folder) -> None:
    from contextlib import contextmanager
    from collections.abc import Iterator as Iter

    @contextmanager
    def taken() -> Iter[bool]:
        yield False

    fill = make_fill(folder, second_index(folder), exclusive=taken)
    assert fill.run() == 0 and folder.store.multilingual_missing_count() == len(TEXTS)  # type: ignore[attr-defined]
