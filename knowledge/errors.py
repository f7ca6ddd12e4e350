"""Errors raised by the knowledge package.

::

    KnowledgeError
    ├── SettingsError        a KB_* variable is missing or malformed
    ├── SourceError          a knowledge source file cannot be read or is malformed
    ├── ArticleNotFound      an article id is not in the knowledge base
    └── IndexNotBuilt        search was asked of a knowledge base with no index on disk

Every message is a sentence a trainer can act on: it names the file, the line or
the article id involved.
"""

from __future__ import annotations


class KnowledgeError(Exception):
    """Base class of every error raised by :mod:`knowledge`."""


class SettingsError(KnowledgeError):
    """A configuration value is missing or malformed."""


class SourceError(KnowledgeError):
    """A source file cannot be parsed into articles."""


class ArticleNotFound(KnowledgeError):
    """The requested article id does not exist."""

    def __init__(self, article_id: str) -> None:
        super().__init__(f"No article with id {article_id!r} in the knowledge base.")
        self.article_id = article_id


class IndexNotBuilt(KnowledgeError):
    """No index exists at the configured location."""
