from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from knowledge.index import VectorIndex


def unit(rows: int, dimension: int = 16, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(rows, dimension)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_search_returns_the_stored_id_of_the_nearest_vector(kind: str) -> None:
    index = VectorIndex(16, kind=kind)
    vectors = unit(200)
    index.add(np.arange(1000, 1200), vectors)
    scores, ids = index.search(vectors[[5, 150]], k=3)
    assert ids[:, 0].tolist() == [1005, 1150]
    assert scores[0, 0] == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_removed_ids_are_never_returned(kind: str) -> None:
    index = VectorIndex(16, kind=kind)
    vectors = unit(100)
    index.add(np.arange(100), vectors)
    index.remove({7, 8})
    _, ids = index.search(vectors[[7, 8]], k=5)
    assert 7 not in ids and 8 not in ids
    assert len(index) == 98


def test_hnsw_compacts_when_tombstones_pile_up() -> None:
    index = VectorIndex(16, kind="hnsw")
    vectors = unit(40)
    index.add(np.arange(40), vectors)
    index.remove(set(range(15)))
    assert len(index) == 25
    assert sorted(index.ids().tolist()) == list(range(15, 40))
    _, ids = index.search(vectors[20:21], k=1)
    assert ids[0, 0] == 20


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_allowed_ids_filter_the_results(kind: str) -> None:
    index = VectorIndex(16, kind=kind)
    vectors = unit(50)
    index.add(np.arange(50), vectors)
    _, ids = index.search(vectors[0:1], k=3, allowed={10, 20})
    assert set(ids[0].tolist()) - {-1} == {10, 20}


def test_an_empty_index_returns_no_ids() -> None:
    _, ids = VectorIndex(16).search(unit(1), k=4)
    assert ids.tolist() == [[-1, -1, -1, -1]]


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_save_and_load_keep_ids_and_vectors(tmp_path: Path, kind: str) -> None:
    index = VectorIndex(16, kind=kind)
    vectors = unit(30)
    index.add(np.arange(500, 530), vectors)
    index.remove({501})
    index.save(tmp_path / "index.faiss")
    loaded = VectorIndex.load(tmp_path / "index.faiss", kind=kind)
    assert len(loaded) == 29
    _, ids = loaded.search(vectors[2:3], k=1)
    assert ids[0, 0] == 502
    np.testing.assert_allclose(loaded.vectors([502])[0], vectors[2], atol=1e-6)
