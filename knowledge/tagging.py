"""Categories and tags for articles that arrive without them.

- :class:`CategoryClassifier` is a nearest-centroid classifier over article
  embeddings: each category is the mean of its articles' vectors. It is cheap,
  needs no training run, and fails soft: with fewer than two categorised
  articles it predicts nothing rather than guess.
- :func:`suggest_tags` picks an article's most distinctive words (TF-IDF against
  the rest of the knowledge base), for sources such as CSV exports that have no
  tags. Chinese has no spaces between words: its candidates are character pairs
  (:func:`knowledge.language.cjk_bigrams`), beside the words of any Latin text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

from knowledge.encoder import Vectors
from knowledge.language import cjk_bigrams, has_cjk

_WORD = re.compile(r"(?u)\b[a-zA-Z][a-zA-Z-]{2,}\b")


class CategoryClassifier:
    """Nearest category centroid by cosine similarity."""

    def __init__(self, vectors: Vectors, categories: Sequence[str]) -> None:
        labelled = [(v, c) for v, c in zip(vectors, categories, strict=True) if c]
        self.labels = sorted({c for _, c in labelled})
        centroids = np.zeros((len(self.labels), vectors.shape[1] if len(vectors) else 0), dtype=np.float32)
        for row, label in enumerate(self.labels):
            mean = np.mean([v for v, c in labelled if c == label], axis=0)
            centroids[row] = mean / max(float(np.linalg.norm(mean)), 1e-9)
        self._centroids = centroids

    def predict(self, vectors: Vectors) -> list[tuple[str, float]]:
        """Return (category, similarity) per row; ``("", 0.0)`` when it cannot tell."""
        if len(self.labels) < 2:
            return [("", 0.0)] * len(vectors)
        scores = vectors @ self._centroids.T
        best = scores.argmax(axis=1)
        return [(self.labels[b], float(scores[i, b])) for i, b in enumerate(best)]


def suggest_tags(texts: Sequence[str], top: int = 4) -> list[tuple[str, ...]]:
    """The ``top`` most distinctive words of each text against the others."""
    if not texts:
        return []
    if any(has_cjk(t) for t in texts):
        vectorizer = TfidfVectorizer(analyzer=_terms, sublinear_tf=True)
    else:
        vectorizer = TfidfVectorizer(stop_words="english", token_pattern=_WORD.pattern, sublinear_tf=True)
    try:
        matrix = vectorizer.fit_transform(texts)
    except ValueError:  # only stop words
        return [()] * len(texts)
    vocabulary = vectorizer.get_feature_names_out()
    tags: list[tuple[str, ...]] = []
    for row in range(matrix.shape[0]):
        weights = matrix.getrow(row).toarray().ravel()
        order = [i for i in np.argsort(-weights)[:top] if weights[i] > 0]
        tags.append(tuple(str(vocabulary[i]).lower() for i in order))
    return tags


def _terms(text: str) -> list[str]:
    """Tag candidates of a text with Chinese in it: its English words (no stop words) and its character pairs."""
    words = [w.lower() for w in _WORD.findall(text)]
    return [w for w in words if w not in ENGLISH_STOP_WORDS] + cjk_bigrams(text)
