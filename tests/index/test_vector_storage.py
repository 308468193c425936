"""How the FAISS copy holds its vectors (float32, float16, sq8), and the background rebuilds
that change it: another storage configured, or a trained copy outgrown by the store."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from index.approximate import build_ivf
from index.search_index import MIN_TRAINING, SearchIndex
from index.vectors import CorruptIndexError, FaissVectorStore, exact_index
from knowledge.store import SqliteStore
from tests.index.test_approximate_index import DIM, MODEL, agree, clustered, fill, header, write


def spread(n: int, seed: int) -> np.ndarray:
    """Unit vectors whose neighbours are spaced as text embeddings' are (cosines around 0.5-0.8,
    not the 0.99 of the approximate index's tight clusters, where float16 rounding reorders)."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(7).standard_normal((40, DIM)).astype(np.float32)
    rows = centres[rng.integers(0, 40, n)] + rng.standard_normal((n, DIM)).astype(np.float32) * 0.6
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def recall_at_10(found: list[list[tuple[int, float]]], truth: list[list[tuple[int, float]]]) -> float:
    hits = sum(len({i for i, _ in f} & {i for i, _ in t}) for f, t in zip(found, truth))
    return hits / sum(len(t) for t in truth)


def filled(storage: str, vectors: np.ndarray) -> FaissVectorStore:
    copy = FaissVectorStore(DIM, MODEL, exact_index(DIM, storage, vectors[:1000]))
    copy.add(np.arange(len(vectors), dtype=np.int64), vectors)
    return copy


@pytest.mark.parametrize(("storage", "least_recall", "bytes_per_vector"),
                         [("float16", 0.98, 2 * DIM), ("sq8", 0.9, DIM)])
def test_quantised_copies_rank_nearly_as_float32_in_less_memory(
        tmp_path: Path, storage: str, least_recall: float, bytes_per_vector: int) -> None:
    vectors = spread(3_000, seed=1)
    queries = spread(100, seed=2)
    exact = filled("float32", vectors)
    small = filled(storage, vectors)
    assert small.storage == storage and small.kind == "exact"
    assert recall_at_10(small.search_many(queries, 10), exact.search_many(queries, 10)) >= least_recall
    # Scores stay cosines, close to the exact ones.
    best, best_exact = small.search(queries[0], 1)[0], exact.search(queries[0], 1)[0]
    assert best[1] == pytest.approx(best_exact[1], abs=0.02)
    exact.save(tmp_path / "float32.faiss")
    small.save(tmp_path / "small.faiss")
    ratio = (tmp_path / "small.faiss").stat().st_size / (tmp_path / "float32.faiss").stat().st_size
    assert ratio < (bytes_per_vector + 8 + 16) / (4 * DIM + 8)  # codes + ids, against floats + ids


@pytest.mark.parametrize("storage", ["float16", "sq8"])
def test_a_quantised_copy_is_mended_saved_and_loaded_like_float32(tmp_path: Path, storage: str) -> None:
    vectors = clustered(1_500, seed=3)
    copy = filled(storage, vectors)
    assert copy.remove(np.arange(0, 1_500, 3, dtype=np.int64)) == 500
    copy.generation = 7
    copy.save(tmp_path / "copy.faiss")
    loaded = FaissVectorStore.load(tmp_path / "copy.faiss")
    assert (loaded.storage, loaded.kind, loaded.generation, len(loaded)) == (storage, "exact", 7, 1_000)
    assert sorted(loaded.ids().tolist()) == [i for i in range(1_500) if i % 3]
    assert loaded.search(vectors[1], 1)[0][0] == 1
    assert header(tmp_path / "copy.faiss")["storage"] == storage


def test_a_header_that_misnames_the_storage_is_corrupt(tmp_path: Path) -> None:
    copy = filled("float16", clustered(200, seed=4))
    path = tmp_path / "copy.faiss"
    copy.save(path)
    data = path.read_bytes().replace(b'"storage": "float16"', b'"storage": "float32"')
    path.write_bytes(data)
    with pytest.raises(CorruptIndexError, match="header says float32"):
        FaissVectorStore.load(path)


def test_a_truncated_file_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "copy.faiss"
    filled("float32", clustered(200, seed=4)).save(path)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(CorruptIndexError):
        FaissVectorStore.load(path)


def test_sq8_needs_vectors_to_train_on() -> None:
    with pytest.raises(ValueError, match="train"):
        exact_index(DIM, "sq8")
    with pytest.raises(ValueError, match="unknown vector storage"):
        exact_index(DIM, "float8")


def test_a_float16_index_is_float16_from_the_start(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "kb.sqlite")
    fill(store, 100)
    index = SearchIndex(store, tmp_path / "passages.faiss", MODEL, DIM, approximate_above=0,
                        storage="float16")
    index.open()
    assert index.vectors.storage == "float16" and index._builder is None
    assert header(index.path)["storage"] == "float16" and agree(index)
    store.close()


def test_sq8_waits_for_enough_passages_then_switches_in_the_background(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "kb.sqlite")
    fill(store, MIN_TRAINING - 100)
    index = SearchIndex(store, tmp_path / "passages.faiss", MODEL, DIM, approximate_above=0, storage="sq8")
    index.open()
    assert index.vectors.storage == "float32" and index._builder is None  # too few to train on
    index.apply(write(store, "more", clustered(200, seed=9)))
    assert index.wait_for_build(60)
    assert (index.vectors.storage, index.vectors.trained_on) == ("sq8", MIN_TRAINING + 100)
    assert agree(index) and header(index.path)["storage"] == "sq8"
    store.close()


def test_auto_storage_turns_sq8_above_its_size_and_back_only_well_below(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "kb.sqlite")
    fill(store, 1_100)  # 55 documents of 20 passages
    index = SearchIndex(store, tmp_path / "passages.faiss", MODEL, DIM, approximate_above=0,
                        storage="auto", auto_sq8_above=1_200)
    index.open()
    assert index.vectors.storage == "float32" and index._builder is None
    index.apply(write(store, "more", clustered(200, seed=9)))  # 1,300: above 1,200
    assert index.wait_for_build(60)
    assert (index.vectors.storage, index.vectors.trained_on) == ("sq8", 1_300) and agree(index)
    for first in range(0, 600, 20):  # 700 left: below the threshold, above half of it
        index.apply(store.remove_document(f"d0-{first}"))
    assert index.wait_for_build(60) and index.vectors.storage == "sq8"
    for first in range(600, 1_100, 20):  # 200 left: well below
        index.apply(store.remove_document(f"d0-{first}"))
    assert index.wait_for_build(60)
    assert index.vectors.storage == "float32" and agree(index)
    assert header(index.path)["storage"] == "float32"
    store.close()


def test_auto_storage_builds_sq8_straight_away_for_a_large_store(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "kb.sqlite")
    fill(store, 1_500)
    index = SearchIndex(store, tmp_path / "passages.faiss", MODEL, DIM, approximate_above=0,
                        storage="auto", auto_sq8_above=1_200)
    index.open()  # no file yet: the first copy is already sq8, nothing left to rebuild
    assert index.vectors.storage == "sq8" and index._builder is None and agree(index)
    store.close()


def test_another_storage_is_built_while_the_old_copy_answers(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "kb.sqlite")
    fill(store, 1_200)
    SearchIndex(store, tmp_path / "passages.faiss", MODEL, DIM, approximate_above=0).open()
    paused, release = threading.Event(), threading.Event()

    def hold() -> None:
        paused.set()
        release.wait(30)

    index = SearchIndex(store, tmp_path / "passages.faiss", MODEL, DIM, approximate_above=0,
                        storage="float16", before_swap=hold)
    index.open()
    assert paused.wait(30)
    query = clustered(1, seed=5)[0]
    assert index.vectors.storage == "float32" and len(index.search(query, 5)) == 5
    added = write(store, "meanwhile", clustered(20, seed=6))  # a write during the build
    index.apply(added)
    release.set()
    assert index.wait_for_build(30)
    assert index.vectors.storage == "float16" and agree(index)
    assert set(added.added_passage_ids) <= set(index.vectors.ids().tolist())
    store.close()


def test_an_ivf_copy_is_retrained_once_the_store_has_doubled(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "kb.sqlite")
    fill(store, 1_200)
    index = SearchIndex(store, tmp_path / "passages.faiss", MODEL, DIM, approximate_above=1_000)
    index.open()
    assert index.wait_for_build(60) and index.vectors.kind == "ivf"
    assert index.vectors.trained_on == 1_200
    fill(store, 1_300, seed=11)  # another process: 2,500 passages, above twice 1,200
    index.refresh_if_stale()
    assert index.wait_for_build(60)
    assert (index.vectors.kind, index.vectors.trained_on) == ("ivf", 2_500) and agree(index)
    assert header(index.path)["trained_on"] == 2_500
    store.close()


def test_an_ivf_copy_can_hold_quantised_vectors(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "kb.sqlite")
    vectors = spread(3_000, seed=12)
    for first in range(0, 3_000, 100):
        write(store, f"s{first}", vectors[first : first + 100])
    built, report = build_ivf(store, MODEL, DIM, storage="sq8")
    assert (built.kind, built.storage) == ("ivf", "sq8")
    assert report.recall_at_10 >= 0.9  # measured against exact float32, on stored vectors
    built.save(tmp_path / "ivf.faiss")
    assert FaissVectorStore.load(tmp_path / "ivf.faiss").storage == "sq8"
    store.close()


def test_the_storage_setting_reaches_the_embedded_index(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.runtime.service import CrisisBot
    from bot.runtime.settings import load_settings
    from knowledge.errors import ConfigError
    from tests.fakes import HashingEmbedder

    assert load_settings(data_dir=tmp_path / "data").vector_storage == "auto"  # the default
    monkeypatch.setenv("CRISISBOT_VECTOR_STORAGE", "float16")
    bot = CrisisBot(load_settings(data_dir=tmp_path / "data"), HashingEmbedder())
    try:
        assert isinstance(bot.index, SearchIndex) and bot.index.vectors.storage == "float16"
        assert bot.ask("How many North Korean troops arrived in Russia?").quotes
    finally:
        bot.close()
    with pytest.raises(ConfigError, match="CRISISBOT_VECTOR_STORAGE"):
        load_settings(vector_storage="float8")


def test_a_search_during_this_process_write_neither_mends_nor_doubles(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = SqliteStore(tmp_path / "kb.sqlite")
    fill(store, 200)
    index = SearchIndex(store, tmp_path / "passages.faiss", MODEL, DIM, approximate_above=0)
    index.open()
    new = clustered(5, seed=21)
    listed = []
    monkeypatch.setattr(store, "passage_ids", lambda: listed.append(1) or SqliteStore.passage_ids(store))
    with index.writing():
        result = write(store, "new", new)  # in the store, not yet in the copy
        assert index.search(new[0], 1)[0][0] not in result.added_passage_ids
        assert listed == []  # the question did not list every stored id to mend the copy
        index.apply(result)
    ids = index.vectors.ids().tolist()
    assert len(ids) == len(set(ids)) and agree(index)
    assert index.search(new[0], 1)[0][0] == result.added_passage_ids[0]
    store.close()


def test_applying_a_write_the_copy_already_caught_up_with_adds_nothing(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "kb.sqlite")
    fill(store, 200)
    index = SearchIndex(store, tmp_path / "passages.faiss", MODEL, DIM, approximate_above=0)
    index.open()
    result = write(store, "new", clustered(5, seed=22))
    index.refresh_if_stale()  # e.g. a question mended the copy between the write and apply
    index.apply(result)
    ids = index.vectors.ids().tolist()
    assert len(ids) == len(set(ids)) == 205 and agree(index)
    store.close()
