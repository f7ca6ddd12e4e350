"""FAISS vector index with stable ids, incremental add and remove, and filters.

Two kinds, one interface:

- ``flat``: exact inner-product search. Best below a few tens of thousands of
  vectors; costs grow linearly with the index.
- ``hnsw``: approximate search (HNSW graph). Sub-millisecond at 100k vectors; it
  can miss a true neighbour, so its recall against ``flat`` is measured in
  ``make bench``. FAISS cannot delete from an HNSW graph: removed ids become
  tombstones, excluded at search time, and the graph is rebuilt from the live
  vectors once tombstones pass a quarter of it.

Vectors must be L2-normalised, so inner product is cosine similarity.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt

from knowledge.encoder import Vectors

Ids = npt.NDArray[np.int64]
COMPACT_RATIO = 0.25


class VectorIndex:
    """An id-mapped FAISS index of one kind (``flat`` or ``hnsw``)."""

    def __init__(self, dimension: int, kind: str = "flat", hnsw_m: int = 32,
                 ef_construction: int = 80, ef_search: int = 96) -> None:
        if kind not in ("flat", "hnsw"):
            raise ValueError(f"index kind must be 'flat' or 'hnsw', not {kind!r}")
        self.dimension = dimension
        self.kind = kind
        self.hnsw_m = hnsw_m
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self._index = self._empty()
        self._tombstones: set[int] = set()

    def _empty(self) -> faiss.IndexIDMap2:
        if self.kind == "flat":
            return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dimension))
        graph = faiss.IndexHNSWFlat(self.dimension, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = self.ef_construction
        graph.hnsw.efSearch = self.ef_search
        return faiss.IndexIDMap2(graph)

    def __len__(self) -> int:
        return int(self._index.ntotal) - len(self._tombstones)

    def add(self, ids: Ids, vectors: Vectors) -> None:
        """Add ``vectors`` under ``ids`` (ids must be new)."""
        if len(ids) == 0:
            return
        if vectors.shape != (len(ids), self.dimension):
            raise ValueError(f"expected {len(ids)} vectors of dimension {self.dimension}, got {vectors.shape}")
        self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                                 np.asarray(ids, dtype=np.int64))

    def remove(self, ids: Collection[int]) -> None:
        """Remove ``ids``; unknown ids are ignored."""
        if not ids:
            return
        if self.kind == "flat":
            self._index.remove_ids(np.asarray(sorted(ids), dtype=np.int64))  # type: ignore[arg-type]
            return
        self._tombstones.update(int(i) for i in ids)
        if len(self._tombstones) > COMPACT_RATIO * max(1, self._index.ntotal):
            self._compact()

    def vectors(self, ids: Collection[int]) -> Vectors:
        """The stored vectors of ``ids`` (in the given order)."""
        out = np.zeros((len(ids), self.dimension), dtype=np.float32)
        for row, vector_id in enumerate(ids):
            out[row] = self._index.reconstruct(int(vector_id))
        return out

    def search(self, queries: Vectors, k: int,
               allowed: Collection[int] | None = None) -> tuple[npt.NDArray[np.float32], Ids]:
        """Return the ``k`` best (scores, ids) per query; missing slots have id -1.

        Args:
            queries: one normalised vector a row.
            k: neighbours per query.
            allowed: if given, only these ids may be returned (a filter).
        """
        if self._index.ntotal == 0 or k <= 0:
            empty = np.full((len(queries), max(k, 0)), -1, dtype=np.int64)
            return np.zeros(empty.shape, dtype=np.float32), empty
        params = self._params(allowed)
        scores, ids = self._index.search(np.ascontiguousarray(queries, dtype=np.float32), k, params=params)
        return scores, ids

    def _params(self, allowed: Collection[int] | None) -> faiss.SearchParameters | None:
        selector: faiss.IDSelector | None = None
        if allowed is not None:
            live = np.asarray(sorted(set(allowed) - self._tombstones), dtype=np.int64)
            selector = faiss.IDSelectorBatch(live)
        elif self._tombstones:
            dead = np.asarray(sorted(self._tombstones), dtype=np.int64)
            selector = faiss.IDSelectorNot(faiss.IDSelectorBatch(dead))
        if self.kind == "hnsw":
            params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]
            params.efSearch = self.ef_search
        elif selector is None:
            return None
        else:
            params = faiss.SearchParameters()
        if selector is not None:
            params.sel = selector
            params._selector_ref = selector  # keep the selector alive while FAISS holds a pointer
        return params  # type: ignore[no-any-return]

    def ids(self) -> Ids:
        """Every live id."""
        stored = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        if not self._tombstones:
            return stored
        return stored[~np.isin(stored, np.fromiter(self._tombstones, dtype=np.int64))]

    def _compact(self) -> None:
        live = self.ids()
        vectors = self.vectors(live.tolist())
        self._index = self._empty()
        self._tombstones = set()
        self.add(live, vectors)

    def save(self, path: Path) -> None:
        """Write the index (tombstones compacted away) to ``path``."""
        if self._tombstones:
            self._compact()
        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path, kind: str, ef_search: int = 96) -> VectorIndex:
        raw = faiss.read_index(str(path))
        index = cls(raw.d, kind=kind, ef_search=ef_search)
        index._index = raw if isinstance(raw, faiss.IndexIDMap2) else faiss.downcast_index(raw)  # type: ignore[assignment]
        return index
