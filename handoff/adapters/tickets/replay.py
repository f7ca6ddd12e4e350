"""The routing simulator's history (:mod:`handoff.core.replay`): the period's hand-offs, read only.

Two narrow queries: one row per ticket created in the period with its customer's language and value (the
durations computed by the database, as :mod:`~handoff.adapters.tickets.kpis` does), and, for the period's
returning customers, what sticky routing knew of them when the period began: the agent of their last answered
assignment and how many tickets they had. A ticket's handle time and transfers are kept on it as they happen
(``handle_seconds``, ``transfers``), so nothing reads the assignments of the period itself.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, select

from handoff.adapters.tickets.database import Repository, epoch, utc
from handoff.adapters.tickets.models import Customer, Ticket, TicketAssignment
from handoff.adapters.tickets.people import UNANSWERED_CAUSES
from handoff.core.model import AgentId, CustomerId, Priority
from handoff.core.replay import Contact, CustomerStart, History


class ReplayLog(Repository):
    """The history a replay needs (a repository of :class:`~handoff.adapters.tickets.TicketLog`)."""

    async def history(self, since: datetime | float, until: datetime | float) -> History:
        """The hand-offs (tickets) created in ``[since, until)`` and their customers at ``since``."""
        start, end = utc(since), utc(until)
        created = epoch(Ticket.created_at)
        ended = epoch(func.coalesce(Ticket.resolved_at, Ticket.updated_at))
        tickets = (select(Ticket.id, Ticket.customer_id, created, Ticket.tier, Ticket.category, Ticket.priority,
                          func.coalesce(Customer.language, "en"), func.coalesce(Customer.value_tier, "standard"),
                          Ticket.status, epoch(Ticket.assigned_at) - created, Ticket.handle_seconds,
                          func.coalesce(Ticket.transfers, 0),
                          case((Ticket.status == "abandoned", ended - created)))
                   .join(Customer, Customer.id == Ticket.customer_id, isouter=True)
                   .where(Ticket.created_at >= start, Ticket.created_at < end)
                   .order_by(Ticket.created_at, Ticket.id))
        period_customers = select(Ticket.customer_id).where(Ticket.created_at >= start, Ticket.created_at < end)
        past = (select(Ticket.customer_id, func.count())
                .where(Ticket.created_at < start, Ticket.customer_id.in_(period_customers))
                .group_by(Ticket.customer_id))
        answered = TicketAssignment.end_cause.is_(None) | TicketAssignment.end_cause.not_in(UNANSWERED_CAUSES)
        last = (select(Ticket.customer_id, TicketAssignment.agent_id, epoch(TicketAssignment.assigned_at))
                .join(Ticket, TicketAssignment.ticket_id == Ticket.id)
                .where(TicketAssignment.assigned_at < start, answered,
                       Ticket.customer_id.in_(period_customers)))
        async with self._sessions() as session:
            rows = (await session.execute(tickets)).all()
            counts = {CustomerId(c): int(n) for c, n in await session.execute(past)}
            latest: dict[CustomerId, tuple[float, AgentId]] = {}
            for row in await session.execute(last):
                customer = CustomerId(row[0])
                if customer not in latest or row[2] > latest[customer][0]:
                    latest[customer] = (float(row[2]), AgentId(row[1]))
        contacts = tuple(
            Contact(int(r[0]), CustomerId(r[1]), float(r[2]), int(r[3] or 1), r[4], Priority[str(r[5]).upper()],
                    str(r[6]), str(r[7]), str(r[8]), None if r[9] is None else max(float(r[9]), 0.0),
                    None if r[10] is None else float(r[10]), int(r[11]),
                    None if r[12] is None else max(float(r[12]), 0.0))
            for r in rows)
        customers = {c: CustomerStart(latest[c][1] if c in latest else None, counts.get(c, 0))
                     for c in set(counts) | set(latest)}
        return History(start.timestamp(), end.timestamp(), contacts, customers)
