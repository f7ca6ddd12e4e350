"""Knowledge base: load, chunk, tag, embed, index and search articles.

This package imports none of the project's other packages; the action server
uses it in process. See :class:`knowledge.search.KnowledgeBase`.

The search half (FAISS) is imported on first use of ``KnowledgeBase`` or
``SyncReport``, so the Rasa environment, which has no FAISS, can use
:mod:`knowledge.embed` (the NLU pipeline's sentence encoder runs its
:class:`~knowledge.embed.OnnxEmbedder`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from knowledge.documents import Article, ArticleId, SearchHit

if TYPE_CHECKING:
    from knowledge.search import KnowledgeBase, SyncReport

__all__ = ["Article", "ArticleId", "KnowledgeBase", "SearchHit", "SyncReport"]


def __getattr__(name: str) -> Any:
    if name in ("KnowledgeBase", "SyncReport"):
        from knowledge import search

        return getattr(search, name)
    raise AttributeError(f"module 'knowledge' has no attribute {name!r}")
