"""What the insights read and keep: the customers' words behind hand-offs and low ratings, and topic runs.

- :meth:`AnalyticsBook.texts`: one :class:`Said` per conversation that, in ``[since, until)``, was handed to a
  person (a ticket was opened) or rated low (a ``csat`` rating of :data:`LOW_RATING` or less): what the
  customer wrote (before the hand-off, for a handed-off one), with its ticket's category.
- :meth:`AnalyticsBook.customer_messages`: a conversation's customer messages (for its sentiment trend).
- :meth:`AnalyticsBook.save_run` / :meth:`run` / :meth:`mapped_topics`: the topics of a period, replaced by a
  later run over the same period; the topics that stand for a category, for routing.

Conversations whose customer's data was erased are left out, and so are the examples of a kept run that
came from them (an example is the customer's words).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.adapters.tickets.database import Repository, utc
from handoff.adapters.tickets.models import Conversation, Feedback, Message, Ticket, TopicRow, TopicRun

LOW_RATING = 2
"""A ``csat`` rating (1-5) of this or less is a low one."""


async def forget_examples(session: AsyncSession, conversations: Sequence[str]) -> None:
    """Remove from every stored topic the examples taken from ``conversations`` (their customer's words): called
    when a customer's data is erased and when retention deletes conversations, in the same transaction. A
    year's topics are a few hundred rows, read whole."""
    gone = set(conversations)
    if not gone:
        return
    for row in await session.scalars(select(TopicRow)):
        kept = [e for e in row.examples if e.get("conversation_id") not in gone]
        if len(kept) != len(row.examples):
            row.examples = kept


@dataclass
class Said:
    """What a customer said in one conversation that needed a person or was rated low.

    Attributes:
        conversation_id: the conversation.
        messages: the customer's messages, oldest first (before the hand-off when there was one).
        summary: the bot's summary of the hand-off ("" without a ticket).
        category: the ticket's category (None: no ticket, or the bot did not know).
        handed_off: a ticket was opened in the period.
        low_rated: the conversation was rated low in the period.
    """

    conversation_id: str
    messages: list[str] = field(default_factory=list)
    summary: str = ""
    category: str | None = None
    handed_off: bool = False
    low_rated: bool = False


@dataclass(frozen=True)
class StoredTopic:
    """A topic as kept (see :class:`~handoff.adapters.tickets.models.TopicRow`)."""

    rank: int
    label: str
    keywords: list[str]
    size: int
    handed_off: int
    low_rated: int
    category: str | None
    category_share: float
    category_tickets: int
    centroid: list[float]
    examples: list[dict[str, str]]

    def to_json(self) -> dict[str, Any]:
        return {"rank": self.rank, "label": self.label, "keywords": self.keywords, "size": self.size,
                "handed_off": self.handed_off, "low_rated": self.low_rated, "category": self.category,
                "category_share": self.category_share, "category_tickets": self.category_tickets,
                "examples": self.examples}


@dataclass(frozen=True)
class StoredRun:
    period_start: datetime
    period_end: datetime
    texts: int
    created_at: datetime
    topics: list[StoredTopic]


def _topic(row: TopicRow, erased: set[str]) -> StoredTopic:
    return StoredTopic(rank=row.rank, label=row.label, keywords=list(row.keywords), size=row.size,
                       handed_off=row.handed_off, low_rated=row.low_rated, category=row.category,
                       category_share=row.category_share, category_tickets=row.category_tickets,
                       centroid=list(row.centroid),
                       examples=[e for e in row.examples if e.get("conversation_id") not in erased])


class AnalyticsBook(Repository):
    """The insights' reads and topic runs (a repository of :class:`~handoff.adapters.tickets.TicketLog`)."""

    async def texts(self, since: datetime | float, until: datetime | float) -> list[Said]:
        """The conversations handed off or rated low in ``[since, until)``, oldest hand-off first, each with
        its customer's words (erased conversations left out)."""
        start, end = utc(since), utc(until)
        found: dict[str, Said] = {}
        cutoff: dict[str, datetime] = {}
        async with self._sessions() as session:
            tickets = (await session.execute(
                select(Ticket.conversation_id, Ticket.category, Ticket.summary, Ticket.created_at)
                .join(Conversation, Conversation.id == Ticket.conversation_id)
                .where(Ticket.created_at >= start, Ticket.created_at < end, Conversation.erased_at.is_(None))
                .order_by(Ticket.created_at, Ticket.id))).all()
            for conversation_id, category, summary, created_at in tickets:
                if conversation_id in found:  # a second ticket: the first says why they came
                    continue
                found[conversation_id] = Said(conversation_id, summary=summary or "", category=category,
                                              handed_off=True)
                cutoff[conversation_id] = created_at
            ratings = (await session.execute(
                select(Feedback.conversation_id, Feedback.category)
                .join(Conversation, Conversation.id == Feedback.conversation_id)
                .where(Feedback.kind == "csat", Feedback.score <= LOW_RATING, Feedback.created_at >= start,
                       Feedback.created_at < end, Conversation.erased_at.is_(None))
                .order_by(Feedback.created_at, Feedback.id))).all()
            for conversation_id, category in ratings:
                said = found.setdefault(conversation_id, Said(conversation_id, category=category))
                said.low_rated = True
            ids = list(found)
            for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)):
                rows = await session.execute(
                    select(Message.conversation_id, Message.text, Message.created_at)
                    .where(Message.conversation_id.in_(chunk), Message.sender == "customer")
                    .order_by(Message.conversation_id, Message.id))
                for conversation_id, text, created_at in rows:
                    if conversation_id not in cutoff or created_at <= cutoff[conversation_id]:
                        found[conversation_id].messages.append(text)
        return list(found.values())

    async def customer_messages(self, conversation_id: str) -> list[tuple[int, str, datetime]]:
        """The conversation's customer messages, oldest first: ``(id, text, created_at)``."""
        query = (select(Message.id, Message.text, Message.created_at)
                 .where(Message.conversation_id == conversation_id, Message.sender == "customer")
                 .order_by(Message.id))
        async with self._sessions() as session:
            return [(row.id, row.text, row.created_at) for row in await session.execute(query)]

    async def save_run(self, since: datetime | float, until: datetime | float, texts: int,
                       topics: Sequence[StoredTopic], now: datetime | float) -> None:
        """Keep the topics of ``[since, until)``, replacing an earlier run over the same period."""
        start, end = utc(since), utc(until)
        async with self._sessions.begin() as session:
            earlier = select(TopicRun.id).where(TopicRun.period_start == start, TopicRun.period_end == end)
            await session.execute(delete(TopicRow).where(TopicRow.run_id.in_(earlier)))
            await session.execute(delete(TopicRun).where(TopicRun.period_start == start, TopicRun.period_end == end))
            run = TopicRun(period_start=start, period_end=end, texts=texts, created_at=utc(now))
            session.add(run)
            await session.flush()
            session.add_all(TopicRow(run_id=run.id, rank=t.rank, label=t.label, keywords=t.keywords, size=t.size,
                                     handed_off=t.handed_off, low_rated=t.low_rated, category=t.category,
                                     category_share=t.category_share, category_tickets=t.category_tickets,
                                     centroid=t.centroid, examples=t.examples) for t in topics)

    async def run(self, since: datetime | float, until: datetime | float) -> StoredRun | None:
        """The run over exactly ``[since, until)``, if there is one."""
        start, end = utc(since), utc(until)
        async with self._sessions() as session:
            run = (await session.execute(select(TopicRun).where(TopicRun.period_start == start,
                                                                TopicRun.period_end == end))).scalar_one_or_none()
            return None if run is None else await self._stored(session, run)

    async def latest_run(self) -> StoredRun | None:
        """The run over the latest period (the latest made, of two over it)."""
        async with self._sessions() as session:
            run = (await session.execute(select(TopicRun).order_by(TopicRun.period_start.desc(),
                                                                   TopicRun.created_at.desc()).limit(1))
                   ).scalar_one_or_none()
            return None if run is None else await self._stored(session, run)

    async def _stored(self, session: Any, run: TopicRun) -> StoredRun:
        rows = (await session.execute(select(TopicRow).where(TopicRow.run_id == run.id)
                                      .order_by(TopicRow.rank))).scalars().all()
        ids = {e.get("conversation_id") for row in rows for e in row.examples}
        erased = set((await session.execute(
            select(Conversation.id).where(Conversation.id.in_(ids), Conversation.erased_at.is_not(None))
        )).scalars().all()) if ids else set()
        present = set((await session.execute(select(Conversation.id).where(Conversation.id.in_(ids))))
                      .scalars().all()) if ids else set()
        erased |= ids - present  # deleted by retention or on the customer's request
        return StoredRun(period_start=run.period_start, period_end=run.period_end, texts=run.texts,
                         created_at=run.created_at, topics=[_topic(row, erased) for row in rows])
