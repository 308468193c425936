from __future__ import annotations

import threading
import time

import pytest

from index.writer import write_lock
from knowledge.errors import StoreError
from tests.index.conftest import Folder, doc

TEXT = "Ukraine received new air defence systems. Officials said more would follow in spring."


def test_ingest_reports_added_replaced_and_unchanged(folder: Folder) -> None:
    first = folder.writer.ingest([doc("a", TEXT), doc("b", "Another story about grain exports.")])
    assert sorted(first.added) == ["a", "b"] and first.passages >= 2
    again = folder.writer.ingest([doc("a", TEXT), doc("copy-of-a", TEXT)])
    assert again.added == [] and again.passages == 0
    assert {pair for pair in again.unchanged} == {("a", "a"), ("copy-of-a", "a")}
    changed = folder.writer.ingest([doc("a", TEXT + " A correction was issued later.")])
    assert changed.replaced == ["a"] and changed.added == []
    assert folder.store.document_text("a").endswith("correction was issued later.")


def test_same_url_replaces_the_old_document(folder: Folder) -> None:
    folder.writer.ingest([doc("old", TEXT, url="https://example.org/story")])
    report = folder.writer.ingest([doc("new", TEXT + " Updated.", url="https://example.org/story")])
    assert report.replaced == ["old"]
    assert [d.id for d in folder.store.documents()] == ["new"]


def test_remove_takes_passages_and_vectors_out(folder: Folder) -> None:
    folder.writer.ingest([doc("a", TEXT), doc("b", "Gas prices rose sharply in Europe.")])
    before = len(folder.index.vectors)
    removed = folder.writer.remove("a")
    assert removed > 0 and len(folder.index.vectors) == before - removed
    assert [d.id for d in folder.store.documents()] == ["b"]
    with pytest.raises(StoreError, match="no document with id 'a'"):
        folder.writer.remove("a")


def test_progress_reaches_the_total(folder: Folder) -> None:
    seen: list[tuple[int, int]] = []
    docs = [doc(f"d{i}", f"Story number {i} about the front line. " * 40) for i in range(30)]
    folder.writer.ingest(docs, lambda done, total: seen.append((done, total)))
    assert seen[-1] == (30, 30)
    assert all(done <= total for done, total in seen)


def test_reindex_with_another_model_re_embeds_everything(folder: Folder) -> None:
    from tests.fakes import HashingEmbedder

    folder.writer.ingest([doc("a", TEXT)])
    other = Folder(folder.root, HashingEmbedder(dimension=32, name="other-model"))
    with pytest.raises(StoreError, match="reindex"):
        other.writer.ingest([doc("b", "Something else entirely.")])
    other.writer.reindex()
    assert other.store.embedding_model() == "other-model"
    assert other.index.vectors.dimension == 32
    assert len(other.index.vectors) == len(other.store.passage_ids())


def test_write_lock_is_exclusive(tmp_path) -> None:  # type: ignore[no-untyped-def]
    lock = tmp_path / "write.lock"
    order: list[str] = []

    def second() -> None:
        with write_lock(lock):
            order.append("second")

    with write_lock(lock):
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.2)
        order.append("first")
    thread.join(5)
    assert order == ["first", "second"]
