from __future__ import annotations

import numpy as np

from index.vectors import FaissVectorStore
from tests.index.conftest import Folder, doc

TEXT_A = "Grain ships left Odesa on Monday. The deal was brokered by Turkey and the UN."
TEXT_B = "Gas flows through Nord Stream fell to twenty percent. Germany prepared rationing plans."


def agree(folder: Folder) -> bool:
    return sorted(folder.index.vectors.ids().tolist()) == folder.store.passage_ids().tolist()


def test_new_folder_builds_an_empty_index(folder: Folder) -> None:
    report = folder.index.open()
    assert report.rebuilt and report.reason == "no index file"
    assert len(folder.index.vectors) == 0
    assert (folder.root / "passages.faiss").exists()


def test_ingest_then_reopen_needs_no_repair(folder: Folder) -> None:
    folder.writer.ingest([doc("a", TEXT_A), doc("b", TEXT_B)])
    again = folder.reopen()
    report = again.index.open()
    assert not report.changed
    assert agree(again)


def test_index_missing_writes_is_mended_from_stored_vectors(folder: Folder) -> None:
    folder.writer.ingest([doc("a", TEXT_A)])
    stale = (folder.root / "passages.faiss").read_bytes()
    before = len(folder.store.passage_ids())
    folder.writer.ingest([doc("b", TEXT_B)])
    (folder.root / "passages.faiss").write_bytes(stale)  # as if the process died before saving
    again = folder.reopen()
    calls = again.embedder.calls
    report = again.index.open()
    assert report.added == len(again.store.passage_ids()) - before > 0
    assert agree(again)
    assert again.embedder.calls == calls  # mended from the store, the model never ran


def test_index_with_deleted_passages_drops_them(folder: Folder) -> None:
    folder.writer.ingest([doc("a", TEXT_A), doc("b", TEXT_B)])
    stale = (folder.root / "passages.faiss").read_bytes()
    folder.writer.remove("b")
    (folder.root / "passages.faiss").write_bytes(stale)
    again = folder.reopen()
    report = again.index.open()
    assert report.removed > 0
    assert agree(again)
    hits = again.index.search(again.embedder.embed([TEXT_B])[0], 10)
    assert {i for i, _ in hits} <= set(again.store.passage_ids().tolist())


def test_corrupt_or_foreign_index_is_rebuilt(folder: Folder) -> None:
    folder.writer.ingest([doc("a", TEXT_A), doc("b", TEXT_B)])
    path = folder.root / "passages.faiss"
    path.write_bytes(b"\x00" * 100)
    again = folder.reopen()
    assert again.index.open().rebuilt and agree(again)

    foreign = FaissVectorStore(again.embedder.dimension, "another-model")
    foreign.add(np.array([999]), np.ones((1, again.embedder.dimension), dtype=np.float32))
    foreign.save(path)
    third = again.reopen()
    report = third.index.open()
    assert report.rebuilt and "another-model" in report.reason
    assert agree(third) and 999 not in third.index.vectors.ids()


def test_a_write_by_another_process_is_picked_up_before_searching(folder: Folder) -> None:
    folder.writer.ingest([doc("a", TEXT_A)])
    folder.index.open()
    other = Folder(folder.root, folder.embedder)  # a second process on the same folder
    other.writer.ingest([doc("b", TEXT_B)])
    hits = folder.index.search(folder.embedder.embed([TEXT_B])[0], 1)
    stored = folder.store.stored_passages([hits[0][0]])
    assert stored[hits[0][0]].document.id == "b"
    assert agree(folder)


def test_stale_temporary_files_of_a_killed_save_are_swept(folder: Folder) -> None:
    import os
    import time

    folder.writer.ingest([doc("a", TEXT_A)])
    stale = folder.root / "passages.faiss.abc123.tmp"
    fresh = folder.root / "passages.faiss.def456.tmp"  # maybe another process saving right now
    stale.write_bytes(b"half an index")
    fresh.write_bytes(b"being written")
    hours_ago = time.time() - 2 * 3600
    os.utime(stale, (hours_ago, hours_ago))
    again = folder.reopen()
    again.index.open()
    assert not stale.exists() and fresh.exists()
    assert agree(again)
