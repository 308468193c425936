from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.vectors import CorruptIndexError, FaissVectorStore


def unit_rows(n: int, dim: int, seed: int = 0) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_search_returns_own_ids_and_cosine_scores() -> None:
    store = FaissVectorStore(8, "m")
    vectors = unit_rows(5, 8)
    store.add(np.array([101, 7, 55, 3, 9000]), vectors)
    hits = store.search(vectors[2], 3)
    assert hits[0][0] == 55
    assert hits[0][1] == pytest.approx(1.0, abs=1e-5)
    assert len(hits) == 3


def test_fewer_vectors_than_k_gives_no_padding_ids() -> None:
    store = FaissVectorStore(8, "m")
    store.add(np.array([1, 2]), unit_rows(2, 8))
    assert {i for i, _ in store.search(unit_rows(1, 8, 1)[0], 10)} == {1, 2}
    assert FaissVectorStore(8, "m").search(unit_rows(1, 8)[0], 5) == []


def test_remove_drops_exactly_those_ids() -> None:
    store = FaissVectorStore(8, "m")
    store.add(np.arange(10), unit_rows(10, 8))
    assert store.remove(np.array([3, 4, 99])) == 2
    assert sorted(store.ids().tolist()) == [0, 1, 2, 5, 6, 7, 8, 9]


def test_wrong_shape_is_refused() -> None:
    with pytest.raises(ValueError):
        FaissVectorStore(8, "m").add(np.array([1, 2]), unit_rows(3, 8))


def test_save_and_load_keep_ids_header_and_results(tmp_path: Path) -> None:
    store = FaissVectorStore(16, "model-x")
    vectors = unit_rows(50, 16)
    store.add(np.arange(100, 150), vectors)
    store.generation = 42
    path = tmp_path / "i.faiss"
    store.save(path)
    loaded = FaissVectorStore.load(path)
    assert (loaded.model, loaded.dimension, loaded.generation, len(loaded)) == ("model-x", 16, 42, 50)
    assert loaded.ids().tolist() == list(range(100, 150))
    assert loaded.search(vectors[7], 1)[0][0] == 107
    assert [p.name for p in tmp_path.iterdir()] == ["i.faiss"]  # no temporary file left


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_damaged_file_is_reported_as_corrupt(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "i.faiss"
    store = FaissVectorStore(16, "m")
    store.add(np.arange(20), unit_rows(20, 16))
    store.save(path)
    data = path.read_bytes()
    path.write_bytes({"garbage": b"not an index at all", "truncated": data[: len(data) // 2], "empty": b""}[damage])
    with pytest.raises(CorruptIndexError):
        FaissVectorStore.load(path)


def test_missing_file_is_not_corrupt(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        FaissVectorStore.load(tmp_path / "absent.faiss")


def test_search_many_answers_each_row_like_search() -> None:
    store = FaissVectorStore(8, "m")
    vectors = unit_rows(20, 8)
    store.add(np.arange(100, 120), vectors)
    queries = unit_rows(4, 8, seed=1)
    assert store.search_many(queries, 3) == [store.search(q, 3) for q in queries]
    assert FaissVectorStore(8, "m").search_many(queries, 3) == [[], [], [], []]
