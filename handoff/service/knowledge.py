"""The knowledge workbench (docs/training.md, "Knowledge"): the questions the knowledge base failed, grouped, with
the agents' replies as a draft; articles published, edited, merged and retired from the console; each article's
use and staleness.

- Gaps: the customer questions of the last ``HANDOFF_KNOWLEDGE_DAYS`` the bot handed off for a knowledge reason,
  whose knowledge answer was voted not helpful, or that were handed off right after a knowledge answer
  (:mod:`handoff.adapters.tickets.knowledge`), minus those a trainer dismissed or published an article for;
  grouped by near-duplicate as the NLU inbox groups (:class:`handoff.service.inbox.Grouper`, the same encoder
  and ``HANDOFF_INBOX_SIMILARITY``). Each gap: its questions, counts by reason, the articles that failed, and a
  draft article (id and title from the first question, the questions, the agents' replies as the body).
- Publishing: a checked article (:func:`handoff.core.knowledge.check_article`) is written to the sources and the
  index's next generation is published (:class:`handoff.adapters.knowledge.Library`); the action server and
  every service instance's suggestions swap to it within ``KB_RELOAD_INTERVAL`` seconds, without a restart.
- Review: per article its answers, votes and helpful rate, the hand-offs right after its answers, its
  ``updated`` and ``review_by`` dates (stale past ``review_by`` or after ``HANDOFF_KNOWLEDGE_STALE_DAYS``), and
  the near-duplicate pairs of the index (:mod:`knowledge.dedup`), which a merge settles: the kept article takes
  the other's questions, the other is retired.

The policy's ``read_knowledge`` and ``edit_knowledge``: trainers, supervisors and admins.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from handoff.core import knowledge as rules
from handoff.core.errors import BadRequest, UnknownConversation, UpstreamUnavailable
from handoff.core.knowledge import GapStatus
from handoff.core.model import MAX_ROW_ID
from handoff.service import policy
from handoff.service.auth import Principal
from handoff.service.inbox import Grouper
from handoff.service.policy import Action
from handoff.service.ports import Clock, GapQuestion, Library, SentenceEncoder, TicketLog
from handoff.settings import HandoffSettings

logger = logging.getLogger(__name__)

PAGE = 2000  # open gap questions grouped at once (the newest)
DAY = 86_400.0


class KnowledgeWorkbench:
    """Gaps, publishing and review of the knowledge base, for trainers."""

    def __init__(self, settings: HandoffSettings, log: TicketLog, encoder: SentenceEncoder, library: Library | None,
                 clock: Clock) -> None:
        self._settings = settings
        self._log = log
        self._library = library
        self._grouper = Grouper(encoder)
        self._clock = clock

    def _books(self) -> Library:
        if self._library is None:
            raise UpstreamUnavailable("The knowledge workbench is off on this server (no knowledge base).")
        return self._library

    def _since(self) -> float:
        return self._clock() - self._settings.knowledge_days * DAY

    # ---- gaps --------------------------------------------------------------------------------------------

    async def gaps(self, principal: Principal) -> dict[str, Any]:
        """The open gaps, largest first (see the module)."""
        policy.check(principal.role, Action.READ_KNOWLEDGE)
        questions, _ = await self._log.knowledge.findings(self._since())
        decided = await self._log.knowledge.decided()
        open_ = [q for q in questions if q.message_id not in decided][:PAGE]
        found, grouping = await self._grouper.group([(q.message_id, q.text) for q in open_],
                                                     self._settings.inbox_similarity)
        categories = await self._categories_of_articles()
        gaps = [_gap([open_[i] for i in members], categories) for members in found]
        gaps.sort(key=lambda g: (-int(g["size"]), -int(g["id"])))
        return {"days": self._settings.knowledge_days, "grouping": grouping, "gaps": gaps}

    async def _categories_of_articles(self) -> dict[str, str]:
        if self._library is None:
            return {}
        try:
            return {a.id: a.category for a in await asyncio.to_thread(self._library.sources)}
        except UpstreamUnavailable:
            return {}

    async def dismiss(self, principal: Principal, message_ids: Sequence[Any]) -> dict[str, Any]:
        """Dismiss the questions (a gap's, or one): they leave the gaps."""
        policy.check(principal.role, Action.EDIT_KNOWLEDGE)
        ids = _ids(message_ids)
        changed = await self._log.knowledge.decide(ids, GapStatus.DISMISSED.value, None, principal.agent_id,
                                                   self._clock())
        if not changed:
            raise UnknownConversation("There is no such customer question.")
        logger.info("knowledge gaps: %d questions dismissed by %s", changed, principal.agent_id)
        return {"dismissed": changed}

    # ---- articles ----------------------------------------------------------------------------------------

    async def articles(self, principal: Principal) -> dict[str, Any]:
        """Every article with its use, helpful rate, hand-offs after it, dates and staleness, and the
        near-duplicate pairs."""
        policy.check(principal.role, Action.READ_KNOWLEDGE)
        library = self._books()
        sources = await asyncio.to_thread(library.sources)
        kb = await asyncio.to_thread(library.indexed)
        pairs = await asyncio.to_thread(kb.duplicates)
        uses = await self._log.knowledge.article_use(self._since())
        _, handoffs = await self._log.knowledge.findings(self._since())
        today = datetime.fromtimestamp(self._clock(), UTC).date()
        twins: dict[str, list[str]] = {}
        for pair in pairs:
            twins.setdefault(pair.first, []).append(pair.second)
            twins.setdefault(pair.second, []).append(pair.first)
        rows = []
        for article in sorted(sources, key=lambda a: (a.category, a.id)):
            use = uses.get(article.id)
            votes, helpful = (use.votes, use.helpful) if use else (0, 0)
            indexed = kb.store.get(article.id).version if article.id in kb.store else None
            rows.append({"id": article.id, "title": article.title, "category": article.category,
                         "tags": list(article.tags), "updated": article.updated, "review_by": article.review_by,
                         "version": article.version, "indexed_version": indexed,
                         "answers": use.answers if use else 0, "votes": votes, "helpful": helpful,
                         "helpful_rate": rules.helpful_rate(helpful, votes),
                         "handoffs_after": handoffs.get(article.id, 0),
                         "stale": rules.stale(article.review_by, article.updated, today,
                                              self._settings.knowledge_stale_days),
                         "duplicates": sorted(twins.get(article.id, []))})
        return {"days": self._settings.knowledge_days, "stale_days": self._settings.knowledge_stale_days,
                "generation": kb.generation, "categories": await asyncio.to_thread(library.categories),
                "articles": rows, "duplicates": [{"first": p.first, "second": p.second,
                                                  "similarity": round(p.similarity, 3)} for p in pairs]}

    async def article(self, principal: Principal, article_id: str) -> dict[str, Any]:
        """One article's source, for the editor."""
        policy.check(principal.role, Action.READ_KNOWLEDGE)
        article = await asyncio.to_thread(self._books().article, _article_id(article_id))
        return {"id": article.id, "title": article.title, "category": article.category, "body": article.body,
                "questions": list(article.questions), "tags": list(article.tags), "updated": article.updated,
                "review_by": article.review_by, "version": article.version}

    async def publish(self, principal: Principal, data: Mapping[str, Any], *, new: bool,
                      gap_ids: Sequence[Any] = ()) -> dict[str, Any]:
        """Publish a new article (``new``) or a new version of one; the gap questions ``gap_ids`` it answers
        leave the gaps.

        Raises:
            BadRequest: the article is not valid. Conflict: a new article's id is taken. UnknownConversation:
            an edited article does not exist.
        """
        policy.check(principal.role, Action.EDIT_KNOWLEDGE)
        try:
            draft = rules.check_article(data)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        ids = _ids(gap_ids, empty=True)
        published = await asyncio.to_thread(self._books().publish, draft, new=new)
        if ids:
            await self._log.knowledge.decide(ids, GapStatus.PUBLISHED.value, draft.id, principal.agent_id,
                                             self._clock())
        logger.info("knowledge article %s %s by %s (generation %d)", draft.id, "published" if new else "edited",
                    principal.agent_id, published["generation"])
        return {"article": draft.to_json(), "version": published["versions"].get(draft.id), **published}

    async def retire(self, principal: Principal, article_id: str) -> dict[str, Any]:
        """Retire an article: its source goes, and the index's next generation has it no more."""
        policy.check(principal.role, Action.EDIT_KNOWLEDGE)
        published = await asyncio.to_thread(self._books().retire, _article_id(article_id))
        logger.info("knowledge article %s retired by %s (generation %d)", article_id, principal.agent_id,
                    published["generation"])
        return published

    async def merge(self, principal: Principal, keep: str, retire: str) -> dict[str, Any]:
        """Merge two near-duplicates: ``keep`` takes ``retire``'s title and questions as questions of its own,
        then ``retire`` is retired."""
        policy.check(principal.role, Action.EDIT_KNOWLEDGE)
        if _article_id(keep) == _article_id(retire):
            raise BadRequest("An article merges with another one.")
        library = self._books()
        kept = await asyncio.to_thread(library.article, keep)
        gone = await asyncio.to_thread(library.article, retire)
        questions = list(dict.fromkeys([*kept.questions, gone.title, *gone.questions]))[:rules.MAX_QUESTIONS]
        draft = {"id": kept.id, "category": kept.category, "title": kept.title, "body": kept.body,
                 "questions": questions, "tags": list(kept.tags), "review_by": kept.review_by}
        edited = await self.publish(principal, draft, new=False)
        retired = await self.retire(principal, retire)
        return {"kept": kept.id, "retired": retire, "version": edited["version"],
                "generation": retired["generation"]}


def _gap(members: Sequence[GapQuestion], categories: Mapping[str, str]) -> dict[str, Any]:
    first = members[0]
    reasons = Counter(r for q in members for r in q.reasons)
    failed = Counter(a for q in members for a in q.articles)
    replies = [r for q in members for r in q.replies]
    category = Counter(categories[a] for a in failed if a in categories).most_common(1)
    title = first.text.strip().rstrip("?!. ")[:rules.MAX_TITLE]
    questions = list(dict.fromkeys(" ".join(q.text.split())[:rules.MAX_QUESTION] for q in members))
    return {"id": first.message_id, "size": len(members), "text": first.text,
            "reasons": dict(sorted(reasons.items())),
            "articles": [{"article_id": a, "count": n} for a, n in failed.most_common()],
            "replies": len(replies), "questions": [q.to_json() for q in members],
            "draft": {"id": rules.slug(first.text), "title": title[:1].upper() + title[1:],
                      "category": category[0][0] if category else "",
                      "questions": questions[:rules.MAX_QUESTIONS], "body": rules.draft_body(replies),
                      "tags": [], "review_by": ""}}


def _ids(values: Sequence[Any], empty: bool = False) -> list[int]:
    if not isinstance(values, list | tuple) or (not values and not empty) or len(values) > PAGE:
        raise BadRequest(f"Name 1 to {PAGE} customer questions.")
    if any(isinstance(v, bool) or not isinstance(v, int) or not 0 < v <= MAX_ROW_ID for v in values):
        raise BadRequest("A customer question is named by its message id, a positive whole number.")
    return sorted(set(values))


def _article_id(value: str) -> str:
    if not rules.ARTICLE_ID.match(value or ""):
        raise UnknownConversation(f"There is no article {value[:80]!r}.")
    return value
