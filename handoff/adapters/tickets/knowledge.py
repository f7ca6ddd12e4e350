"""The knowledge workbench's reading of the ticket log (docs/training.md, "Knowledge"): the customer questions the
knowledge base failed, the agents' replies to them, each article's use; and the trainers' decisions on gaps
(:class:`~handoff.adapters.tickets.models.KnowledgeGap`).

A question is a customer message, found three ways (its ``reasons``, :class:`handoff.core.knowledge.GapReason`):

- ``no_answer``: the bot handed off on it with a knowledge reason (``no_answer``, ``low_knowledge_score``);
- ``handed_off_after_answer``: the bot answered it from an article (a bot message with a citation), and the
  conversation was handed off on the customer's next message: a person had to answer after all;
- ``not_helpful``: the knowledge answer to it was voted not helpful.

The agents' replies after the question in its conversation come along (the draft of an article). One pass over
the conversations of the window's tickets and votes (the newest :data:`CONVERSATIONS` of them) finds both the
questions and, per article, the hand-offs right after its answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select

from handoff.adapters.tickets.database import Repository, utc
from handoff.adapters.tickets.models import Conversation, Feedback, KnowledgeGap, Message, Ticket
from handoff.core.knowledge import DRAFT_REPLIES, KNOWLEDGE_HANDOFF_REASONS, GapReason

CONVERSATIONS = 2000  # the newest conversations with a hand-off or a vote that are read for gaps
ANSWERS = 200_000  # bot messages read for the answers per article, at most (the newest)


@dataclass
class GapQuestion:
    """A customer question the knowledge base failed, as found in the log."""

    message_id: int
    conversation_id: str
    text: str
    at: datetime
    reasons: list[str] = field(default_factory=list)
    articles: list[str] = field(default_factory=list)  # the articles that answered it and failed
    replies: list[str] = field(default_factory=list)  # the agents' replies after it in its conversation

    def to_json(self) -> dict[str, Any]:
        return {"message_id": self.message_id, "conversation_id": self.conversation_id, "text": self.text,
                "at": self.at.isoformat(), "reasons": self.reasons, "articles": self.articles}


@dataclass
class ArticleUse:
    """One article's use in the window: its answers (bot messages citing it), votes and helpful votes (the
    hand-offs right after its answers come with the gaps: :meth:`KnowledgeBook.findings`)."""

    answers: int = 0
    votes: int = 0
    helpful: int = 0


def _citation(message: Message) -> str | None:
    custom = (message.payload or {}).get("custom") if message.sender == "bot" else None
    citation = custom.get("citation") if isinstance(custom, dict) else None
    article = citation.get("article_id") if isinstance(citation, dict) else None
    return str(article) if article else None


def _codes(request: Any) -> set[str]:
    reasons = request.get("reasons") if isinstance(request, dict) else None
    return {str(r.get("code")) for r in reasons or [] if isinstance(r, dict)}


class KnowledgeBook(Repository):
    """The workbench's reading of the log, and the gap decisions (a repository of the ticket log)."""

    async def findings(self, since: datetime | float) -> tuple[list[GapQuestion], dict[str, int]]:
        """The gap questions since ``since`` (newest first) and, per article, the hand-offs right after one of
        its answers."""
        moment = utc(since)
        async with self._sessions() as session:
            tickets = (await session.execute(
                select(Ticket.conversation_id, Ticket.created_at, Ticket.request)
                .join(Conversation, Conversation.id == Ticket.conversation_id)
                .where(Ticket.created_at >= moment, Conversation.erased_at.is_(None))
                .order_by(Ticket.id.desc()).limit(CONVERSATIONS))).all()
            votes = (await session.execute(
                select(Feedback.conversation_id, Feedback.message_id, Feedback.article_id)
                .where(Feedback.kind == "helpful", Feedback.score == 0, Feedback.created_at >= moment,
                       Feedback.message_id.is_not(None))
                .order_by(Feedback.id.desc()).limit(CONVERSATIONS))).all()
            wanted = list(dict.fromkeys([t.conversation_id for t in tickets] + [v.conversation_id for v in votes]))
            wanted = wanted[:CONVERSATIONS]
            messages: dict[str, list[Message]] = {}
            for start in range(0, len(wanted), 500):
                rows = await session.scalars(select(Message).where(
                    Message.conversation_id.in_(wanted[start:start + 500])).order_by(Message.id))
                for row in rows:
                    messages.setdefault(row.conversation_id, []).append(row)
        found: dict[int, GapQuestion] = {}
        handoffs: dict[str, int] = {}

        def note(question: Message, reason: str, article: str | None) -> None:
            gap = found.get(question.id)
            if gap is None:
                said = messages.get(question.conversation_id, [])
                replies = [m.text for m in said if m.sender == "agent" and m.id > question.id and m.text.strip()]
                gap = found[question.id] = GapQuestion(question.id, question.conversation_id, question.text,
                                                       question.created_at, replies=replies[:DRAFT_REPLIES])
            if reason not in gap.reasons:
                gap.reasons.append(reason)
            if article and article not in gap.articles:
                gap.articles.append(article)

        for conversation_id, created_at, request in tickets:
            said = [m for m in messages.get(conversation_id, []) if m.created_at <= created_at]
            asked = [i for i, m in enumerate(said) if m.sender == "customer"]
            if not asked:
                continue
            last = asked[-1]
            if _codes(request) & KNOWLEDGE_HANDOFF_REASONS:
                note(said[last], GapReason.NO_ANSWER.value, None)
            before = said[:last]
            answer = next((m for m in reversed(before) if m.sender == "bot" and _citation(m)), None)
            previous_bot = next((m for m in reversed(before) if m.sender == "bot"), None)
            # the bot's last turn before the hand-off was a knowledge answer: a hand-off right after it
            if answer is not None and previous_bot is not None and _turn(before, previous_bot) == _turn(before, answer):
                article = _citation(answer)
                assert article is not None
                handoffs[article] = handoffs.get(article, 0) + 1
                question = next((m for m in reversed(before) if m.sender == "customer" and m.id < answer.id), None)
                if question is not None:
                    note(question, GapReason.HANDED_OFF_AFTER_ANSWER.value, article)
        for conversation_id, message_id, article_id in votes:
            if message_id is None:
                continue
            question = next((m for m in reversed(messages.get(conversation_id, []))
                             if m.sender == "customer" and m.id < message_id), None)
            if question is not None:
                note(question, GapReason.NOT_HELPFUL.value, article_id)
        return sorted(found.values(), key=lambda q: -q.message_id), handoffs

    async def article_use(self, since: datetime | float) -> dict[str, ArticleUse]:
        """Per article: its answers (bot messages citing it), votes and helpful votes since ``since``."""
        moment = utc(since)
        uses: dict[str, ArticleUse] = {}
        async with self._sessions() as session:
            payloads = await session.scalars(
                select(Message).where(Message.sender == "bot", Message.created_at >= moment,
                                      Message.payload.is_not(None)).order_by(Message.id.desc()).limit(ANSWERS))
            for message in payloads:
                if article := _citation(message):
                    uses.setdefault(article, ArticleUse()).answers += 1
            rows = await session.execute(
                select(Feedback.article_id, func.count(), func.sum(Feedback.score))
                .where(Feedback.kind == "helpful", Feedback.created_at >= moment, Feedback.article_id.is_not(None))
                .group_by(Feedback.article_id))
            for article_id, votes, helpful in rows:
                use = uses.setdefault(str(article_id), ArticleUse())
                use.votes, use.helpful = int(votes), int(helpful or 0)
        return uses

    async def decided(self) -> dict[int, str]:
        """The questions trainers decided on: message id -> status."""
        async with self._sessions() as session:
            return {int(m): str(s) for m, s in await session.execute(
                select(KnowledgeGap.message_id, KnowledgeGap.status))}

    async def decide(self, message_ids: Sequence[int], status: str, article_id: str | None, agent_id: str,
                     now: datetime | float) -> int:
        """Record a decision on the customer messages ``message_ids`` (those that exist); how many."""
        moment = utc(now)
        async with self._sessions.begin() as session:
            found = (await session.execute(select(Message.id, Message.conversation_id).where(
                Message.id.in_(list(message_ids)), Message.sender == "customer"))).all()
            ids = [int(i) for i, _ in found]
            await session.execute(delete(KnowledgeGap).where(KnowledgeGap.message_id.in_(ids)))
            for message_id, conversation_id in found:
                session.add(KnowledgeGap(conversation_id=conversation_id, message_id=message_id, status=status,
                                         article_id=article_id, decided_by=agent_id, decided_at=moment))
            return len(ids)


def _turn(messages: Sequence[Message], message: Message) -> int:
    """How many customer messages come before ``message``: the turn it belongs to."""
    return sum(1 for m in messages if m.sender == "customer" and m.id < message.id)


def knowledge_gap_deletions(conversations: Any) -> list[Any]:
    """Erasing a customer or the retention sweep: the decisions on their messages go (before the messages)."""
    return [delete(KnowledgeGap).where(KnowledgeGap.conversation_id.in_(conversations))]
