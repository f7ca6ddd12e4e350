"""The facts the QA metrics are measured from (:mod:`handoff.core.metrics`, docs/metrics.md), read in a few
narrow queries: one row per ticket created in the period (its durations computed by the database), one row per
feedback given in it, and the period's conversations counted per local day (PostgreSQL) or quarter hour (SQLite)
and channel (a few thousand rows however many conversations there were). Timestamps and durations come out as
float seconds, so that no row is turned into datetimes on the way; nothing reads the messages table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Executable, Float, and_, case, exists, func, literal, select, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from handoff.adapters.tickets.database import Repository, utc
from handoff.adapters.tickets.models import Agent, Conversation, Feedback, Ticket, TicketAssignment
from handoff.core.metrics import REOPEN_WINDOW, SLOT, ConversationCount, FeedbackFact, TicketFact


class epoch(FunctionElement[float]):
    """Seconds since the epoch of a timestamp column, as a float, on either database."""

    type = Float()
    inherit_cache = True


@compiles(epoch, "postgresql")
def _epoch_postgresql(element: epoch, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) AS DOUBLE PRECISION)"


@compiles(epoch, "sqlite")
def _epoch_sqlite(element: epoch, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps the UTC time as text; julianday() reads it (2440587.5 is the epoch's Julian day).
    return f"((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0)"


def _between(since: datetime | float, until: datetime | float) -> tuple[datetime, datetime]:
    return utc(since), utc(until)


class KpiBook(Repository):
    """The metrics' facts (a repository of :class:`~handoff.adapters.tickets.TicketLog`)."""

    async def _read(self, query: Executable) -> list[Any]:
        async with self._sessions() as session:
            if session.get_bind().dialect.name == "postgresql":
                # PostgreSQL's JIT compiles these plans for longer (seconds) than they run: off, for this read.
                await session.execute(text("SET LOCAL jit = off"))
            return list((await session.execute(query)).all())

    async def ticket_facts(self, since: datetime | float, until: datetime | float) -> list[TicketFact]:
        """One :class:`~handoff.core.metrics.TicketFact` per ticket created in ``[since, until)``."""
        start, end = _between(since, until)
        created = epoch(Ticket.created_at)
        later = aliased(Ticket)
        spells = (select(TicketAssignment.ticket_id.label("ticket_id"),
                         func.sum(epoch(TicketAssignment.ended_at) - epoch(TicketAssignment.assigned_at))
                         .label("handle"),
                         func.sum(case((TicketAssignment.end_cause == "transferred", 1), else_=0)).label("transfers"))
                  .join(Ticket, Ticket.id == TicketAssignment.ticket_id)
                  .where(Ticket.created_at >= start, Ticket.created_at < end)
                  .group_by(TicketAssignment.ticket_id).subquery())
        reopened = exists().where(later.conversation_id == Ticket.conversation_id, later.id > Ticket.id,
                                  epoch(later.created_at) - epoch(Ticket.resolved_at) <= REOPEN_WINDOW)
        closed_by_agent = Ticket.resolution.in_(("resolved", "handed_back"))
        query = (select(created.label("at"), Ticket.channel.label("channel"), Ticket.tier.label("tier"),
                        Ticket.category.label("category"), Ticket.reasons[(0, "code")].as_string().label("reason"),
                        Ticket.assignee_id.label("agent"), Ticket.status.label("status"),
                        Ticket.resolution.label("resolution"),
                        (epoch(Ticket.assigned_at) - created).label("wait"),
                        (epoch(Ticket.first_response_at) - created).label("first_response"),
                        case((closed_by_agent, epoch(Ticket.resolved_at) - created)).label("resolution_time"),
                        spells.c.handle.label("handle"),
                        func.coalesce(spells.c.transfers, 0).label("transfers"),
                        case((Ticket.resolution == "resolved", reopened), else_=literal(False)).label("reopened"))
                 .outerjoin(spells, spells.c.ticket_id == Ticket.id)
                 .where(Ticket.created_at >= start, Ticket.created_at < end))
        return [TicketFact._make(row) for row in await self._read(query)]

    async def conversation_counts(self, since: datetime | float, until: datetime | float,
                                  zone: str = "UTC") -> list[ConversationCount]:
        """Conversations started in ``[since, until)``, counted per ``slot`` (epoch seconds: the start of the
        local day in ``zone`` on PostgreSQL, of the quarter hour on SQLite, which knows no timezones), ``channel``
        and whether they were ever ``handed`` to a person (they have a ticket)."""
        start, end = _between(since, until)
        async with self._sessions() as session:
            if session.get_bind().dialect.name == "postgresql":
                await session.execute(text("SET LOCAL jit = off"))
                local_day = func.date_trunc("day", func.timezone(zone, Conversation.created_at))
                slot = epoch(func.timezone(zone, local_day)).label("slot")
            else:
                slot = (func.floor(epoch(Conversation.created_at) / SLOT) * SLOT).label("slot")
            handed = exists().where(Ticket.conversation_id == Conversation.id).label("handed")
            inner = (select(slot, Conversation.channel.label("channel"), handed)
                     .where(Conversation.created_at >= start, Conversation.created_at < end).subquery())
            query = (select(inner.c.slot, inner.c.channel, inner.c.handed, func.count().label("number"))
                     .group_by(inner.c.slot, inner.c.channel, inner.c.handed))
            return [ConversationCount._make(row) for row in await session.execute(query)]

    async def feedback_facts(self, since: datetime | float, until: datetime | float) -> list[FeedbackFact]:
        """One :class:`~handoff.core.metrics.FeedbackFact` per feedback given in ``[since, until)`` (tier and
        reason from its ticket, if it has one)."""
        start, end = _between(since, until)
        query = (select(epoch(Feedback.created_at).label("at"), Feedback.kind.label("kind"),
                        Feedback.score.label("score"), Feedback.path.label("path"), Feedback.agent_id.label("agent"),
                        Ticket.tier.label("tier"), Feedback.channel.label("channel"),
                        Feedback.category.label("category"),
                        Ticket.reasons[(0, "code")].as_string().label("reason"),
                        Feedback.article_id.label("article"))
                 .outerjoin(Ticket, Ticket.id == Feedback.ticket_id)
                 .where(and_(Feedback.kind.in_(("csat", "helpful")), Feedback.created_at >= start,
                             Feedback.created_at < end)))
        return [FeedbackFact._make(row) for row in await self._read(query)]

    async def agents(self) -> list[tuple[str, str, list[int]]]:
        """``(id, name, tiers)`` of every account, for the agents' names and teams in reports."""
        async with self._sessions() as session:
            return [(row.id, row.name, list(row.tiers))
                    for row in await session.execute(select(Agent.id, Agent.name, Agent.tiers))]
