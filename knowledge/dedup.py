"""Near-duplicate articles: two articles that would answer the same question.

Each article is represented by the mean of its chunk vectors; pairs above a
cosine threshold are reported, most similar first. Duplicates matter because
they split feedback between two versions of one answer and make retrieval
scores ambiguous; trainers merge or retire one of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np

from knowledge.encoder import Vectors

DEFAULT_THRESHOLD = 0.92


@dataclass(frozen=True)
class DuplicatePair:
    first: str
    second: str
    similarity: float


def near_duplicates(ids: list[str], vectors: Vectors, threshold: float = DEFAULT_THRESHOLD,
                    neighbours: int = 8) -> list[DuplicatePair]:
    """Pairs of ``ids`` whose vectors have cosine similarity of at least ``threshold``."""
    if len(ids) < 2:
        return []
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = np.ascontiguousarray(vectors / np.maximum(norms, 1e-9), dtype=np.float32)
    index = faiss.IndexFlatIP(unit.shape[1])
    index.add(unit)
    scores, rows = index.search(unit, min(neighbours + 1, len(ids)))
    pairs: dict[tuple[str, str], float] = {}
    for i in range(len(ids)):
        for score, j in zip(scores[i], rows[i], strict=True):
            if j < 0 or j == i or score < threshold:
                continue
            a, b = sorted((ids[i], ids[int(j)]))
            pairs[(a, b)] = max(pairs.get((a, b), 0.0), float(score))
    return [DuplicatePair(a, b, s) for (a, b), s in sorted(pairs.items(), key=lambda kv: -kv[1])]
