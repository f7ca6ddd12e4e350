"""Customer feedback in the ticket log: ratings and helpfulness votes (``feedback``), the follow-up items a low
verdict opens (``follow_ups``), and the reads the feedback part needs (the newest rating request, the newest
cited answer, bot conversations gone quiet).

A rating request is a ``system`` message whose payload carries ``feedback_request`` (docs/feedback.md); a
knowledge answer is a ``bot`` message whose payload carries ``custom.citation``. Both are found by reading the
conversation's messages of that sender newest first and looking at their payload here, which reads the same on
SQLite and PostgreSQL (no JSON operators).

One verdict per thing judged: a rating per request (``message_id`` is the request's message), a vote per answer
(``message_id`` is the answer's message). Giving it again replaces it, and its follow-up follows the newest
verdict: opened when it calls for one, closed (``done``, with a note) when a changed verdict no longer does and
nobody has taken it up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from handoff.adapters.tickets.database import Repository, utc
from handoff.adapters.tickets.message_writer import stored_messages, stored_view
from handoff.adapters.tickets.models import Conversation, Feedback, FollowUp, Message, Ticket, TicketAssignment
from handoff.adapters.tickets.views import MessageView, iso
from handoff.core.model import State

SCAN = 200  # newest messages of one sender read to find a request or a citation (a conversation rarely has more)

Json = dict[str, Any]


def request_of(message: MessageView) -> Json | None:
    """The rating request a message carries, if it is one."""
    asked = (message.payload or {}).get("feedback_request") if message.sender == "system" else None
    return asked if isinstance(asked, dict) else None


def citation_of(message: MessageView) -> Json | None:
    """The knowledge article a bot message cites, if it is a knowledge answer."""
    custom = (message.payload or {}).get("custom") if message.sender == "bot" else None
    citation = custom.get("citation") if isinstance(custom, dict) else None
    return citation if isinstance(citation, dict) and citation.get("article_id") else None


@dataclass(frozen=True)
class Verdict:
    """What the feedback part records: the verdict and what it judged (the ``feedback`` row's columns)."""

    conversation_id: str
    kind: str  # csat | helpful
    score: int
    comment: str | None
    path: str  # bot | handoff | human
    channel: str
    message_id: int
    ticket_id: int | None = None
    agent_id: str | None = None
    category: str | None = None
    intents: tuple[str, ...] = ()
    article_id: str | None = None
    article_version: str | None = None


@dataclass(frozen=True)
class FeedbackView:
    id: int
    conversation_id: str
    kind: str
    score: int
    comment: str | None
    path: str
    channel: str
    ticket_id: int | None
    agent_id: str | None
    category: str | None
    intents: tuple[str, ...]
    article_id: str | None
    article_version: str | None
    message_id: int | None
    created_at: datetime
    follow_up: Json | None  # {id, reason, status} of its follow-up item, if it has one

    def to_json(self) -> Json:
        return {"id": self.id, "conversation_id": self.conversation_id, "kind": self.kind, "score": self.score,
                "comment": self.comment, "path": self.path, "channel": self.channel, "ticket_id": self.ticket_id,
                "agent_id": self.agent_id, "category": self.category, "intents": list(self.intents),
                "article_id": self.article_id, "article_version": self.article_version,
                "message_id": self.message_id, "created_at": iso(self.created_at), "follow_up": self.follow_up}


def feedback_view(row: Feedback, follow_up: FollowUp | None) -> FeedbackView:
    return FeedbackView(row.id, row.conversation_id, row.kind, row.score, row.comment, row.path, row.channel,
                        row.ticket_id, row.agent_id, row.category, tuple(row.intents or ()), row.article_id,
                        row.article_version, row.message_id, row.created_at,
                        None if follow_up is None else {"id": follow_up.id, "reason": follow_up.reason,
                                                        "status": follow_up.status})


class FeedbackBook(Repository):
    """Feedback and follow-ups (a repository of :class:`~handoff.adapters.tickets.TicketLog`)."""

    async def _newest(self, conversation_id: str, sender: str) -> list[MessageView]:
        query = (stored_messages().where(Message.conversation_id == conversation_id, Message.sender == sender)
                 .order_by(Message.id.desc()).limit(SCAN))
        async with self._sessions() as session:
            return [stored_view(row) for row in await session.execute(query)]

    async def latest_request(self, conversation_id: str) -> MessageView | None:
        """The conversation's newest rating request, or None."""
        return next((m for m in await self._newest(conversation_id, "system") if request_of(m)), None)

    async def latest_citation(self, conversation_id: str) -> Json | None:
        """The citation of the conversation's newest knowledge answer, or None."""
        return next((c for m in await self._newest(conversation_id, "bot") if (c := citation_of(m))), None)

    async def message(self, conversation_id: str, message_id: int) -> MessageView | None:
        """One message of the conversation (None if it has no message with that id)."""
        query = stored_messages().where(Message.conversation_id == conversation_id, Message.id == message_id)
        async with self._sessions() as session:
            row = (await session.execute(query)).first()
        return None if row is None else stored_view(row)

    async def latest_ticket(self, conversation_id: str) -> int | None:
        """The id of the conversation's newest ticket, whatever its status, or None."""
        query = select(Ticket.id).where(Ticket.conversation_id == conversation_id).order_by(Ticket.id.desc()).limit(1)
        async with self._sessions() as session:
            return await session.scalar(query)

    async def last_agent(self, ticket_id: int) -> str | None:
        """The agent who had the ticket last (its assignee now, or the last one before it closed), or None."""
        query = (select(TicketAssignment.agent_id).where(TicketAssignment.ticket_id == ticket_id)
                 .order_by(TicketAssignment.id.desc()).limit(1))
        async with self._sessions() as session:
            return await session.scalar(query)

    async def quiet_bot_conversations(self, since: datetime | float, until: datetime | float) -> list[str]:
        """Conversations the bot owns whose last message (or change) was in ``[since, until)``, oldest first."""
        query = (select(Conversation.id).where(Conversation.state == State.BOT.value, Conversation.erased_at.is_(None),
                                               Conversation.updated_at >= utc(since),
                                               Conversation.updated_at < utc(until))
                 .order_by(Conversation.updated_at))
        async with self._sessions() as session:
            return list(await session.scalars(query))

    async def record(self, verdict: Verdict, follow_up: str | None, now: datetime | float) -> FeedbackView:
        """Keep ``verdict``, replacing the one given before on the same thing (same conversation, kind and
        message), and open its follow-up item with the reason ``follow_up`` (``low_rating``, ``not_helpful``) if
        it calls for one; a follow-up still open and unassigned that the new verdict no longer calls for is
        closed as ``done``."""
        moment = utc(now)
        fields = {"ticket_id": verdict.ticket_id, "agent_id": verdict.agent_id, "score": verdict.score,
                  "comment": verdict.comment, "path": verdict.path, "channel": verdict.channel,
                  "category": verdict.category, "intents": list(verdict.intents), "article_id": verdict.article_id,
                  "article_version": verdict.article_version, "created_at": moment}
        async with self._sessions.begin() as session:
            row = await session.scalar(select(Feedback).where(
                Feedback.conversation_id == verdict.conversation_id, Feedback.kind == verdict.kind,
                Feedback.message_id == verdict.message_id))
            if row is None:
                row = Feedback(conversation_id=verdict.conversation_id, kind=verdict.kind,
                               message_id=verdict.message_id, **fields)
                session.add(row)
                await session.flush()
            else:
                for name, value in fields.items():
                    setattr(row, name, value)
            item = await session.scalar(select(FollowUp).where(FollowUp.feedback_id == row.id))
            if follow_up is not None and item is None:
                item = FollowUp(feedback_id=row.id, conversation_id=verdict.conversation_id,
                                ticket_id=verdict.ticket_id, reason=follow_up, status="open", created_at=moment)
                session.add(item)
                await session.flush()
            elif follow_up is None and item is not None and item.status == "open" and item.assignee_id is None:
                item.status, item.closed_at = "done", moment
                item.note = "The customer changed their verdict; it no longer calls for a follow-up."
            return feedback_view(row, item)

    async def of_conversation(self, conversation_id: str) -> list[FeedbackView]:
        """The conversation's feedback with its follow-ups, oldest first."""
        query = (select(Feedback, FollowUp).outerjoin(FollowUp, FollowUp.feedback_id == Feedback.id)
                 .where(Feedback.conversation_id == conversation_id).order_by(Feedback.id))
        async with self._sessions() as session:
            return [feedback_view(row, item) for row, item in await session.execute(query)]
