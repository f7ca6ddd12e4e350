"""Where articles and the chunk table live, beside the vector index.

:class:`ArticleStore` is the interface; :class:`InMemoryArticleStore` keeps
everything in dictionaries and persists to one JSON file, which is plenty for
tens of thousands of articles. A database-backed store only has to implement the
same methods.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from knowledge.documents import Article, ArticleId, Chunk
from knowledge.errors import ArticleNotFound


@dataclass(frozen=True)
class StoredArticle:
    """An article, the version that was indexed, and its vector ids."""

    article: Article
    version: str
    vector_ids: tuple[int, ...]
    predicted_category: bool = False


class ArticleStore(Protocol):
    """Articles by id and chunks by vector id."""

    def get(self, article_id: str) -> StoredArticle: ...

    def put(self, stored: StoredArticle, chunks: dict[int, Chunk]) -> None: ...

    def delete(self, article_id: str) -> StoredArticle: ...

    def chunk(self, vector_id: int) -> Chunk: ...

    def __contains__(self, article_id: object) -> bool: ...

    def __iter__(self) -> Iterator[StoredArticle]: ...

    def __len__(self) -> int: ...


class InMemoryArticleStore:
    """An :class:`ArticleStore` in dictionaries, saved as JSON."""

    def __init__(self) -> None:
        self._articles: dict[str, StoredArticle] = {}
        self._chunks: dict[int, Chunk] = {}

    def get(self, article_id: str) -> StoredArticle:
        try:
            return self._articles[article_id]
        except KeyError:
            raise ArticleNotFound(article_id) from None

    def put(self, stored: StoredArticle, chunks: dict[int, Chunk]) -> None:
        if stored.article.id in self._articles:
            self.delete(stored.article.id)
        self._articles[stored.article.id] = stored
        self._chunks.update(chunks)

    def delete(self, article_id: str) -> StoredArticle:
        stored = self.get(article_id)
        del self._articles[article_id]
        for vector_id in stored.vector_ids:
            self._chunks.pop(vector_id, None)
        return stored

    def chunk(self, vector_id: int) -> Chunk:
        return self._chunks[vector_id]

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._articles

    def __iter__(self) -> Iterator[StoredArticle]:
        return iter(list(self._articles.values()))

    def __len__(self) -> int:
        return len(self._articles)

    def save(self, path: Path) -> None:
        data = {
            "articles": [
                {"article": s.article.to_dict(), "version": s.version, "vector_ids": list(s.vector_ids),
                 "predicted_category": s.predicted_category}
                for s in self._articles.values()
            ],
            "chunks": {str(i): [c.article_id, c.kind, c.text, c.heading] for i, c in self._chunks.items()},
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> InMemoryArticleStore:
        data = json.loads(path.read_text(encoding="utf-8"))
        store = cls()
        for row in data["articles"]:
            article = Article.from_dict(row["article"])
            store._articles[article.id] = StoredArticle(
                article, row["version"], tuple(row["vector_ids"]), row.get("predicted_category", False))
        store._chunks = {
            int(i): Chunk(ArticleId(a), kind, text, heading) for i, (a, kind, text, heading) in data["chunks"].items()
        }
        return store
