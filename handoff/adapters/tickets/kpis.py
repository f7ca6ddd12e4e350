"""The facts the QA metrics are measured from (:mod:`handoff.core.metrics`, docs/metrics.md).

On PostgreSQL :meth:`KpiBook.tallies` tallies the tickets and feedback per bucket and group in SQL (a few
hundred rows for any period). On SQLite they are read in a few narrow queries: one row per ticket created in the
period (its durations computed by the database), one row per feedback given in it. A ticket's handle time,
transfers and whether it was reopened are kept on the ticket as they happen (``handle_seconds``, ``transfers``,
``reopened``: :mod:`~handoff.adapters.tickets.ticketing`), so no report reads the assignments or pairs tickets;
and its first reason's code (``reason``), so none parses the reasons' JSON.
Either way the period's conversations are counted per local day (PostgreSQL) or quarter hour (SQLite) and
channel (a few thousand rows however many conversations there were). Timestamps and durations come out as float
seconds, so that no row is turned into datetimes on the way; nothing reads the messages table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Date,
    Executable,
    Float,
    Select,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY

from handoff.adapters.tickets.database import Repository, epoch, utc
from handoff.adapters.tickets.models import Agent, Conversation, Feedback, Ticket
from handoff.core.metrics import (
    NONE_KEY,
    SLOT,
    ConversationCount,
    Durations,
    FeedbackFact,
    FeedbackTally,
    Tallies,
    TicketFact,
    TicketTally,
)
from handoff.core.targets import Targets
from handoff.core.trials import ArmFact


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

    @staticmethod
    def _ticket_rows(start: datetime, end: datetime) -> Select[Any]:
        """The query of one row per ticket created in ``[start, end)``: its fact columns, as
        :class:`~handoff.core.metrics.TicketFact` orders them."""
        created = epoch(Ticket.created_at)
        closed_by_agent = Ticket.resolution.in_(("resolved", "handed_back"))
        columns: list[Any] = [
            created.label("at"), Ticket.channel.label("channel"), Ticket.tier.label("tier"),
            Ticket.category.label("category"), Ticket.reason.label("reason"), Ticket.assignee_id.label("agent"),
            Ticket.status.label("status"), Ticket.resolution.label("resolution"),
            (epoch(Ticket.assigned_at) - created).label("wait"),
            (epoch(Ticket.first_response_at) - created).label("first_response"),
            case((closed_by_agent, epoch(Ticket.resolved_at) - created)).label("resolution_time"),
            Ticket.handle_seconds.label("handle"), Ticket.transfers.label("transfers"),
            and_(Ticket.resolution == "resolved", Ticket.reopened).label("reopened")]
        return select(*columns).where(Ticket.created_at >= start, Ticket.created_at < end)

    async def ticket_facts(self, since: datetime | float, until: datetime | float) -> list[TicketFact]:
        """One :class:`~handoff.core.metrics.TicketFact` per ticket created in ``[since, until)``."""
        query = self._ticket_rows(*_between(since, until))
        return [TicketFact._make(row) for row in await self._read(query)]

    async def conversation_counts(self, since: datetime | float, until: datetime | float,
                                  zone: str = "UTC") -> list[ConversationCount]:
        """Conversations started in ``[since, until)``, counted per ``slot`` (epoch seconds: the start of the
        local day in ``zone`` on PostgreSQL, of the quarter hour on SQLite, which knows no timezones), ``channel``
        and whether they were ever ``handed`` to a person (they have a ticket)."""
        start, end = _between(since, until)
        async with self._sessions() as session:
            postgresql = session.get_bind().dialect.name == "postgresql"
            if postgresql:
                await session.execute(text("SET LOCAL jit = off"))
                slot = func.date_trunc("day", func.timezone(zone, Conversation.created_at)).label("slot")
            else:
                slot = (func.floor(epoch(Conversation.created_at) / SLOT) * SLOT).label("slot")
            # IN, not EXISTS: PostgreSQL hashes the tickets' conversations once instead of probing per conversation.
            handed = Conversation.id.in_(select(Ticket.conversation_id)).label("handed")
            inner = (select(slot, Conversation.channel.label("channel"), handed)
                     .where(Conversation.created_at >= start, Conversation.created_at < end).subquery())
            # The local day's start as epoch seconds once per group, not once per conversation.
            begins = epoch(func.timezone(zone, inner.c.slot)) if postgresql else inner.c.slot
            query = (select(begins, inner.c.channel, inner.c.handed, func.count().label("number"))
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
                        Ticket.reason.label("reason"),
                        Feedback.article_id.label("article"))
                 .outerjoin(Ticket, Ticket.id == Feedback.ticket_id)
                 .where(and_(Feedback.kind.in_(("csat", "helpful")), Feedback.created_at >= start,
                             Feedback.created_at < end)))
        return [FeedbackFact._make(row) for row in await self._read(query)]

    async def trial_facts(self, since: datetime | float, until: datetime | float) -> list[ArmFact]:
        """One :class:`~handoff.core.trials.ArmFact` per conversation started in ``[since, until)`` (an A/B trial's
        window): whether it was handed to a person, and its customer's latest rating (1-5), if any."""
        start, end = _between(since, until)
        handed = Conversation.id.in_(select(Ticket.conversation_id)).label("handed")
        latest = (select(Feedback.conversation_id, func.max(Feedback.id).label("id"))
                  .where(Feedback.kind == "csat").group_by(Feedback.conversation_id).subquery())
        query = (select(Conversation.id, epoch(Conversation.created_at), handed, Feedback.score)
                 .outerjoin(latest, latest.c.conversation_id == Conversation.id)
                 .outerjoin(Feedback, Feedback.id == latest.c.id)
                 .where(Conversation.created_at >= start, Conversation.created_at < end))
        return [ArmFact(str(row[0]), float(row[1]), bool(row[2]), None if row[3] is None else int(row[3]))
                for row in await self._read(query)]

    async def tallies_in_database(self) -> bool:
        """Whether the database tallies the metrics itself (:meth:`tallies`: PostgreSQL) and takes several reads at
        once (SQLite's one connection does not)."""
        async with self._sessions() as session:
            return session.get_bind().dialect.name == "postgresql"

    async def tallies(self, since: datetime | float, until: datetime | float, zone: str, bucket: str | None,
                      dimension: str | None, targets: Targets, now: float) -> Tallies | None:
        """The tickets' and the feedback's :class:`~handoff.core.metrics.Tallies` of ``[since, until)`` per local
        ``bucket`` (``day``, ``week`` in ``zone``, or None: the whole period) and value of ``dimension`` (None: all
        keyed ``all``), tallied by the database: a few hundred rows however many tickets there were. None on
        SQLite, which has no percentiles: the caller measures the facts (:meth:`ticket_facts`) itself."""
        start, end = _between(since, until)
        async with self._sessions() as session:
            if session.get_bind().dialect.name != "postgresql":
                return None
            await session.execute(text("SET LOCAL jit = off"))  # compiling these plans takes longer than running them
            await session.execute(text("SET LOCAL work_mem = '32MB'"))  # a year's tickets sorted in memory, not on disk
            ticket_key = _TICKET_KEYS.get(dimension or "all")
            tickets = None
            if ticket_key is not None:
                query = self._ticket_tallies(start, end, zone, bucket, ticket_key, targets, now)
                tickets = {(row[0], _key(row[1])): _ticket_tally(row[2:]) for row in await session.execute(query)}
            query = self._feedback_tallies(start, end, zone, bucket, _FEEDBACK_KEYS[dimension or "all"])
            feedback = {(row[0], _key(row[1])): FeedbackTally._make(row[2:]) for row in await session.execute(query)}
            return Tallies(tickets, feedback)

    async def reason_counts(self, since: datetime | float, until: datetime | float) -> dict[str, int]:
        """Tickets created in ``[since, until)`` per reason code (:func:`~handoff.core.metrics.reasons`)."""
        start, end = _between(since, until)
        reason = func.coalesce(func.nullif(Ticket.reason, ""), NONE_KEY)
        counts = (select(reason, func.count()).where(Ticket.created_at >= start, Ticket.created_at < end)
                  .group_by(reason))
        return dict(sorted(((code, number) for code, number in await self._read(counts)),
                           key=lambda item: (-item[1], item[0])))

    def _ticket_tallies(self, start: datetime, end: datetime, zone: str, bucket: str | None, key: Any,
                        targets: Targets, now: float) -> Executable:
        query = self._ticket_rows(start, end)
        teams = _teams()
        # OFFSET 0 keeps PostgreSQL from folding the rows into the aggregate, where it would compute each duration
        # again for every aggregate that reads it (a year's tallies took twice as long).
        rows = (query.add_columns(_bucket(bucket, zone, Ticket.created_at).label("bucket"), key.label("key"))
                .outerjoin(teams, teams.c.id == Ticket.assignee_id).offset(0).subquery())
        first, resolution, age = rows.c.first_response, rows.c.resolution_time, literal(now) - rows.c.at
        first_ok = and_(first.isnot(None), first <= targets.first_response_seconds)
        sla = case((rows.c.status.in_(("abandoned", "offline")), None),
                   (resolution.isnot(None), and_(first_ok, resolution <= targets.resolution_seconds)),
                   (or_(age > targets.resolution_seconds, and_(first.is_(None), age > targets.first_response_seconds)),
                    False),
                   (and_(first.isnot(None), first > targets.first_response_seconds), False), else_=None)
        handle = case((resolution.isnot(None), rows.c.handle))
        spreads = [column for values in (rows.c.wait, first, handle, resolution) for column in (
            func.sum(values), func.count(values),
            func.percentile_cont(literal([0.5, 0.9], ARRAY(Float()))).within_group(values))]
        return (select(rows.c.bucket, rows.c.key, func.count(), func.count().filter(rows.c.status != "offline"),
                       func.count().filter(rows.c.status == "abandoned"), func.count(rows.c.wait),
                       func.count().filter(rows.c.transfers > 0), func.coalesce(func.sum(rows.c.transfers), 0),
                       func.count().filter(rows.c.resolution == "resolved"),
                       func.count().filter(and_(rows.c.resolution == "resolved", rows.c.reopened)),
                       func.count().filter(sla), func.count(sla), *spreads)
                .group_by(rows.c.bucket, rows.c.key))

    @staticmethod
    def _feedback_tallies(start: datetime, end: datetime, zone: str, bucket: str | None, key: Any) -> Executable:
        teams = _teams()
        csat, helpful = Feedback.kind == "csat", Feedback.kind == "helpful"
        return (select(_bucket(bucket, zone, Feedback.created_at).label("bucket"), key.label("key"),
                       func.count().filter(csat), func.coalesce(func.sum(Feedback.score).filter(csat), 0),
                       func.count().filter(and_(csat, Feedback.score >= 4)), func.count().filter(helpful),
                       func.coalesce(func.sum(Feedback.score).filter(helpful), 0))
                .outerjoin(Ticket, Ticket.id == Feedback.ticket_id)
                .outerjoin(teams, teams.c.id == Feedback.agent_id)
                .where(Feedback.kind.in_(("csat", "helpful")), Feedback.created_at >= start, Feedback.created_at < end)
                .group_by(text("1"), text("2")))

    async def agents(self) -> list[tuple[str, str, list[int]]]:
        """``(id, name, tiers)`` of every account, for the agents' names and teams in reports."""
        async with self._sessions() as session:
            return [(row.id, row.name, list(row.tiers))
                    for row in await session.execute(select(Agent.id, Agent.name, Agent.tiers))]


def _teams() -> Any:
    """Each agent's team (:func:`~handoff.core.metrics.team_of`: the desk of their highest tier), as a table."""
    return (text("SELECT agents.id AS id, 'tier ' || coalesce(max(tier.value::int), 1) AS team FROM agents "
                 "LEFT JOIN LATERAL json_array_elements_text(agents.tiers) AS tier(value) ON true GROUP BY agents.id")
            .columns(id=String(), team=String()).subquery("teams"))


def _bucket(bucket: str | None, zone: str, column: Any) -> Any:
    """The local date that starts the ``bucket`` (day, week: its Monday) of a timestamp, in ``zone``."""
    if bucket is None:
        return literal_column("CAST(NULL AS DATE)", Date())
    return cast(func.date_trunc(bucket, func.timezone(zone, column)), Date())


def _key(value: Any) -> str:
    return NONE_KEY if value is None else str(value)


def _ticket_tally(row: Any) -> TicketTally:
    spreads = [Durations(float(row[n] or 0.0), row[n + 1], *(row[n + 2] or (None, None))) for n in range(10, 22, 3)]
    return TicketTally(*row[:10], *spreads)


# The group of a ticket and of a feedback for each dimension, as core/metrics groups them ("all": no dimension);
# a dimension tickets cannot be grouped by (the article) has none.
_TICKET_KEYS: dict[str, Any] = {
    "all": literal("all"), "path": literal("handoff"), "agent": Ticket.assignee_id,
    "team": literal_column("teams.team"), "tier": cast(Ticket.tier, String()), "channel": Ticket.channel,
    "category": Ticket.category, "reason": Ticket.reason}
_FEEDBACK_KEYS: dict[str, Any] = {
    "all": literal("all"), "path": Feedback.path, "agent": Feedback.agent_id, "team": literal_column("teams.team"),
    "tier": cast(Ticket.tier, String()), "channel": Feedback.channel, "category": Feedback.category,
    "reason": Ticket.reason, "article": Feedback.article_id}
