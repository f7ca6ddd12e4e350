"""The knowledge workbench's rules (docs/training.md, "Knowledge"): what an article a trainer publishes must be,
which customer questions are knowledge gaps, and when an article is stale. Pure: the service reads and writes.

An article's fields, as the workbench takes them (:func:`check_article`):

- ``id``: a slug, 3-80 characters of ``a-z``, ``0-9`` and ``-``, starting with a letter or digit; it names the
  file ``data/knowledge/<category>/<id>.md`` and is the ``article_id`` citations carry;
- ``category``: one of the knowledge base's folders, or a new slug (2-32 characters, starting with a letter);
- ``title`` (1-200 characters, one line), ``body`` (Markdown, 1-:data:`MAX_BODY` characters; its first paragraph
  is the answer the bot gives), ``questions`` (up to 20 customer phrasings, one line each), ``tags`` (up to 12
  slugs), ``review_by`` (an ISO date, or empty).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

MAX_BODY = 20_000
MAX_TITLE = 200
MAX_QUESTION = 300
MAX_QUESTIONS = 20
MAX_TAGS = 12
ARTICLE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{2,79}$")
CATEGORY = re.compile(r"^[a-z][a-z0-9-]{1,31}$")
TAG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
DRAFT_REPLIES = 5  # agents' replies a gap's draft body is made of, at most

KNOWLEDGE_HANDOFF_REASONS = frozenset({"no_answer", "low_knowledge_score"})
"""The hand-off reason codes (schemas/handoff.schema.json) that say the knowledge base had no answer."""


class GapReason(StrEnum):
    """Why a customer question is a knowledge gap."""

    NO_ANSWER = "no_answer"  # the bot handed off for a knowledge reason
    NOT_HELPFUL = "not_helpful"  # the knowledge answer to it was voted not helpful
    HANDED_OFF_AFTER_ANSWER = "handed_off_after_answer"  # the bot answered from an article, then a person took over


class GapStatus(StrEnum):
    DISMISSED = "dismissed"
    PUBLISHED = "published"


@dataclass(frozen=True)
class ArticleDraft:
    """An article as a trainer publishes it (checked by :func:`check_article`)."""

    id: str
    category: str
    title: str
    body: str
    questions: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    review_by: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "category": self.category, "title": self.title, "body": self.body,
                "questions": list(self.questions), "tags": list(self.tags), "review_by": self.review_by}


def _line(value: Any, name: str, limit: int) -> str:
    if not isinstance(value, str):
        raise ValueError(f"The {name} is text.")
    text = " ".join("".join(" " if unicodedata.category(c)[0] == "C" else c for c in value).split())
    if not text:
        raise ValueError(f"The {name} is empty.")
    if len(text) > limit:
        raise ValueError(f"The {name} is longer than {limit} characters.")
    return text


def check_article(data: Mapping[str, Any]) -> ArticleDraft:
    """The article ``data`` describes, cleaned (whitespace, control characters), or ValueError with a sentence a
    trainer can act on."""
    article_id = str(data.get("id") or "").strip()
    if not ARTICLE_ID.fullmatch(article_id):
        raise ValueError("The id is 3-80 characters of a-z, 0-9 and '-', starting with a letter or digit.")
    category = str(data.get("category") or "").strip()
    if not CATEGORY.fullmatch(category):
        raise ValueError("The category is 2-32 characters of a-z, 0-9 and '-', starting with a letter.")
    title = _line(data.get("title"), "title", MAX_TITLE)
    body = data.get("body")
    if not isinstance(body, str) or not body.strip():
        raise ValueError("The body is empty.")
    body = "\n".join(line.rstrip() for line in body.replace("\r\n", "\n").replace("\r", "\n").strip().split("\n"))
    body = "".join(c for c in body if c in "\n\t" or unicodedata.category(c) != "Cc")
    if len(body) > MAX_BODY:
        raise ValueError(f"The body is longer than {MAX_BODY:,} characters.")
    raw_questions = data.get("questions") or []
    if not isinstance(raw_questions, list) or len(raw_questions) > MAX_QUESTIONS:
        raise ValueError(f"The questions are a list of at most {MAX_QUESTIONS}.")
    questions = tuple(dict.fromkeys(_line(q, "question", MAX_QUESTION) for q in raw_questions
                                    if isinstance(q, str) and q.strip()))
    raw_tags = data.get("tags") or []
    if not isinstance(raw_tags, list) or len(raw_tags) > MAX_TAGS:
        raise ValueError(f"The tags are a list of at most {MAX_TAGS}.")
    tags = tuple(dict.fromkeys(str(t).strip().lower() for t in raw_tags if str(t).strip()))
    if bad := [t for t in tags if not TAG.fullmatch(t)]:
        raise ValueError(f"A tag is up to 32 characters of a-z, 0-9, '-' and '_': not {bad[0]!r}.")
    review_by = str(data.get("review_by") or "").strip()
    if review_by:
        try:
            review_by = date.fromisoformat(review_by).isoformat()
        except ValueError:
            raise ValueError("The review-by date is a date (YYYY-MM-DD).") from None
    return ArticleDraft(article_id, category, title, body, questions, tags, review_by)


def slug(text: str, limit: int = 60) -> str:
    """An article id suggested from a question: "Do you ship to Mars?" -> ``do-you-ship-to-mars``."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    words = re.sub(r"[^a-z0-9]+", " ", folded).split()
    out = "-".join(words)[:limit].strip("-")
    return out if len(out) >= 3 else f"article-{out}".strip("-")


def draft_body(replies: Iterable[str]) -> str:
    """A gap's draft body: the agents' distinct replies (the longest first, at most :data:`DRAFT_REPLIES`), one
    paragraph each: the trainer edits it into an answer."""
    seen: dict[str, str] = {}
    for reply in replies:
        text = reply.strip()
        if text and text.casefold() not in seen:
            seen[text.casefold()] = text
    kept = sorted(seen.values(), key=lambda t: -len(t))[:DRAFT_REPLIES]
    return "\n\n".join(kept)[:MAX_BODY]


def stale(review_by: str, updated: str, today: date, stale_days: int) -> str | None:
    """Why an article is due for review (``review_by`` passed, or not updated for ``stale_days``), or None."""
    try:
        if review_by and date.fromisoformat(review_by) < today:
            return "review_by"
    except ValueError:
        return "review_by"
    try:
        if not updated or (today - date.fromisoformat(updated[:10])).days > stale_days:
            return "not_updated"
    except ValueError:
        return "not_updated"
    return None


def helpful_rate(helpful: int, votes: int) -> float | None:
    """Helpful votes over votes (None without votes)."""
    return round(helpful / votes, 3) if votes else None
