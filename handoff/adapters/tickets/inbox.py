"""The NLU inbox's rows (:class:`~handoff.adapters.tickets.models.InboxItem`): kept as the service notices a
message the bot was unsure about, read as the workbench pages them, decided by trainers.

:meth:`InboxBook.note` is an upsert by message: the bot's turn, the hand-off, a "not helpful" vote and an
agent's category each add their reasons (and the hint, and the intents when the row had none) to the one row
of a message, on both databases (a unique ``message_id``: of two instances racing, the second adds to the
first's row).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from handoff.adapters.tickets.database import Repository, utc
from handoff.adapters.tickets.models import Conversation, InboxItem, Message
from handoff.adapters.tickets.views import iso
from handoff.core.inbox import CONFIRMED, Status, key


@dataclass(frozen=True)
class InboxView:
    """One inbox row as the service reads it."""

    id: int
    conversation_id: str | None
    message_id: int | None
    text: str
    key: str
    intents: list[dict[str, Any]]
    reasons: list[str]
    hint: dict[str, Any] | None
    status: str
    intent: str | None
    decided_by: str | None
    decided_at: datetime | None
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "conversation_id": self.conversation_id, "message_id": self.message_id,
                "text": self.text, "intents": self.intents, "reasons": self.reasons, "hint": self.hint,
                "status": self.status, "intent": self.intent, "decided_by": self.decided_by,
                "decided_at": iso(self.decided_at), "created_at": iso(self.created_at)}


def _view(row: InboxItem) -> InboxView:
    return InboxView(row.id, row.conversation_id, row.message_id, row.text, row.key, list(row.intents),
                     list(row.reasons), row.hint, row.status, row.intent, row.decided_by, row.decided_at,
                     row.created_at)


class InboxBook(Repository):
    """The NLU inbox (a repository of :class:`~handoff.adapters.tickets.TicketLog`)."""

    async def note(self, message_id: int, reasons: Sequence[str], intents: Sequence[dict[str, Any]],
                   now: datetime | float, *, hint: dict[str, Any] | None = None) -> InboxView | None:
        """File the customer message ``message_id`` with ``reasons`` (added to those it has), the model's
        ``intents`` (kept when it had none) and an agent's ``hint`` (replacing an earlier one); None when there
        is no such customer message (or its customer's data was erased). A decided item keeps its decision."""
        for _ in range(2):  # a unique message id: an instance that lost the race adds to the winner's row
            try:
                return await self._note(message_id, list(reasons), list(intents), utc(now), hint)
            except IntegrityError:
                continue
        return None

    async def _note(self, message_id: int, reasons: list[str], intents: list[dict[str, Any]], now: datetime,
                    hint: dict[str, Any] | None) -> InboxView | None:
        async with self._sessions.begin() as session:
            row = await session.scalar(select(InboxItem).where(InboxItem.message_id == message_id))
            if row is None:
                message = await session.scalar(
                    select(Message).join(Conversation, Conversation.id == Message.conversation_id).where(
                        Message.id == message_id, Message.sender == "customer", Conversation.erased_at.is_(None)))
                if message is None:
                    return None
                row = InboxItem(conversation_id=message.conversation_id, message_id=message.id, text=message.text,
                                key=key(message.text), intents=intents, reasons=reasons, hint=hint,
                                status=Status.NEW.value, created_at=now, updated_at=now)
                session.add(row)
                await session.flush()
                return _view(row)
            changed = False
            if any(r not in row.reasons for r in reasons):
                row.reasons = [*row.reasons, *(r for r in reasons if r not in row.reasons)]
                changed = True
            if intents and not row.intents:
                row.intents, changed = intents, True
            if hint is not None and hint != row.hint:
                row.hint, changed = hint, True
            if changed:
                row.updated_at = now
            return _view(row)

    async def of_message(self, message_id: int) -> InboxView | None:
        async with self._sessions() as session:
            row = await session.scalar(select(InboxItem).where(InboxItem.message_id == message_id))
            return _view(row) if row else None

    async def items(self, statuses: Sequence[str], limit: int, before: int | None = None) -> list[InboxView]:
        """Items in ``statuses``, oldest first (the first ``limit`` of them; ``before``: with a smaller id)."""
        query = select(InboxItem).where(InboxItem.status.in_(list(statuses)))
        if before is not None:
            query = query.where(InboxItem.id < before)
        async with self._sessions() as session:
            return [_view(r) for r in await session.scalars(query.order_by(InboxItem.id).limit(limit))]

    async def by_ids(self, ids: Sequence[int]) -> list[InboxView]:
        async with self._sessions() as session:
            rows = await session.scalars(select(InboxItem).where(InboxItem.id.in_(list(ids))).order_by(InboxItem.id))
            return [_view(r) for r in rows]

    async def counts(self) -> dict[str, int]:
        """How many items are in each status."""
        async with self._sessions() as session:
            rows = await session.execute(select(InboxItem.status, func.count()).group_by(InboxItem.status))
            return {str(status): int(n) for status, n in rows}

    async def decide(self, ids: Sequence[int], status: str, intent: str | None, agent_id: str | None,
                     now: datetime | float) -> int:
        """Set the items' status and intent (and who decided, when); how many rows changed."""
        async with self._sessions.begin() as session:
            result = await session.execute(update(InboxItem).where(InboxItem.id.in_(list(ids))).values(
                status=status, intent=intent, decided_by=agent_id, decided_at=utc(now) if agent_id else None,
                updated_at=utc(now)))
            return int(getattr(result, "rowcount", 0) or 0)

    async def confirmed(self, statuses: Sequence[str]) -> list[tuple[str, str]]:
        """``(intent, text)`` of every item in ``statuses`` with an intent, in the order decided (the latest
        decision last)."""
        query = select(InboxItem.intent, InboxItem.text).where(
            InboxItem.status.in_(list(statuses)), InboxItem.intent.is_not(None)).order_by(
            InboxItem.decided_at, InboxItem.id)
        async with self._sessions() as session:
            return [(str(intent), str(text)) for intent, text in await session.execute(query)]

    async def intents_used(self) -> dict[str, int]:
        """Each intent items were labelled with, and how many."""
        query = select(InboxItem.intent, func.count()).where(InboxItem.intent.is_not(None)).group_by(
            InboxItem.intent)
        async with self._sessions() as session:
            return {str(intent): int(n) for intent, n in await session.execute(query)}

    async def export(self, conversation_ids: Sequence[str]) -> list[dict[str, Any]]:
        """A customer's inbox rows, for the export of their data."""
        query = select(InboxItem).where(InboxItem.conversation_id.in_(list(conversation_ids))).order_by(InboxItem.id)
        async with self._sessions() as session:
            return [_view(r).to_json() for r in await session.scalars(query)]


def inbox_erasures(conversations: Any) -> list[Any]:
    """Erasing a customer: every inbox row of their conversations goes (examples too: their words leave the
    training data at its next write)."""
    return [delete(InboxItem).where(InboxItem.conversation_id.in_(conversations))]


def inbox_deletions(conversations: Any) -> list[Any]:
    """Retention: the rows of old conversations go, but the trainer-confirmed examples stay as training data,
    detached from the conversation and message that are deleted."""
    confirmed = [status.value for status in CONFIRMED]
    return [delete(InboxItem).where(InboxItem.conversation_id.in_(conversations),
                                    InboxItem.status.not_in(confirmed)),
            update(InboxItem).where(InboxItem.conversation_id.in_(conversations)).values(
                conversation_id=None, message_id=None)]
