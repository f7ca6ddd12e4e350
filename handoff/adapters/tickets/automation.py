"""What the automation rules did (``automation_events``), the tickets each rule kind looks at, and the callback
of an out-of-hours ticket marked as made.

A rule acts on a ticket at most once: :meth:`AutomationBook.claim` inserts the rule's row for the ticket first,
and the pair (ticket, rule) is unique, so of two instances sweeping at once one gets the row and acts, the
other gets None and leaves the ticket alone. A claim whose action then finds the ticket moved on (the agent
resolved it meanwhile) is withdrawn, so that nothing is written that did not happen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from handoff.adapters.tickets.database import Repository, changed_rows, utc
from handoff.adapters.tickets.models import AutomationEvent, Message, Ticket
from handoff.adapters.tickets.views import Json, iso
from handoff.core.model import ConversationId, TicketId

EVENTS_LIMIT = 500


@dataclass(frozen=True)
class AutomationEventView:
    """One thing a rule did to a ticket."""

    id: int
    ticket_id: TicketId
    ticket_number: str
    conversation_id: ConversationId
    rule: str
    kind: str
    action: str
    details: Json
    created_at: datetime

    def to_json(self) -> Json:
        return {"id": self.id, "ticket_id": self.ticket_id, "ticket_number": self.ticket_number,
                "conversation_id": self.conversation_id, "rule": self.rule, "kind": self.kind,
                "action": self.action, "details": self.details, "created_at": iso(self.created_at)}


@dataclass(frozen=True)
class Candidate:
    """A ticket a rule may act on: ``since`` is when its clock started (the agent's last message, the ticket's
    creation, the callback)."""

    ticket_id: TicketId
    conversation_id: ConversationId
    since: datetime


def _not_done_by(rule: str) -> Any:
    """The condition that ``rule`` has not acted on the ticket yet."""
    return ~select(AutomationEvent.id).where(AutomationEvent.ticket_id == Ticket.id,
                                             AutomationEvent.rule == rule).exists()


def _events() -> Any:
    return (select(AutomationEvent, Ticket.number, Ticket.conversation_id)
            .join(Ticket, Ticket.id == AutomationEvent.ticket_id))


def _view(row: AutomationEvent, number: str | None, conversation_id: str) -> AutomationEventView:
    return AutomationEventView(id=row.id, ticket_id=TicketId(row.ticket_id), ticket_number=number or "",
                               conversation_id=ConversationId(conversation_id), rule=row.rule, kind=row.kind,
                               action=row.action, details=dict(row.details or {}), created_at=row.created_at)


class AutomationBook(Repository):
    """Automation (a repository of :class:`~handoff.adapters.tickets.TicketLog`)."""

    async def claim(self, ticket_id: TicketId, rule: str, kind: str, action: str, details: Mapping[str, Any],
                    now: datetime | float) -> int | None:
        """Write that ``rule`` acts on the ticket; the row's id, or None if it has already (here or on another
        instance: the unique pair refuses the second row)."""
        try:
            async with self._sessions.begin() as session:
                row = AutomationEvent(ticket_id=ticket_id, rule=rule, kind=kind, action=action,
                                      details=dict(details), created_at=utc(now))
                session.add(row)
                await session.flush()
                return row.id
        except IntegrityError:
            return None

    async def settle(self, event_id: int, action: str, details: Mapping[str, Any]) -> None:
        """Say what the claimed action turned out to be (its details are known once it is done)."""
        async with self._sessions.begin() as session:
            await session.execute(update(AutomationEvent).where(AutomationEvent.id == event_id)
                                  .values(action=action, details=dict(details)))

    async def withdraw(self, event_id: int) -> None:
        """Take back a claim whose action did not happen (the ticket moved on meanwhile)."""
        async with self._sessions.begin() as session:
            await session.execute(delete(AutomationEvent).where(AutomationEvent.id == event_id))

    async def events(self, *, rule: str | None = None, since: datetime | float | None = None,
                     ticket_id: int | None = None, limit: int = EVENTS_LIMIT) -> list[AutomationEventView]:
        """What the rules did, newest first: of one rule, since a moment, on one ticket."""
        query = _events()
        if rule is not None:
            query = query.where(AutomationEvent.rule == rule)
        if since is not None:
            query = query.where(AutomationEvent.created_at >= utc(since))
        if ticket_id is not None:
            query = query.where(AutomationEvent.ticket_id == ticket_id)
        query = query.order_by(AutomationEvent.created_at.desc(), AutomationEvent.id.desc()).limit(limit)
        async with self._sessions() as session:
            return [_view(*row) for row in (await session.execute(query)).all()]

    async def counts(self) -> dict[str, dict[str, Any]]:
        """For each rule that ever acted: ``{"count": tickets it acted on, "last": when it last did}``."""
        query = select(AutomationEvent.rule, func.count(), func.max(AutomationEvent.created_at)).group_by(
            AutomationEvent.rule)
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return {rule: {"count": int(count), "last": iso(utc(last)) if last is not None else None}
                for rule, count, last in rows}

    # ---- the tickets each kind of rule looks at --------------------------------------------------------

    async def idle_customers(self, rule: str, silent_since: datetime | float) -> list[Candidate]:
        """Open tickets with an agent whose conversation's last word (of the customer's and the agents') is an
        agent's, written at or before ``silent_since``, that ``rule`` has not acted on."""
        last = (select(Message.conversation_id, func.max(Message.id).label("last_id"))
                .where(Message.sender.in_(("customer", "agent"))).group_by(Message.conversation_id).subquery())
        query = (select(Ticket.id, Ticket.conversation_id, Message.created_at)
                 .join(last, last.c.conversation_id == Ticket.conversation_id)
                 .join(Message, Message.id == last.c.last_id)
                 .where(Ticket.status.in_(("open", "pending")), Ticket.assignee_id.is_not(None),
                        Message.sender == "agent", Message.created_at <= utc(silent_since),
                        Message.created_at >= Ticket.created_at, _not_done_by(rule))
                 .order_by(Ticket.id))
        return await self._candidates(query)

    async def unanswered(self, rule: str, created_before: datetime | float) -> list[Candidate]:
        """Open tickets with no agent reply yet, created at or before ``created_before``, that ``rule`` has not
        acted on."""
        query = (select(Ticket.id, Ticket.conversation_id, Ticket.created_at)
                 .where(Ticket.status.in_(("open", "pending")), Ticket.first_response_at.is_(None),
                        Ticket.created_at <= utc(created_before), _not_done_by(rule))
                 .order_by(Ticket.id))
        return await self._candidates(query)

    async def called_back(self, rule: str) -> list[Candidate]:
        """Out-of-hours tickets whose callback is marked as made (``since``: when), that ``rule`` has not
        acted on."""
        query = (select(Ticket.id, Ticket.conversation_id, Ticket.callback)
                 .where(and_(Ticket.status == "offline", Ticket.callback.is_not(None), _not_done_by(rule)))
                 .order_by(Ticket.id))
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [Candidate(TicketId(ticket_id), ConversationId(conversation_id),
                          datetime.fromisoformat(callback["sent_at"]))
                for ticket_id, conversation_id, callback in rows
                if isinstance(callback, dict) and isinstance(callback.get("sent_at"), str)]

    async def _candidates(self, query: Any) -> list[Candidate]:
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [Candidate(TicketId(ticket_id), ConversationId(conversation_id), utc(since))
                for ticket_id, conversation_id, since in rows]

    # ---- callbacks -------------------------------------------------------------------------------------

    async def callback_sent(self, ticket_id: int, agent_id: str, now: datetime | float) -> bool:
        """Note that ``agent_id`` made the promised callback of an out-of-hours ticket (``callback.sent_at``,
        ``callback.sent_by``); False, changing nothing, if the ticket is not offline or the callback was
        already marked."""
        moment = utc(now)
        async with self._sessions.begin() as session:
            row = await session.get(Ticket, ticket_id, with_for_update=True)
            if row is None or row.status != "offline" or (row.callback or {}).get("sent_at"):
                return False
            callback = {**(row.callback or {}), "sent_at": moment.isoformat(), "sent_by": agent_id}
            return bool(await changed_rows(session, update(Ticket).where(Ticket.id == ticket_id).values(
                callback=callback, updated_at=moment)))
