"""The approximate (IVF) copy of the vector index: built in the background above a threshold,
swapped in with the writes made meanwhile, mendable by id, and exact again when not needed."""

from __future__ import annotations

import json
import logging
import struct
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from index.search_index import SearchIndex
from index.vectors import _MAGIC, FaissVectorStore, IndexHeader
from knowledge.documents import Document, Kind, Passage
from knowledge.store import SqliteStore
from knowledge.store_interface import NewDocument, WriteResult

DIM = 64
MODEL = "synthetic"
PER_DOC = 20
THRESHOLD = 1_000


def clustered(n: int, seed: int, clusters: int = 40) -> np.ndarray:
    """Unit vectors around a few centres, like text embeddings (uniform noise has no neighbours)."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(7).standard_normal((clusters, DIM)).astype(np.float32)
    rows = centres[rng.integers(0, clusters, n)] + rng.standard_normal((n, DIM)).astype(np.float32) * 0.12
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def write(store: SqliteStore, doc_id: str, vectors: np.ndarray) -> WriteResult:
    text = " ".join(f"{doc_id}-{i}." for i in range(len(vectors)))
    document = Document(id=doc_id, title=doc_id, text=text, url=None, kind=Kind.NEWS, published="2022-03")
    passages = [Passage(None, doc_id, i, f"{doc_id}-{i}.", 0, 1) for i in range(len(vectors))]
    return store.write_documents([NewDocument(document, passages, vectors)], MODEL)


def fill(store: SqliteStore, count: int, seed: int = 0) -> None:
    vectors = clustered(count, seed)
    for first in range(0, count, PER_DOC):
        write(store, f"d{seed}-{first}", vectors[first : first + PER_DOC])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "kb.sqlite")
    fill(opened, 2_000)
    yield opened
    opened.close()


def open_index(store: SqliteStore, tmp_path: Path, above: int = THRESHOLD,
               before_swap: Callable[[], None] | None = None) -> SearchIndex:
    return SearchIndex(store, tmp_path / "passages.faiss", MODEL, DIM, approximate_above=above,
                       before_swap=before_swap)


def agree(index: SearchIndex) -> bool:
    return sorted(index.vectors.ids().tolist()) == index.store.passage_ids().tolist()


def header(path: Path) -> dict[str, object]:
    data = path.read_bytes()
    (size,) = struct.unpack_from("<I", data, len(_MAGIC))
    return dict(json.loads(data[len(_MAGIC) + 4 : len(_MAGIC) + 4 + size]))


def test_below_the_threshold_the_index_stays_exact(store: SqliteStore, tmp_path: Path) -> None:
    index = open_index(store, tmp_path, above=5_000)
    index.open()
    assert index._builder is None and index.wait_for_build(1)
    assert index.vectors.kind == "exact" and header(index.path)["kind"] == "exact"
    never = open_index(store, tmp_path, above=0)
    never.open()
    assert never._builder is None and never.vectors.kind == "exact"


def test_above_the_threshold_an_ivf_copy_is_built_measured_and_saved(
    store: SqliteStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="index")
    index = open_index(store, tmp_path)
    index.open()
    assert index.wait_for_build(20)
    assert index.vectors.kind == "ivf" and agree(index)
    build = index.last_build
    assert build is not None and build.recall_at_10 >= 0.95
    from index.approximate import QUESTION_MARGIN

    enough = min(n for n, r in build.recall_by_nprobe.items() if r >= 0.95)
    assert build.nprobe == min(enough * QUESTION_MARGIN, build.nlist)  # a margin for questions
    assert "recall@10" in caplog.text and f"nprobe {build.nprobe}" in caplog.text
    saved = header(index.path)
    assert (saved["kind"], saved["nprobe"], saved["recall_at_10"]) == ("ivf", build.nprobe, build.recall_at_10)
    query = clustered(1, seed=99)[0]
    exact = FaissVectorStore(DIM, MODEL)
    exact.add(*store.existing_vectors(store.passage_ids().tolist(), DIM))
    assert index.search(query, 1)[0][0] == exact.search(query, 1)[0][0]


def test_searches_and_writes_during_the_build_are_served_and_kept(store: SqliteStore, tmp_path: Path) -> None:
    built, resume = threading.Event(), threading.Event()

    def pause() -> None:
        built.set()
        assert resume.wait(20)

    index = open_index(store, tmp_path, before_swap=pause)
    index.open()
    assert built.wait(20)  # the IVF copy exists but is not swapped in yet
    assert index.vectors.kind == "exact"
    assert len(index.search(clustered(1, seed=5)[0], 10)) == 10

    new = clustered(PER_DOC, seed=3)
    index.apply(write(store, "during", new))  # this process's write, mirrored into the exact copy
    write(store, "elsewhere", clustered(PER_DOC, seed=4))  # as if another process wrote
    store.remove_document("d0-0")
    assert sum(t.name == "index-build" for t in threading.enumerate()) == 1  # never two builds
    resume.set()
    assert index.wait_for_build(20)

    assert index.vectors.kind == "ivf" and agree(index)
    assert index.vectors.generation == store.generation()
    found = index.search(new[3], 1)[0]
    assert found[1] == pytest.approx(1.0, abs=1e-5)
    assert store.stored_passages([found[0]])[found[0]].document.id == "during"
    elsewhere = index.search(clustered(PER_DOC, seed=4)[2], 1)[0][0]
    assert store.stored_passages([elsewhere])[elsewhere].document.id == "elsewhere"


def test_after_the_swap_adds_and_removals_survive_save_and_load(store: SqliteStore, tmp_path: Path) -> None:
    index = open_index(store, tmp_path)
    index.open()
    assert index.wait_for_build(20) and index.vectors.kind == "ivf"
    nprobe = index.vectors.nprobe
    vectors = clustered(PER_DOC, seed=11)
    write(store, "later", vectors)
    store.remove_document("d0-20")
    index.refresh_if_stale()
    index.save()
    assert agree(index)

    again = open_index(store, tmp_path)
    report = again.open()
    assert not report.changed and again._builder is None
    assert again.vectors.kind == "ivf" and again.vectors.nprobe == nprobe and agree(again)
    assert again.search(vectors[0], 1)[0][1] == pytest.approx(1.0, abs=1e-5)


def test_a_corrupt_ivf_file_is_rebuilt_exact_then_approximate(store: SqliteStore, tmp_path: Path) -> None:
    index = open_index(store, tmp_path)
    index.open()
    assert index.wait_for_build(20)
    data = index.path.read_bytes()
    index.path.write_bytes(data[: len(data) // 2])

    again = open_index(store, tmp_path)
    report = again.open()
    assert report.rebuilt and again.vectors.kind == "exact" and agree(again)
    assert again.wait_for_build(20)
    assert again.vectors.kind == "ivf" and agree(again)
    assert header(again.path)["kind"] == "ivf"


def test_an_ivf_file_goes_back_to_exact_when_the_store_is_far_below_the_threshold(
    store: SqliteStore, tmp_path: Path
) -> None:
    index = open_index(store, tmp_path)
    index.open()
    assert index.wait_for_build(20)
    slightly = open_index(store, tmp_path, above=3_000)  # 2,000 is not below half of 3,000
    assert not slightly.open().changed and slightly.vectors.kind == "ivf"
    far = open_index(store, tmp_path, above=5_000)
    report = far.open()
    assert report.rebuilt and "no longer needed" in report.reason
    assert far.vectors.kind == "exact" and agree(far) and far._builder is None


def test_an_old_header_without_the_new_fields_loads_as_exact(tmp_path: Path) -> None:
    import faiss

    store = FaissVectorStore(DIM, MODEL)
    vectors = clustered(30, seed=1)
    store.add(np.arange(30), vectors)
    old = {"model": MODEL, "dimension": DIM, "generation": 4, "count": 30}
    raw = json.dumps(old).encode()
    path = tmp_path / "old.faiss"
    path.write_bytes(_MAGIC + struct.pack("<I", len(raw)) + raw + faiss.serialize_index(store._index).tobytes())
    loaded = FaissVectorStore.load(path)
    assert (loaded.kind, loaded.nprobe, loaded.recall_at_10, loaded.generation) == ("exact", 0, None, 4)
    assert loaded.search(vectors[5], 1)[0][0] == 5
    assert IndexHeader.from_json(json.dumps({**old, "future": 1}).encode()).kind == "exact"


def test_nprobe_is_the_smallest_candidate_reaching_the_target_recall(tmp_path: Path) -> None:
    from index.approximate import NPROBE_CANDIDATES, QUESTION_MARGIN, build_ivf

    store = SqliteStore(tmp_path / "uniform.sqlite")
    rows = np.random.default_rng(0).standard_normal((2_000, DIM)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)  # no clusters: small nprobe misses a lot
    for first in range(0, len(rows), PER_DOC):
        write(store, f"u{first}", rows[first : first + PER_DOC])
    built, report = build_ivf(store, MODEL, DIM)
    store.close()
    tried = [n for n in report.recall_by_nprobe if n in NPROBE_CANDIDATES]
    assert tried == list(NPROBE_CANDIDATES[: len(tried)]) and len(tried) > 1
    assert all(report.recall_by_nprobe[n] < 0.95 for n in tried[:-1])
    enough = tried[-1]
    assert report.recall_by_nprobe[enough] >= 0.95 or enough >= report.nlist
    assert report.nprobe == min(enough * QUESTION_MARGIN, report.nlist) == built.nprobe
    assert report.recall_at_10 == report.recall_by_nprobe[report.nprobe] >= 0.95


def test_a_failed_build_leaves_search_exact_and_is_not_retried_on_every_write(
    store: SqliteStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def fail() -> None:
        raise RuntimeError("disk full")

    index = open_index(store, tmp_path, before_swap=fail)
    index.open()
    assert index.wait_for_build(20)
    assert index.vectors.kind == "exact" and "building the search index failed" in caplog.text
    first = index._builder
    index.apply(write(store, "after", clustered(PER_DOC, seed=8)))
    assert index._builder is first and agree(index)


def test_the_setting_reaches_the_embedded_index(tmp_path: Path) -> None:
    from bot.runtime.service import CrisisBot
    from bot.runtime.settings import load_settings
    from index.search_index import SearchIndex as Index
    from knowledge.errors import ConfigError
    from tests.fakes import HashingEmbedder

    bot = CrisisBot(load_settings(data_dir=tmp_path / "data", approximate_index_above=1234), HashingEmbedder())
    try:
        assert isinstance(bot.index, Index) and bot.index.approximate_above == 1234
    finally:
        bot.close()
    with pytest.raises(ConfigError, match="CRISISBOT_APPROXIMATE_INDEX_ABOVE"):
        load_settings(approximate_index_above=-1)
