"""Topics in what customers wrote: clusters of sentence vectors, labelled by their distinctive words.

Given texts and their unit-length sentence vectors (the service embeds them with the knowledge base's
local model), :func:`find_topics`:

1. clusters the vectors with k-means (on unit vectors its squared distance is 2 - 2 cosine, so it groups
   by cosine similarity), trying every k from 2 to ``max_topics`` (and at most a third of the texts) and
   keeping the k with the best silhouette (cosine); fewer than :data:`MIN_TEXTS` texts are one topic;
2. labels each cluster by c-TF-IDF, as BERTopic does: the texts of a cluster are one document; a word's
   weight is its frequency in that document (per word of it) times ``log(1 + A / f)``, ``A`` the average
   number of words a cluster has and ``f`` the word's frequency over all clusters. Words common to every
   cluster (and English stop words, and a helpdesk's greetings) weigh little or nothing; the label is the
   top three of the top :data:`KEYWORDS` words and two-word phrases;
3. keeps the texts nearest the cluster's centroid as its examples.

:func:`category_of` says which ticket category a topic stands for, when one dominates it, and
:func:`nearest_topic` which topic a new text falls into, when it is close enough.

It can fail where the embedding does: texts that share words but not a need (a "card" that did not arrive
and a "card" that was declined) may fall together when there are few of them, and short texts ("hi",
"agent please") say nothing about a topic: they gather in a cluster of their own, labelled by those words.
Pure computation: no I/O; numpy and scikit-learn only (scikit-learn imported on first use: it takes seconds to
import, which every process importing the service, the server and the command line's, would pay).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]

MIN_TEXTS = 6
"""Fewer texts than this are one topic: a silhouette over two or three points per cluster means nothing."""
KEYWORDS = 6
EXAMPLES = 3
SILHOUETTE_SAMPLE = 3000
"""Texts the silhouette is computed on (a random sample beyond this: it is quadratic in their number)."""
HELPDESK_STOP_WORDS = frozenset({
    "hi", "hello", "hey", "thanks", "thank", "please", "pls", "ok", "okay", "yes", "yeah", "help", "need",
    "want", "like", "just", "know", "im", "ive", "dont", "cant", "got", "get", "guys", "agent",
    "human", "person", "talk", "speak", "someone", "real",
})
"""Words every hand-off says (greetings, asking for a person): they would label nothing."""


@cache
def stop_words() -> list[str]:
    """English stop words and :data:`HELPDESK_STOP_WORDS`."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return sorted(ENGLISH_STOP_WORDS | HELPDESK_STOP_WORDS)


@dataclass(frozen=True)
class Topic:
    """One cluster.

    Attributes:
        members: the indexes of its texts in the input.
        centroid: the unit-length mean of its vectors.
        keywords: its distinctive words and phrases, most distinctive first.
        label: the first three keywords, ``", "``-joined.
        examples: indexes of the texts nearest its centroid (distinct texts), nearest first.
    """

    members: tuple[int, ...]
    centroid: Vectors
    keywords: tuple[str, ...]
    label: str
    examples: tuple[int, ...]


def unit(vectors: Vectors) -> Vectors:
    """Each row scaled to length 1 (a zero row stays zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    scaled: Vectors = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
    return scaled


def cluster(vectors: Vectors, max_topics: int, seed: int = 0) -> npt.NDArray[np.int_]:
    """A cluster number for each vector: k-means with the k of the best cosine silhouette in
    ``2 .. min(max_topics, n // 3, distinct vectors)``; all zeros for fewer than :data:`MIN_TEXTS` vectors."""
    n = len(vectors)
    data = unit(vectors)
    distinct = len(np.unique(np.round(data, 5), axis=0))  # the same text twice is one point
    top = min(max_topics, n // 3, distinct)
    if n < MIN_TEXTS or top < 2:
        return np.zeros(n, dtype=np.int_)
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    best: tuple[float, npt.NDArray[np.int_]] | None = None
    for k in range(2, top + 1):
        labels = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(data)
        if len(set(labels.tolist())) < 2:
            continue
        score = float(silhouette_score(data, labels, metric="cosine", sample_size=min(n, SILHOUETTE_SAMPLE),
                                       random_state=seed))
        if best is None or score > best[0]:
            best = (score, labels)
    return best[1] if best is not None else np.zeros(n, dtype=np.int_)


def distinctive_words(texts: Sequence[str], labels: Sequence[int], top: int = KEYWORDS) -> dict[int, list[str]]:
    """The ``top`` words and two-word phrases of highest c-TF-IDF in each cluster (none for a cluster whose
    texts hold only stop words)."""
    clusters = sorted(set(labels))
    documents = [" ".join(t for t, label in zip(texts, labels, strict=True) if label == c) for c in clusters]
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(stop_words=stop_words(), ngram_range=(1, 2), lowercase=True,
                                 token_pattern=r"(?u)\b[^\W\d_]{2,}\b")
    try:
        counts = vectorizer.fit_transform(documents).toarray().astype(np.float64)
    except ValueError:  # nothing but stop words anywhere
        return {c: [] for c in clusters}
    words = vectorizer.get_feature_names_out()
    per_cluster = counts.sum(axis=1, keepdims=True)
    tf = counts / np.maximum(per_cluster, 1.0)
    average = float(per_cluster.mean())
    idf = np.log(1.0 + average / np.maximum(counts.sum(axis=0), 1.0))
    weights = tf * idf
    found: dict[int, list[str]] = {}
    for row, c in enumerate(clusters):
        order = [i for i in np.argsort(-weights[row], kind="stable") if weights[row, i] > 0]
        chosen: list[str] = []
        for i in order:
            word = str(words[i])
            if any(word in kept.split() or kept in word.split() for kept in chosen):
                continue  # "card" after "card arrival", or the other way round: one says it
            chosen.append(word)
            if len(chosen) == top:
                break
        found[c] = chosen
    return found


def find_topics(texts: Sequence[str], vectors: Vectors, max_topics: int = 20, seed: int = 0) -> list[Topic]:
    """The topics of ``texts`` (``vectors[i]`` is ``texts[i]``'s), largest first."""
    if len(texts) != len(vectors):
        raise ValueError("one vector per text")
    if not texts:
        return []
    data = unit(np.asarray(vectors, dtype=np.float32))
    labels = cluster(data, max_topics, seed)
    words = distinctive_words(texts, labels.tolist())
    topics = []
    for c in sorted(set(labels.tolist())):
        members = np.flatnonzero(labels == c)
        centroid = unit(data[members].mean(axis=0, keepdims=True))[0]
        nearest = members[np.argsort(-(data[members] @ centroid), kind="stable")]
        examples: list[int] = []
        seen: set[str] = set()
        for i in nearest.tolist():
            key = " ".join(texts[i].lower().split())
            if key not in seen:
                seen.add(key)
                examples.append(i)
            if len(examples) == EXAMPLES:
                break
        keywords = tuple(words.get(c, []))
        topics.append(Topic(members=tuple(members.tolist()), centroid=centroid, keywords=keywords,
                            label=", ".join(keywords[:3]) or "(no distinctive words)", examples=tuple(examples)))
    return sorted(topics, key=lambda t: (-len(t.members), t.members[0]))


@dataclass(frozen=True)
class CategoryMatch:
    """The ticket category a topic stands for: ``category`` None unless it is confident.

    Attributes:
        category: the most frequent category of the topic's tickets, if it holds at least ``min_share`` of
            them and there are at least ``min_tickets``; else None.
        share: that category's share of the topic's tickets with a category (0 when none has one).
        tickets: the topic's tickets with a category.
    """

    category: str | None
    share: float
    tickets: int


def category_of(categories: Sequence[str | None], min_share: float = 0.7, min_tickets: int = 10) -> CategoryMatch:
    """Which category the tickets of a topic (``categories``, None for a ticket without one, or a text that
    had no ticket) mostly have."""
    known = Counter(c for c in categories if c)
    total = sum(known.values())
    if not total:
        return CategoryMatch(None, 0.0, 0)
    category, count = known.most_common(1)[0]
    share = count / total
    confident = total >= min_tickets and share >= min_share
    return CategoryMatch(category if confident else None, round(share, 3), total)


def nearest_topic(vector: Vectors, centroids: Vectors, min_similarity: float) -> int | None:
    """The index of the centroid most cosine-similar to ``vector``, if at least ``min_similarity``."""
    if not len(centroids):
        return None
    similarities = unit(np.asarray(centroids, dtype=np.float32)) @ unit(np.asarray([vector], np.float32))[0]
    best = int(np.argmax(similarities))
    return best if float(similarities[best]) >= min_similarity and not math.isnan(similarities[best]) else None
