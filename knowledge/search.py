"""The knowledge base: articles, their vectors, and search over them.

:class:`KnowledgeBase` ties an :class:`~knowledge.store.ArticleStore`, a
:class:`~knowledge.index.VectorIndex` and an :class:`~knowledge.embed.Embedder`
together. Updates are incremental: :meth:`KnowledgeBase.sync` compares each
source article's version with the indexed one and embeds only what is new or
changed; retired articles lose their vectors. Whether the best article
answers a question at all is :meth:`KnowledgeBase.verdict`'s call
(:mod:`knowledge.answerability`), calibrated by :meth:`KnowledgeBase.calibrate`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.answerability import (
    DEFAULT_ABSTAIN_TARGET,
    Answerability,
    CalibrationSource,
    Verdict,
    calibrate,
    threshold_verdict,
)
from knowledge.answerability import FILE as ANSWERABILITY_FILE
from knowledge.chunking import chunk_article
from knowledge.dedup import DEFAULT_THRESHOLD, DuplicatePair, near_duplicates
from knowledge.documents import Article, ArticleId, SearchHit
from knowledge.embed import Embedder, query_embedder
from knowledge.encoder import Vectors
from knowledge.errors import IndexNotBuilt
from knowledge.index import VectorIndex
from knowledge.settings import KnowledgeSettings
from knowledge.store import InMemoryArticleStore, StoredArticle
from knowledge.tagging import CategoryClassifier, suggest_tags

logger = logging.getLogger(__name__)

INDEX_FILE = "index.faiss"
STORE_FILE = "articles.json"
META_FILE = "meta.json"
FORMAT_VERSION = 1


@dataclass
class SyncReport:
    """What :meth:`KnowledgeBase.sync` did, by article id."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    unchanged: int = 0

    def __str__(self) -> str:
        return (f"{len(self.added)} added, {len(self.changed)} changed, "
                f"{len(self.retired)} retired, {self.unchanged} unchanged")


class KnowledgeBase:
    """Search and incremental maintenance of a set of articles."""

    def __init__(self, embedder: Embedder, index_kind: str = "auto", hnsw_threshold: int = 20_000) -> None:
        self.embedder = embedder
        self.index_kind = index_kind
        self.hnsw_threshold = hnsw_threshold
        self.store = InMemoryArticleStore()
        self.index = VectorIndex(embedder.dimension, kind=self._kind_for(0))
        self._next_id = 0
        self.answerability: Answerability | None = None
        self.generation = 0  # the published generation it was loaded from (knowledge.live); 0: none

    # -- maintenance ---------------------------------------------------------------------------

    def sync(self, articles: Sequence[Article], retire_missing: bool = True,
             progress: bool = False) -> SyncReport:
        """Make the knowledge base hold exactly ``articles`` (or at least them, if not ``retire_missing``)."""
        report = SyncReport()
        pending: list[Article] = []
        for article in articles:
            if article.id in self.store:
                if self.store.get(article.id).version == article.version:
                    report.unchanged += 1
                    continue
                report.changed.append(article.id)
            else:
                report.added.append(article.id)
            pending.append(article)
        if retire_missing:
            wanted = {a.id for a in articles}
            for stored in self.store:
                if stored.article.id not in wanted:
                    self.retire(stored.article.id)
                    report.retired.append(stored.article.id)
        self._index_articles(pending, progress)
        self._rekind()
        logger.info("knowledge base synced: %s", report)
        return report

    def upsert(self, article: Article) -> str:
        """Add or replace one article; returns ``added``, ``changed`` or ``unchanged``."""
        report = self.sync([article], retire_missing=False)
        return "added" if report.added else "changed" if report.changed else "unchanged"

    def retire(self, article_id: str) -> StoredArticle:
        """Remove one article and its vectors.

        Raises:
            ArticleNotFound: no such article.
        """
        stored = self.store.delete(article_id)
        self.index.remove(stored.vector_ids)
        return stored

    def _index_articles(self, articles: Sequence[Article], progress: bool) -> None:
        if not articles:
            return
        versions = {a.id: a.version for a in articles}  # of the source, before completion
        articles, predicted = self._complete_metadata(articles)
        chunks = [(a, c) for a in articles for c in chunk_article(a)]
        vectors = self.embedder.encode([c.text for _, c in chunks], progress=progress)
        ids = np.arange(self._next_id, self._next_id + len(chunks), dtype=np.int64)
        self._next_id += len(chunks)
        for article in articles:
            if article.id in self.store:
                self.retire(article.id)
        self.index.add(ids, vectors)
        by_article: dict[str, dict[int, Any]] = {}
        for vector_id, (article, chunk) in zip(ids.tolist(), chunks, strict=True):
            by_article.setdefault(article.id, {})[vector_id] = chunk
        for article in articles:
            owned = by_article[article.id]
            stored = StoredArticle(article, versions[article.id], tuple(owned), article.id in predicted)
            self.store.put(stored, owned)

    def _complete_metadata(self, articles: Sequence[Article]) -> tuple[list[Article], set[str]]:
        """Give articles without a category a predicted one, and without tags suggested ones.

        Returns the completed articles and the ids whose category was predicted.
        """
        missing_tags = [a for a in articles if not a.tags]
        tags = dict(zip([a.id for a in missing_tags],
                        suggest_tags([f"{a.title}\n{a.body}" for a in missing_tags]), strict=True))
        uncategorised = [a for a in articles if not a.category]
        predicted: dict[str, str] = {}
        if uncategorised:
            known = [s for s in self.store if s.article.category and not s.predicted_category]
            known_arts = [s.article for s in known] + [a for a in articles if a.category]
            if known_arts:
                vectors = self.embedder.encode([f"{a.title}. {a.answer}" for a in known_arts])
                classifier = CategoryClassifier(vectors, [a.category for a in known_arts])
                guesses = classifier.predict(self.embedder.encode([f"{a.title}. {a.answer}" for a in uncategorised]))
                predicted = {a.id: label for a, (label, _) in zip(uncategorised, guesses, strict=True) if label}
        out = []
        for article in articles:
            changes: dict[str, Any] = {}
            if article.id in tags:
                changes["tags"] = tags[article.id]
            if article.id in predicted:
                changes["category"] = predicted[article.id]
            out.append(dataclasses.replace(article, **changes) if changes else article)
        return out, set(predicted)

    def _kind_for(self, vectors: int) -> str:
        if self.index_kind != "auto":
            return self.index_kind
        return "hnsw" if vectors >= self.hnsw_threshold else "flat"

    def _rekind(self) -> None:
        kind = self._kind_for(len(self.index))
        if kind == self.index.kind:
            return
        ids = self.index.ids()
        vectors = self.index.vectors(ids.tolist())
        self.index = VectorIndex(self.embedder.dimension, kind=kind)
        self.index.add(ids, vectors)
        logger.info("knowledge index switched to %s at %d vectors", kind, len(ids))

    # -- queries -------------------------------------------------------------------------------

    def search(self, query: str, k: int = 5, category: str | None = None,
               tags: Iterable[str] = (), min_score: float = 0.0) -> list[SearchHit]:
        """The ``k`` best articles for ``query``, best first, each scored by its best chunk.

        Args:
            query: the customer's words.
            k: how many articles to return at most.
            category: only articles of this category.
            tags: only articles carrying all of these tags.
            min_score: drop articles scoring below this cosine similarity.
        """
        vector = self.embedder.encode([query])
        return self.search_vector(vector, k, category, tags, min_score)

    def search_vector(self, vector: Vectors, k: int = 5, category: str | None = None,
                      tags: Iterable[str] = (), min_score: float = 0.0) -> list[SearchHit]:
        allowed = self._allowed(category, set(tags))
        fetch = min(max(k * 8, 32), max(len(self.index), 1))
        scores, ids = self.index.search(vector.reshape(1, -1), fetch, allowed=allowed)
        best: dict[ArticleId, tuple[float, str]] = {}
        for score, vector_id in zip(scores[0].tolist(), ids[0].tolist(), strict=True):
            if vector_id < 0:
                continue
            chunk = self.store.chunk(vector_id)
            if chunk.article_id not in best or score > best[chunk.article_id][0]:
                best[chunk.article_id] = (score, chunk.text)
        ranked = sorted(best.items(), key=lambda kv: -kv[1][0])
        hits = []
        for article_id, (score, matched) in ranked[:k]:
            if score < min_score:
                break
            stored = self.store.get(article_id)
            a = stored.article
            hits.append(SearchHit(a.id, stored.version, a.title, a.category, a.tags, round(score, 4),
                                  a.answer, matched))
        return hits

    def _allowed(self, category: str | None, tags: set[str]) -> set[int] | None:
        if not category and not tags:
            return None
        allowed: set[int] = set()
        for stored in self.store:
            a = stored.article
            if category and a.category != category:
                continue
            if tags and not tags.issubset(a.tags):
                continue
            allowed.update(stored.vector_ids)
        return allowed

    def verdict(self, scores: Sequence[float], min_score: float) -> Verdict:
        """Answer with the best article or abstain, for a question whose best articles scored ``scores``.

        ``scores`` are the search's hits' scores, best first (:meth:`search`).
        By the calibrated rule when the knowledge base has been calibrated
        (:meth:`calibrate`), else by the cosine threshold ``min_score``.
        """
        if self.answerability is None:
            return threshold_verdict(scores, min_score)
        return self.answerability.verdict(scores)

    def calibrate(self, abstain_target: float = DEFAULT_ABSTAIN_TARGET) -> Answerability | None:
        """Fit the answer-or-abstain rule on this knowledge base's own titles and questions.

        See :mod:`knowledge.answerability`. Leaves no calibration (the threshold
        rule) when there are too few articles to calibrate on.
        """
        ids = self.index.ids()
        chunks = [self.store.chunk(int(i)) for i in ids.tolist()]
        sources = [CalibrationSource(c.article_id, c.text, int(i))
                   for i, c in zip(ids.tolist(), chunks, strict=True) if c.kind in ("title", "question")]
        self.answerability = calibrate(sources, ids, [c.article_id for c in chunks],
                                       self.index.vectors(ids.tolist()), self.embedder.encode, abstain_target)
        return self.answerability

    def duplicates(self, threshold: float = DEFAULT_THRESHOLD) -> list[DuplicatePair]:
        """Near-duplicate article pairs (see :mod:`knowledge.dedup`)."""
        stored = list(self.store)
        vectors = np.stack([self.index.vectors(list(s.vector_ids)).mean(axis=0) for s in stored]) \
            if stored else np.zeros((0, self.embedder.dimension), dtype=np.float32)
        return near_duplicates([s.article.id for s in stored], vectors, threshold)

    def stats(self) -> dict[str, Any]:
        categories: dict[str, int] = {}
        for stored in self.store:
            categories[stored.article.category or "(none)"] = categories.get(stored.article.category or "(none)", 0) + 1
        return {"articles": len(self.store), "vectors": len(self.index), "index_kind": self.index.kind,
                "model": self.embedder.name, "dimension": self.embedder.dimension,
                "categories": dict(sorted(categories.items()))}

    # -- persistence ---------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """Write the index, the articles and a metadata file to ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        self.index.save(directory / INDEX_FILE)
        self.store.save(directory / STORE_FILE)
        meta = {"format": FORMAT_VERSION, "model": self.embedder.name, "dimension": self.embedder.dimension,
                "index_kind": self.index.kind, "next_id": self._next_id}
        (directory / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        if self.answerability is not None:
            self.answerability.save(directory / ANSWERABILITY_FILE)
        else:
            (directory / ANSWERABILITY_FILE).unlink(missing_ok=True)

    @classmethod
    def load(cls, directory: Path, embedder: Embedder, index_kind: str = "auto",
             hnsw_threshold: int = 20_000) -> KnowledgeBase:
        """Open a knowledge base written by :meth:`save`, or the generation ``directory``'s ``meta.json`` points
        at (:func:`knowledge.live.publish`).

        Raises:
            IndexNotBuilt: nothing was saved there.
        """
        meta = json.loads(require_index(directory).read_text())
        files = directory / meta["path"] if meta.get("path") else directory  # a generation (knowledge.live)
        if meta["model"] != embedder.name or meta["dimension"] != embedder.dimension:
            raise IndexNotBuilt(
                f"The index in {directory} was built with {meta['model']}, not {embedder.name}: rebuild it.")
        kb = cls(embedder, index_kind=index_kind, hnsw_threshold=hnsw_threshold)
        kb.index = VectorIndex.load(files / INDEX_FILE, kind=meta["index_kind"])
        kb.store = InMemoryArticleStore.load(files / STORE_FILE)
        kb._next_id = int(meta["next_id"])
        kb.generation = int(meta.get("generation", 0))
        kb.answerability = Answerability.load(files / ANSWERABILITY_FILE)
        if kb.answerability is None:
            logger.warning("no answerability calibration in %s (an index built before it existed, or too few "
                           "articles): answering by the cosine threshold KB_MIN_SCORE; `python -m knowledge "
                           "build` (or `make models`) calibrates it", directory)
        return kb


def require_index(directory: Path) -> Path:
    """The metadata file of the index in ``directory``: a cheap check to make before loading a model.

    Raises:
        IndexNotBuilt: there is no index in ``directory``.
    """
    meta = directory / META_FILE
    if not meta.exists():
        raise IndexNotBuilt(f"No knowledge index in {directory}: run `python -m knowledge build` first.")
    return meta


def open_for_queries(settings: KnowledgeSettings) -> KnowledgeBase:
    """The knowledge base in ``settings.index_dir``, ready to answer queries in a server or a command.

    The one way to open it for searching (the action server, the handoff service's suggestions, the CLI's
    ``search``, ``duplicates``, ``stats`` and ``remove``). It checks the index is there before any model
    loads, then embeds queries with the ONNX export of the index's model when ``settings.encoder_dir``
    holds one, else with PyTorch, on one thread per call either way (:func:`knowledge.embed.query_embedder`).
    Indexing new articles wants the model that built the index: build with
    :class:`~knowledge.embed.SentenceTransformerEmbedder` instead.

    Raises:
        IndexNotBuilt: there is no index, or it was built with another model.
        SettingsError: the model is not on this machine.
    """
    require_index(settings.index_dir)
    embedder = query_embedder(settings.model, settings.encoder_dir, settings.batch_size, settings.device)
    return KnowledgeBase.load(settings.index_dir, embedder, settings.index_kind, settings.hnsw_threshold)


def open_or_create(directory: Path, embedder_factory: Callable[[], Embedder], index_kind: str,
                   hnsw_threshold: int) -> KnowledgeBase:
    """Load the knowledge base in ``directory``, or start an empty one if there is none yet."""
    embedder = embedder_factory()
    try:
        return KnowledgeBase.load(directory, embedder, index_kind, hnsw_threshold)
    except IndexNotBuilt:
        return KnowledgeBase(embedder, index_kind, hnsw_threshold)
