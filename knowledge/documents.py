"""The article and chunk types every other module of the package speaks."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, NewType

ArticleId = NewType("ArticleId", str)


@dataclass(frozen=True)
class Article:
    """One knowledge article, as a trainer wrote it.

    ``body`` is Markdown; its first paragraph is the answer the bot shows.
    ``questions`` are ways customers ask for it (they are embedded too).
    """

    id: ArticleId
    title: str
    body: str
    category: str = ""
    tags: tuple[str, ...] = ()
    questions: tuple[str, ...] = ()
    updated: str = ""
    source: str = ""
    review_by: str = ""  # the date a trainer should look at it again (the workbench lists it as stale after)

    @property
    def version(self) -> str:
        """A short content hash: changes whenever anything the bot could say changes (not ``review_by``, a note
        for trainers, nor ``source``, where the file lies)."""
        canonical = json.dumps(
            [self.title, self.body, self.category, list(self.tags), list(self.questions), self.updated],
            ensure_ascii=False,
        )
        return hashlib.sha1(canonical.encode("utf-8")).hexdigest()[:12]

    @property
    def answer(self) -> str:
        """The first paragraph of the body: a complete, short answer."""
        for paragraph in self.body.strip().split("\n\n"):
            text = paragraph.strip()
            if text and not text.startswith("#"):
                return text
        return self.title

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["tags"] = list(self.tags)
        data["questions"] = list(self.questions)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Article:
        return cls(
            id=ArticleId(str(data["id"])),
            title=str(data.get("title", "")),
            body=str(data.get("body", "")),
            category=str(data.get("category", "")),
            tags=tuple(data.get("tags", ())),
            questions=tuple(data.get("questions", ())),
            updated=str(data.get("updated", "")),
            source=str(data.get("source", "")),
            review_by=str(data.get("review_by", "")),
        )


@dataclass(frozen=True)
class Chunk:
    """A piece of an article that is embedded on its own.

    ``kind`` says what the text is: ``title``, ``question`` (a customer phrasing)
    or ``passage`` (part of the body, prefixed with the title and its heading).
    """

    article_id: ArticleId
    kind: str
    text: str
    heading: str = ""


@dataclass(frozen=True)
class SearchHit:
    """One article found for a query, with the evidence for it."""

    article_id: ArticleId
    version: str
    title: str
    category: str
    tags: tuple[str, ...]
    score: float
    answer: str
    matched: str = field(default="")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["tags"] = list(self.tags)
        return data
