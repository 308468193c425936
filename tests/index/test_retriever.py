from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from index.lexical import LexicalIndex
from index.retriever import RetrievalPolicy, Retriever, ScoredPassage
from knowledge.documents import Document, Kind
from tests.fakes import HashingEmbedder
from tests.index.conftest import Folder, HeldBuild, doc


def retriever(folder: Folder, **policy: float) -> Retriever:
    return Retriever(folder.store, folder.index, folder.embedder, LexicalIndex(folder.store),
                     RetrievalPolicy(**policy))  # type: ignore[arg-type]


def dated(doc_id: str, text: str, published: str) -> Document:
    return Document(id=doc_id, title="Report", text=text, kind=Kind.NEWS, published=published)


FILLER = [doc(f"f{i}", f"Filler story number {i} about weather markets and football.") for i in range(30)]


def test_hybrid_keeps_cosine_as_score_and_orders_by_fused_rank(folder: Folder) -> None:
    folder.writer.ingest(FILLER + [doc("hit", "Kyiv used ATACMS missiles against an airfield.")])
    hits = retriever(folder).search("ATACMS", 5)
    assert hits[0].stored.document.id == "hit"
    ranks = [h.rank_score for h in hits]
    assert ranks == sorted(ranks, reverse=True)
    vector = folder.embedder.embed(["ATACMS"])[0]
    stored_vector = folder.store.vectors([hits[0].stored.passage.id or 0], folder.embedder.dimension)[0]
    assert hits[0].score == pytest.approx(float(stored_vector @ vector), abs=1e-5)


def test_lexical_half_finds_what_the_dense_pool_misses(folder: Folder) -> None:
    """With a dense pool of one passage, only BM25 can bring the rare-term passage in; its
    cosine is then read from the stored vectors."""
    folder.writer.ingest(FILLER + [doc("rare", "Zaporizhzhia nuclear plant inspection.")])
    question = "filler story number about weather markets and football Zaporizhzhia"
    dense_only = retriever(folder, lexical_weight=0.0, candidates=1).search(question, 1)
    hybrid = retriever(folder, lexical_weight=5.0, candidates=1).search(question, 1)
    assert dense_only[0].stored.document.id != "rare"
    assert hybrid[0].stored.document.id == "rare"
    rare = hybrid[0]
    expected = folder.store.vectors([rare.stored.passage.id or 0], folder.embedder.dimension)[0]
    assert rare.score == pytest.approx(float(expected @ folder.embedder.embed([question])[0]), abs=1e-5)


def test_dense_only_when_no_text_is_given(folder: Folder) -> None:
    folder.writer.ingest(FILLER)
    vector = folder.embedder.embed(["weather markets"])[0]
    hits = retriever(folder).search_vector(vector, 3)
    assert [h.rank is None for h in hits] == [True] * 3
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_recency_words_prefer_the_newer_report(tmp_path: Path) -> None:
    folder = Folder(tmp_path, HashingEmbedder(dimension=4096))  # no word collisions
    text = "In {} officials said soldiers had arrived in the Kursk region."
    folder.writer.ingest(FILLER + [dated("oct", text.format("October"), "2024-10-15"),
                                   dated("nov", text.format("November"), "2024-11-20")])
    r = retriever(folder)
    asked = date(2024, 11, 25)
    latest = r.search("latest report of soldiers arrived in the Kursk region", 2, asked)
    assert latest[0].stored.document.id == "nov"
    # Without the bonus the two reports tie: the date alone decided.
    flat = retriever(folder, recency_weight=0.0).search(
        "latest report of soldiers arrived in the Kursk region", 2, asked)
    assert flat[0].rank_score == pytest.approx(flat[1].rank_score)
    assert latest[0].rank_score - latest[1].rank_score > 0.5
    # Asked in late October, the November report did not exist yet: no bonus for it.
    october = r.search("latest report of soldiers arrived in the Kursk region", 2, date(2024, 10, 20))
    assert october[0].stored.document.id == "oct"


def test_recency_changes_nothing_without_recency_words(tmp_path: Path) -> None:
    folder = Folder(tmp_path, HashingEmbedder(dimension=4096))
    text = "In {} officials said soldiers had arrived in the Kursk region."
    folder.writer.ingest(FILLER + [dated("oct", text.format("October"), "2024-10-15"),
                                   dated("nov", text.format("November"), "2024-11-20")])
    question = "soldiers arrived in the Kursk region"
    with_recency = retriever(folder).search(question, 5, date(2024, 11, 25))
    without = retriever(folder, recency_weight=0.0).search(question, 5, date(2024, 11, 25))
    assert [h.stored.passage.id for h in with_recency] == [h.stored.passage.id for h in without]
    assert np.allclose([h.rank_score for h in with_recency], [h.rank_score for h in without])


def test_removed_documents_never_come_back(folder: Folder) -> None:
    folder.writer.ingest(FILLER + [doc("gone", "Kyiv used ATACMS missiles against an airfield.")])
    r = retriever(folder)
    assert r.search("ATACMS", 3)[0].stored.document.id == "gone"
    folder.writer.remove("gone")
    assert "gone" not in {h.stored.document.id for h in r.search("ATACMS", 10)}


def test_empty_knowledge_base_returns_nothing(folder: Folder) -> None:
    assert retriever(folder).search("anything at all", 5) == []


def test_a_stale_lexical_build_never_cites_a_removed_passage(folder: Folder) -> None:
    """While a slow rebuild runs, BM25 still ranks a passage removed since the last build; the
    retriever reads every candidate from the store and leaves it out."""
    folder.writer.ingest(FILLER + [doc("gone", "Zaporizhzhia nuclear plant inspection."),
                                   doc("kept", "Shelling near Zaporizhzhia was reported.")])
    hold = HeldBuild()
    lexical = LexicalIndex(folder.store, slow_after=0.0, before_swap=hold)
    r = Retriever(folder.store, folder.index, folder.embedder, lexical, RetrievalPolicy(lexical_weight=5.0))
    question = "Zaporizhzhia nuclear plant inspection"
    first = r.search(question, 3)[0]
    assert first.stored.document.id == "gone"
    folder.writer.remove("gone")
    assert lexical.scores(question).top(1).tolist() == [first.stored.passage.id]  # stale, still first
    assert hold.held.wait(10)
    for asked in (question, f"latest {question}"):  # with and without the recency bonus
        found = {h.stored.document.id for h in r.search(asked, 10)}
        assert "kept" in found and "gone" not in found
    for document in ["kept"] + [d.id for d in FILLER]:
        folder.writer.remove(document)
    assert r.search(question, 5) == [] and lexical.scores(question).top(5).size > 0  # only stale ids left
    hold.let_go(lexical.wait_for_build)
    lexical.scores(question)  # the build just swapped in predates the removals: another starts
    assert hold.held.wait(10)
    hold.let_go(lexical.wait_for_build)
    assert lexical.scores(question).top(5).size == 0


def test_vector_statistics_are_refreshed_in_the_background_once_slow(folder: Folder) -> None:
    folder.writer.ingest(FILLER)
    r = retriever(folder)
    hold = HeldBuild()
    r._scale.slow_after = 0.0  # every recomputation after the first counts as slow
    r._scale.before_swap = hold
    question = "weather markets and football"
    r.search(question, 5)
    folder.writer.ingest([doc(f"more{i}", f"Shelling of the grid on day {i}, officials said.") for i in range(10)])

    def ranks(hits: list[ScoredPassage]) -> dict[int, float]:
        return {h.stored.passage.id or 0: h.rank_score for h in hits}

    during = ranks(r.search(question, 5))  # answered at once, with the statistics of 30 passages
    assert hold.held.wait(10)
    fresh = ranks(retriever(folder).search(question, 5))  # statistics of all 40
    assert during.keys() == fresh.keys() and during != pytest.approx(fresh)
    hold.let_go(r._scale.wait_for_build)
    assert ranks(r.search(question, 5)) == pytest.approx(fresh) and hold.builds == 1


def test_hybrid_hits_carry_their_bm25_z_score_and_the_questions_idf(folder: Folder) -> None:
    folder.writer.ingest(FILLER + [doc("hit", "Kyiv used ATACMS missiles against an airfield.")])
    hits = retriever(folder).search("ATACMS missiles", 5)
    assert hits[0].stored.document.id == "hit"
    z = [h.lexical_z for h in hits]
    assert all(v is not None for v in z) and z[0] == max(z) and (z[0] or 0) > 1  # type: ignore[type-var]
    assert hits[0].term_idf is not None and set(hits[0].term_idf) == {"atacm", "missil"}
    vector = folder.embedder.embed(["ATACMS"])[0]
    assert all(h.lexical_z is None and h.term_idf is None for h in retriever(folder).search_vector(vector, 3))
