"""Knowledge base: load, chunk, tag, embed, index and search articles.

This package imports none of the project's other packages; the action server
uses it in process. See :class:`knowledge.search.KnowledgeBase`.
"""

from knowledge.documents import Article, ArticleId, SearchHit
from knowledge.search import KnowledgeBase, SyncReport

__all__ = ["Article", "ArticleId", "KnowledgeBase", "SearchHit", "SyncReport"]
