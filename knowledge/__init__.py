"""Knowledge base: load, chunk, tag, embed, index and search articles.

This package imports none of the project's other packages; the action server
and the handoff service use it in process. See :class:`knowledge.search.KnowledgeBase`.

Importing the package imports nothing else: the public names below load their
modules on first use (PEP 562). The Rasa environment, which has neither FAISS
nor PyTorch, imports :mod:`knowledge.encoder` alone, and Python runs this file
first.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from knowledge.documents import Article, ArticleId, SearchHit
    from knowledge.search import KnowledgeBase, SyncReport

_MODULE_OF = {"Article": "knowledge.documents", "ArticleId": "knowledge.documents",
              "SearchHit": "knowledge.documents", "KnowledgeBase": "knowledge.search",
              "SyncReport": "knowledge.search"}

__all__ = ["Article", "ArticleId", "KnowledgeBase", "SearchHit", "SyncReport"]


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'knowledge' has no attribute {name!r}")
    return getattr(importlib.import_module(_MODULE_OF[name]), name)
