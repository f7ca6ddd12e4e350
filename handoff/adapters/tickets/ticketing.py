"""Tickets: opening, assignment history, first response, closing, notes, edits.

Statuses: ``open`` (waiting for an agent or with one), ``pending`` (waiting on
the customer; set by :meth:`TicketBook.update_ticket`, never by the log
itself), ``offline`` (opened out of hours, with a promised callback),
``resolved`` and ``abandoned``. A closed ticket also says how it ended in
``resolution``: ``resolved`` (an agent resolved it), ``handed_back`` (an agent
gave the conversation back to the bot: status ``resolved``, since the request
was dealt with), ``abandoned`` (the customer left while queued) or ``callback`` (an out-of-hours ticket closed
by an automation rule once its callback was made).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, cast, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from handoff.adapters.tickets.conversations import add_transition, transition_view
from handoff.adapters.tickets.database import Repository, changed_rows, epoch, utc
from handoff.adapters.tickets.message_writer import stored_messages, stored_view
from handoff.adapters.tickets.models import Agent, Conversation, Message, Note, Ticket, TicketAssignment, Transition
from handoff.adapters.tickets.views import (
    AssignmentView,
    NoteView,
    TicketDetail,
    TicketView,
    TransitionNote,
    priority_name,
)
from handoff.core.errors import BadRequest
from handoff.core.metrics import REOPEN_WINDOW
from handoff.core.model import AgentId, ConversationId, CustomerId, Priority, TicketId

OPEN_STATUSES = ("open", "pending", "offline")
CLOSED_STATUSES = ("resolved", "abandoned")
# close_ticket(status=...) -> (status, resolution)
_CLOSINGS = {"resolved": ("resolved", "resolved"), "abandoned": ("abandoned", "abandoned"),
             "handed_back": ("resolved", "handed_back"), "bot": ("resolved", "handed_back"),
             "callback": ("resolved", "callback")}
TRANSCRIPT_LIMIT = 2000  # messages in a ticket's detail


def ticket_view(row: Ticket, assignee_name: str | None) -> TicketView:
    return TicketView(
        ticket_id=TicketId(row.id), number=row.number or "", conversation_id=ConversationId(row.conversation_id),
        customer_id=CustomerId(row.customer_id), channel=row.channel, status=row.status,
        resolution=row.resolution, priority=Priority[row.priority.upper()], tier=row.tier, category=row.category,
        reasons=tuple(row.reasons), request=row.request, summary=row.summary, tags=tuple(row.tags),
        assignee_id=AgentId(row.assignee_id) if row.assignee_id else None, assignee_name=assignee_name,
        callback=row.callback, created_at=row.created_at, assigned_at=row.assigned_at,
        first_response_at=row.first_response_at, resolved_at=row.resolved_at, updated_at=row.updated_at)


def tickets_with_names() -> Any:
    return select(Ticket, Agent.name).outerjoin(Agent, Ticket.assignee_id == Agent.id)


def _like(term: str) -> str:
    """A LIKE pattern matching ``term`` anywhere, its own wildcards escaped (with ``\\``)."""
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _clean_tags(tags: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(tag.strip().lower() for tag in tags if tag.strip()))


def _reason(reason: Mapping[str, Any] | str) -> dict[str, Any]:
    return {"code": reason} if isinstance(reason, str) else dict(reason)


def _first_code(reasons: Sequence[Mapping[str, Any]]) -> str | None:
    """The first reason's code, as the reports group tickets by it (``tickets.reason``); None without one."""
    code = reasons[0].get("code") if reasons else None
    return None if code is None else str(code)[:64]


async def _ticket(session: AsyncSession, ticket_id: int) -> Ticket:
    row = await session.get(Ticket, ticket_id, with_for_update=True)
    if row is None:
        raise BadRequest(f"There is no ticket {ticket_id}.")
    return row


async def _end_assignments(session: AsyncSession, ticket_id: int, cause: str, moment: datetime,
                           agent_id: str | None = None) -> None:
    query = (update(TicketAssignment)
             .where(TicketAssignment.ticket_id == ticket_id, TicketAssignment.ended_at.is_(None))
             .values(ended_at=moment, end_cause=cause))
    if agent_id is not None:
        query = query.where(TicketAssignment.agent_id == agent_id)
    await session.execute(query)
    await _measure_spells(session, ticket_id)


async def _measure_spells(session: AsyncSession, ticket_id: int) -> None:
    """Keep the ticket's ``handle_seconds`` (its ended assignments' time, summed) and ``transfers`` (assignments
    ended ``transferred``) as its assignments say, for the reports (migration 0006 filled the older tickets)."""
    mine = TicketAssignment.ticket_id == ticket_id
    handle = (select(func.sum(epoch(TicketAssignment.ended_at) - epoch(TicketAssignment.assigned_at))).where(mine)
              .scalar_subquery())
    transfers = (select(func.count()).select_from(TicketAssignment)
                 .where(mine, TicketAssignment.end_cause == "transferred").scalar_subquery())
    await session.execute(update(Ticket).where(Ticket.id == ticket_id)
                          .values(handle_seconds=handle, transfers=transfers)
                          .execution_options(synchronize_session=False))


async def _mark_reopened(session: AsyncSession, conversation_id: str) -> None:
    """Keep the ``reopened`` flag of the conversation's tickets: another ticket of the conversation was opened
    within :data:`~handoff.core.metrics.REOPEN_WINDOW` of this one's resolution. Run when a ticket is opened or
    withdrawn (the only changes that make or unmake a later ticket)."""
    later = aliased(Ticket)
    again = exists().where(later.conversation_id == Ticket.conversation_id, later.id > Ticket.id,
                           epoch(later.created_at) - epoch(Ticket.resolved_at) <= REOPEN_WINDOW)
    await session.execute(update(Ticket).where(Ticket.conversation_id == conversation_id).values(reopened=again)
                          .execution_options(synchronize_session=False))


def _assigned_ever(agent_id: str, ticket_id: Any) -> Any:
    """The condition that the agent has had an assignment on the ticket (an id, or the ``Ticket.id`` column)."""
    return exists().where(TicketAssignment.ticket_id == ticket_id, TicketAssignment.agent_id == agent_id)


async def read_ticket(session: AsyncSession, ticket_id: int) -> TicketView | None:
    """The ticket alone, or None, read in the caller's session."""
    found = (await session.execute(tickets_with_names().where(Ticket.id == ticket_id))).first()
    return None if found is None else ticket_view(found[0], found[1])


class TicketBook(Repository):
    """Tickets (a repository of :class:`~handoff.adapters.tickets.TicketLog`)."""


    async def open_ticket(self, conversation_id: ConversationId, customer_id: CustomerId, channel: str, *,
                          now: datetime | float, priority: Priority | str, tier: int, category: str | None,
                          status: str = "open", request: Mapping[str, Any] | None = None,
                          reasons: Sequence[Mapping[str, Any] | str] = (), summary: str = "",
                          callback: Mapping[str, Any] | None = None,
                          transition: TransitionNote | None = None, tags: Iterable[str] = ()) -> TicketId:
        """Open a ticket for a hand-off; its human number is ``T-`` and the id on six digits.

        Args:
            transition: the conversation's change of owner that the ticket comes with, recorded in the same
                transaction at ``now`` (its details get the ``ticket_id``).
            status: ``open``, or ``offline`` out of hours (with ``callback``: how and when we promised to
                get back, e.g. ``{"contact": "jo@example.com", "when": "2026-11-26T09:00:00+00:00"}``).
            reasons: the bot's reason objects (a bare code is stored as ``{"code": code}``).
            tags: the ticket's first tags (the automation's ``on_arrival`` rules set them).
        """
        if status not in OPEN_STATUSES:
            raise ValueError(f"a ticket opens as one of {OPEN_STATUSES}, not {status!r}")
        moment = utc(now)
        kept = [_reason(r) for r in reasons]
        async with self._sessions.begin() as session:
            row = Ticket(conversation_id=conversation_id, customer_id=customer_id, channel=channel, status=status,
                         priority=priority_name(priority), tier=tier, category=category,
                         reasons=kept, reason=_first_code(kept), request=dict(request) if request else None,
                         summary=summary, tags=_clean_tags(tags), callback=dict(callback) if callback else None,
                         created_at=moment, updated_at=moment)
            session.add(row)
            await session.flush()
            row.number = f"T-{row.id:06d}"
            await _mark_reopened(session, conversation_id)
            if transition is not None:
                await add_transition(session, conversation_id, transition.from_state, transition.to_state,
                                     transition.cause, moment, transition.actor,
                                     {**transition.details, "ticket_id": row.id})
            return TicketId(row.id)

    async def withdraw_ticket(self, ticket_id: TicketId) -> None:
        """Take back a ticket that :meth:`open_ticket` has just opened for a hand-off that lost a race: another
        escalation of the same conversation (a second socket, another instance) queued it first, and the live
        state never pointed at this one. The ticket and the transition written with it are deleted, and the
        conversation's state in the log is again that of its latest remaining transition."""
        async with self._sessions.begin() as session:
            row = await session.get(Ticket, ticket_id)
            if row is None:
                return
            for transition in await session.scalars(select(Transition).where(
                    Transition.conversation_id == row.conversation_id, Transition.created_at == row.created_at)):
                if (transition.details or {}).get("ticket_id") == ticket_id:
                    await session.delete(transition)
            await session.delete(row)
            await session.flush()
            latest = (select(Transition.to_state).where(Transition.conversation_id == row.conversation_id)
                      .order_by(Transition.id.desc()).limit(1).scalar_subquery())
            await session.execute(update(Conversation).where(Conversation.id == row.conversation_id)
                                  .values(state=latest))
            await _mark_reopened(session, row.conversation_id)

    async def ticket_for_conversation(self, conversation_id: str) -> TicketView | None:
        """The conversation's ticket that is not closed yet (the newest, should there be several), or None."""
        query = (tickets_with_names()
                 .where(Ticket.conversation_id == conversation_id, Ticket.status.in_(OPEN_STATUSES))
                 .order_by(Ticket.id.desc()).limit(1))
        async with self._sessions() as session:
            found = (await session.execute(query)).first()
        return None if found is None else ticket_view(found[0], found[1])

    async def stranded(self) -> list[tuple[TicketId, str]]:
        """Tickets still open or pending whose conversation is no longer queued or assigned (a process died
        between the conversation's move and the ticket's closing), with the conversation's state now."""
        query = (select(Ticket.id, Conversation.state).join(Conversation, Conversation.id == Ticket.conversation_id)
                 .where(Ticket.status.in_(("open", "pending")), Conversation.state.not_in(("queued", "assigned")))
                 .order_by(Ticket.id))
        async with self._sessions() as session:
            return [(TicketId(row[0]), str(row[1])) for row in await session.execute(query)]

    async def ticket_assigned(self, ticket_id: TicketId, agent_id: AgentId, now: datetime | float) -> None:
        """The agent has the ticket from ``now`` (``assigned_at`` keeps the first assignment: the wait).

        A still-open assignment of another agent ends with cause ``reassigned``.
        """
        moment = utc(now)
        async with self._sessions.begin() as session:
            row = await _ticket(session, ticket_id)
            await _end_assignments(session, ticket_id, "reassigned", moment)
            session.add(TicketAssignment(ticket_id=ticket_id, agent_id=agent_id, assigned_at=moment))
            row.assignee_id = agent_id
            row.assigned_at = row.assigned_at or moment
            row.updated_at = moment

    async def ticket_unassigned(self, ticket_id: TicketId, agent_id: AgentId, cause: str,
                                now: datetime | float) -> None:
        """The agent's spell on the ticket ended (``cause``: ``timeout``, ``transfer``, ``requeue``...)."""
        moment = utc(now)
        async with self._sessions.begin() as session:
            row = await _ticket(session, ticket_id)
            await _end_assignments(session, ticket_id, cause, moment, agent_id)
            if row.assignee_id == agent_id:
                row.assignee_id = None
            row.updated_at = moment

    async def first_response(self, ticket_id: TicketId, now: datetime | float) -> bool:
        """Note the first agent reply; later calls change nothing. Returns whether this was the first."""
        async with self._sessions.begin() as session:
            return bool(await changed_rows(
                session, update(Ticket).where(Ticket.id == ticket_id, Ticket.first_response_at.is_(None))
                .values(first_response_at=utc(now))))

    async def close_ticket(self, ticket_id: TicketId, status: str, now: datetime | float) -> bool:
        """Close the ticket; a ticket already closed stays as it was. Returns whether it was open.

        Args:
            status: ``resolved``, ``abandoned``, or ``handed_back`` (also ``bot``): status ``resolved``
                with resolution ``handed_back``. Open assignments end with the resolution as cause.
        """
        if status not in _CLOSINGS:
            raise ValueError(f"close a ticket as one of {sorted(_CLOSINGS)}, not {status!r}")
        final, resolution = _CLOSINGS[status]
        moment = utc(now)
        async with self._sessions.begin() as session:
            row = await _ticket(session, ticket_id)
            if row.status in CLOSED_STATUSES:
                return False
            await _end_assignments(session, ticket_id, resolution, moment)
            row.status, row.resolution = final, resolution
            row.resolved_at = row.updated_at = moment
            return True

    async def update_ticket(self, ticket_id: int, *, tags: Iterable[str] | None = None,
                            priority: Priority | str | None = None, status: str | None = None,
                            category: str | None = None,
                            now: datetime | float | None = None) -> TicketView | None:
        """Edit a ticket: replace its tags (trimmed, lower-cased, deduplicated), priority or category, or move it
        between ``open`` and ``pending``. Returns the ticket, or None if there is none with that id."""
        if status is not None and status not in ("open", "pending"):
            raise BadRequest("A ticket's status can only be set to open or pending; resolve it to close it.")
        async with self._sessions.begin() as session:
            row = await session.get(Ticket, ticket_id, with_for_update=True)
            if row is None:
                return None
            if tags is not None:
                row.tags = _clean_tags(tags)
            if priority is not None:
                row.priority = priority_name(priority)
            if category is not None:
                row.category = category
            if status is not None and row.status in ("open", "pending"):
                row.status = status
            row.updated_at = utc(now) if now is not None else datetime.now(UTC)
            name = await session.scalar(select(Agent.name).where(Agent.id == row.assignee_id))
            return ticket_view(row, name)

    async def add_note(self, ticket_id: TicketId, agent_id: AgentId, text: str, now: datetime | float, *,
                       whisper: bool = False) -> NoteView:
        """An internal note on the ticket (never shown to the customer); ``whisper``: a supervisor's to the agent."""
        async with self._sessions.begin() as session:
            await _ticket(session, ticket_id)
            row = Note(ticket_id=ticket_id, agent_id=agent_id, text=text, created_at=utc(now), whisper=whisper)
            session.add(row)
            await session.flush()
            name = await session.scalar(select(Agent.name).where(Agent.id == agent_id))
            return NoteView(id=row.id, ticket_id=ticket_id, agent_id=agent_id, agent_name=name, text=text,
                            created_at=row.created_at, whisper=whisper)

    async def worked_on(self, ticket_id: int, agent_id: str) -> bool:
        """Whether the agent is or ever was assigned to the ticket."""
        async with self._sessions() as session:
            assignee = exists().where(Ticket.id == ticket_id, Ticket.assignee_id == agent_id)
            return bool(await session.scalar(select(or_(assignee, _assigned_ever(agent_id, ticket_id)))))

    async def ticket(self, ticket_id: int) -> TicketView | None:
        """The ticket alone (no transcript, notes or history), or None: what lists and summaries need."""
        async with self._sessions() as session:
            return await read_ticket(session, ticket_id)

    async def get_ticket(self, ticket_id: int) -> TicketDetail | None:
        """The ticket with its transcript, notes, assignment history and transitions, or None."""
        async with self._sessions() as session:
            ticket = await read_ticket(session, ticket_id)
            if ticket is None:
                return None
            until = ticket.resolved_at
            messages = stored_messages().where(Message.conversation_id == ticket.conversation_id)
            transitions = select(Transition).where(Transition.conversation_id == ticket.conversation_id)
            if until is not None:
                messages = messages.where(Message.created_at <= until)
                transitions = transitions.where(Transition.created_at <= until)
            message_rows = (await session.execute(messages.order_by(Message.id).limit(TRANSCRIPT_LIMIT))).all()
            transition_rows = await session.scalars(transitions.order_by(Transition.id))
            note_rows = (await session.execute(
                select(Note, Agent.name).join(Agent, Note.agent_id == Agent.id)
                .where(Note.ticket_id == ticket_id).order_by(Note.id))).all()
            assignment_rows = (await session.execute(
                select(TicketAssignment, Agent.name).join(Agent, TicketAssignment.agent_id == Agent.id)
                .where(TicketAssignment.ticket_id == ticket_id).order_by(TicketAssignment.id))).all()
            return TicketDetail(
                **{f.name: getattr(ticket, f.name) for f in fields(TicketView)},
                messages=tuple(stored_view(row) for row in message_rows),
                notes=tuple(NoteView(id=n.id, ticket_id=ticket.ticket_id, agent_id=AgentId(n.agent_id),
                                     agent_name=name, text=n.text, created_at=n.created_at, whisper=n.whisper)
                             for n, name in note_rows),
                assignments=tuple(AssignmentView(ticket_id=ticket.ticket_id, agent_id=AgentId(a.agent_id),
                                                 agent_name=name, assigned_at=a.assigned_at, ended_at=a.ended_at,
                                                 end_cause=a.end_cause) for a, name in assignment_rows),
                transitions=tuple(transition_view(t) for t in transition_rows))

    async def list_tickets(self, *, status: str | Sequence[str] | None = None, assignee: str | None = None,
                           tier: int | None = None, priority: Priority | str | None = None, tag: str | None = None,
                           q: str | None = None, customer_id: str | None = None, worked_by: str | None = None,
                           limit: int = 50, offset: int = 0) -> list[TicketView]:
        """Tickets matching every filter given, newest first.

        Args:
            status: one status or several.
            worked_by: tickets this agent is or ever was assigned to.
            tag: tickets carrying this tag.
            q: text anywhere in the summary or in the conversation's messages (case-insensitive; SQLite folds
                ASCII letters only).
        """
        query = tickets_with_names()
        if status is not None:
            query = query.where(Ticket.status.in_([status] if isinstance(status, str) else list(status)))
        if assignee is not None:
            query = query.where(Ticket.assignee_id == assignee)
        if tier is not None:
            query = query.where(Ticket.tier == tier)
        if priority is not None:
            query = query.where(Ticket.priority == priority_name(priority))
        if customer_id is not None:
            query = query.where(Ticket.customer_id == customer_id)
        if worked_by is not None:
            query = query.where(or_(Ticket.assignee_id == worked_by, _assigned_ever(worked_by, Ticket.id)))
        if tag:
            # Tags are a JSON list of strings: match the quoted tag in its text, which both databases give.
            needle = _like(json.dumps(tag.strip().lower()))
            query = query.where(cast(Ticket.tags, String).like(needle, escape="\\"))
        if q and q.strip():
            pattern = _like(q.strip())
            in_transcript = exists().where(Message.conversation_id == Ticket.conversation_id,
                                           Message.text.ilike(pattern, escape="\\"))
            query = query.where(or_(Ticket.summary.ilike(pattern, escape="\\"), in_transcript))
        query = query.order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(limit).offset(offset)
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [ticket_view(row[0], row[1]) for row in rows]
