from __future__ import annotations

import logging
import threading
import time

import pytest

from index.vectors import FaissVectorStore
from index.writer import write_lock
from knowledge.documents import Kind
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


def test_set_kind_changes_only_the_kind_on_either_backend(any_folder: Folder) -> None:
    any_folder.writer.ingest([doc("a", TEXT), doc("b", "Gas prices rose sharply in Europe.")])
    passages, generation = any_folder.store.passage_ids().tolist(), any_folder.store.generation()
    result = any_folder.writer.set_kind("a", Kind.ANALYSIS)
    assert any_folder.store.document_info("a").kind is Kind.ANALYSIS
    assert any_folder.store.document_info("b").kind is Kind.NEWS
    assert result.generation == generation + 1 == any_folder.store.generation()
    assert (result.added, result.replaced, result.removed_passage_ids, result.new_vectors) == ([], [], [], {})
    assert any_folder.store.passage_ids().tolist() == passages


def test_set_kind_of_an_unknown_document_changes_nothing_and_frees_the_lock(any_folder: Folder) -> None:
    any_folder.writer.ingest([doc("a", TEXT)])
    generation = any_folder.store.generation()
    with pytest.raises(StoreError, match="no document with id 'missing'"):
        any_folder.writer.set_kind("missing", Kind.ANALYSIS)
    assert any_folder.store.generation() == generation
    any_folder.writer.set_kind("a", Kind.FACT_CHECK)  # the lock was released
    assert any_folder.store.document_info("a").kind is Kind.FACT_CHECK


def test_set_kind_keeps_the_index_in_step_and_saved(folder: Folder) -> None:
    folder.writer.ingest([doc("a", TEXT), doc("b", "Gas prices rose sharply in Europe.")])
    indexed = sorted(folder.index.vectors.ids().tolist())
    folder.writer.set_kind("a", Kind.OFFICIAL_STATEMENT)
    # The index followed the write itself: no later search takes the moved generation for
    # another process's write, and the file on disk says so too.
    assert folder.index.vectors.generation == folder.store.generation()
    assert FaissVectorStore.load(folder.index.path).generation == folder.store.generation()
    assert sorted(folder.index.vectors.ids().tolist()) == indexed


def test_set_kind_waits_for_the_writers_lock(folder: Folder) -> None:
    folder.writer.ingest([doc("a", TEXT)])
    errors: list[BaseException] = []

    def change() -> None:
        try:
            folder.writer.set_kind("a", Kind.ANALYSIS)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    with folder.writer.lock():
        thread = threading.Thread(target=change)
        thread.start()
        time.sleep(0.2)
        assert folder.store.document_info("a").kind is Kind.NEWS
    thread.join(5)
    assert not thread.is_alive() and errors == []
    assert folder.store.document_info("a").kind is Kind.ANALYSIS


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


# -- near-duplicates ------------------------------------------------------------------------

ARTICLE = [
    "Ukraine's Black Sea grain corridor reopened on Wednesday after two days of talks between "
    "port authorities and insurers, the ministry of infrastructure said in a statement.",
    "Twelve ships left Odesa and Chornomorsk in the first hours, carrying wheat and maize bound "
    "for Egypt, Spain and Turkey, according to the port administration.",
    "Insurers had paused cover after a drone strike damaged a terminal on Sunday; the new "
    "agreement raises the war-risk premium but restores cover for all three ports.",
    "Port officials said the backlog of loaded vessels waiting at anchor would be cleared within "
    "a week if the weather held and no further strikes hit the terminals.",
]
ORIGINAL = "\n\n".join(ARTICLE)
# The same article syndicated by another outlet: new headline, a dateline, one extra sentence.
SYNDICATED = "\n\n".join(
    ["KYIV (Wire) - " + ARTICLE[0], *ARTICLE[1:-1], ARTICLE[-1] + " The wire desk also reported this."]
)
DIFFERENT = (
    "Power engineers restored electricity to most of the Kharkiv region after overnight strikes "
    "on substations, the regional governor said on Telegram.\n\nSchools stayed closed and water "
    "pumping stations ran on generators while repairs continued through the day."
)


def test_a_syndicated_copy_is_skipped_and_logged(folder: Folder, caplog: pytest.LogCaptureFixture) -> None:
    folder.writer.ingest([doc("ledger", ORIGINAL, url="https://ledger.test/grain")])
    before = len(folder.index.vectors)
    with caplog.at_level(logging.INFO, logger="index.writer"):
        report = folder.writer.ingest(
            [doc("wire", SYNDICATED, url="https://wire.test/grain", title="Ships leave Odesa as corridor reopens")]
        )
    assert report.near_duplicates == [("wire", "ledger")]
    assert report.added == [] and report.replaced == [] and report.unchanged == [] and report.passages == 0
    assert [d.id for d in folder.store.documents()] == ["ledger"] and len(folder.index.vectors) == before
    assert any("wire" in r.getMessage() and "ledger" in r.getMessage() for r in caplog.records)


def test_the_syndicated_copy_is_close_by_the_fake_embedder(folder: Folder) -> None:
    from knowledge.chunking import chunk_document

    new = chunk_document(doc("wire", SYNDICATED), folder.embedder.count_tokens)
    old = chunk_document(doc("ledger", ORIGINAL), folder.embedder.count_tokens)
    assert len(new) >= 2  # several passages, so "most of the document" is tested, not one
    sims = folder.embedder.embed([p.text for p in new]) @ folder.embedder.embed([p.text for p in old]).T
    best = sims.max(axis=1)
    assert (best >= 0.95).sum() >= 0.8 * len(new)
    assert best.min() < 0.9999  # not identical: the headline and the extra sentence differ


def test_a_different_document_and_an_exact_copy(folder: Folder) -> None:
    folder.writer.ingest([doc("ledger", ORIGINAL)])
    report = folder.writer.ingest([doc("power", DIFFERENT), doc("copy", ORIGINAL)])
    assert report.added == ["power"] and report.near_duplicates == []
    assert report.unchanged == [("copy", "ledger")]


def test_an_update_under_the_same_id_or_url_is_not_a_copy_of_itself(folder: Folder) -> None:
    folder.writer.ingest([doc("ledger", ORIGINAL, url="https://ledger.test/grain")])
    same_id = folder.writer.ingest([doc("ledger", SYNDICATED, url="https://ledger.test/grain")])
    assert same_id.replaced == ["ledger"] and same_id.near_duplicates == []
    other = folder.writer.ingest([doc("ledger-copy", ORIGINAL + " Updated.")])
    assert other.near_duplicates == [("ledger-copy", "ledger")]  # another id and URL: a copy
    by_url = folder.writer.ingest(
        [doc("ledger-v2", ORIGINAL + " Corrected.", url="https://ledger.test/grain")]
    )
    assert by_url.near_duplicates == [] and by_url.replaced == ["ledger"]


def test_near_identical_documents_in_one_batch(folder: Folder) -> None:
    report = folder.writer.ingest([doc("ledger", ORIGINAL), doc("power", DIFFERENT), doc("wire", SYNDICATED)])
    assert report.added == ["ledger", "power"]
    assert report.near_duplicates == [("wire", "ledger")]
    assert sorted(d.id for d in folder.store.documents()) == ["ledger", "power"]


def test_short_documents_are_never_near_duplicates(folder: Folder) -> None:
    # The fake embedder maps "no" and "some" to one bucket: cosine 1, yet the facts differ.
    report = folder.writer.ingest([doc("a", "Officials gave no figures."), doc("b", "Officials gave some figures.")])
    assert report.added == ["a", "b"] and report.near_duplicates == []


def test_same_words_in_another_order_are_not_a_copy(folder: Folder) -> None:
    """The fake embedder ignores word order, so every passage matches at cosine 1, as two daily
    briefings of one newspaper do with the real model; the words themselves are not repeated."""
    from index.writer import repeats_text

    shuffled = "\n\n".join(" ".join(reversed(paragraph.split())) for paragraph in ARTICLE)
    assert not repeats_text(shuffled, ORIGINAL) and repeats_text(SYNDICATED, ORIGINAL)
    folder.writer.ingest([doc("ledger", ORIGINAL)])
    report = folder.writer.ingest([doc("briefing", shuffled), doc("wire", SYNDICATED)])
    assert report.added == ["briefing"] and report.near_duplicates == [("wire", "ledger")]
    batch = Folder(folder.root / "other").writer.ingest([doc("ledger", ORIGINAL), doc("briefing", shuffled)])
    assert batch.added == ["ledger", "briefing"] and batch.near_duplicates == []
