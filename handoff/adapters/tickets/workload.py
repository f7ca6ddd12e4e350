"""What staffing measures from the ticket log (:mod:`handoff.core.staffing`, docs/capacity.md "Staffing"):
the mean handle time, the customers' mean patience (the contacts per interval are the ``contacts``
repository's, with ``live=True``). Read-only.

A contact is a ticket served live: tickets with a promised ``callback`` (made out of hours) are left out, as
nobody waits on them. The handle time is the ticket's ``handle_seconds`` (its ended assignments' time, summed:
wall-clock time, other chats interleaved). The patience is the exponential's maximum-likelihood estimate with
censoring: the waits of every customer who waited (served: until assigned, censored; abandoned: until they
left) summed, over the number who abandoned. An abandoned ticket is closed by the sweeper
``HANDOFF_ABANDON_AFTER`` after its customer left, so that grace is taken off each abandoned wait.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select

from handoff.adapters.tickets.database import Repository, epoch, utc
from handoff.adapters.tickets.models import Ticket


@dataclass(frozen=True)
class HandleTime:
    """Mean handle time of the tickets with one, and how many there were."""

    mean_seconds: float | None
    tickets: int


@dataclass(frozen=True)
class Patience:
    """The mean patience (None when nobody abandoned), with its evidence."""

    mean_seconds: float | None
    abandoned: int
    waited: int  # contacts whose wait is known (served, zero waits included, or abandoned)
    exposure_seconds: float


class WorkloadBook(Repository):
    """Staffing's measured inputs (a repository of :class:`~handoff.adapters.tickets.TicketLog`)."""

    async def handle_time(self, since: datetime | float, until: datetime | float) -> HandleTime:
        """Mean ``handle_seconds`` of the tickets created in ``[since, until)`` that an agent held."""
        query = select(func.avg(Ticket.handle_seconds), func.count()).where(
            Ticket.created_at >= utc(since), Ticket.created_at < utc(until), Ticket.handle_seconds > 0)
        async with self._sessions() as session:
            mean, count = (await session.execute(query)).one()
        return HandleTime(float(mean) if mean is not None else None, int(count))

    async def patience(self, since: datetime | float, until: datetime | float,
                       grace_seconds: float = 0.0) -> Patience:
        """The mean patience of the customers of tickets created in ``[since, until)`` (see the module)."""
        created = epoch(Ticket.created_at)
        abandoned = (Ticket.status == "abandoned") & Ticket.assigned_at.is_(None)
        left_after = epoch(Ticket.resolved_at) - created - grace_seconds
        wait = case((Ticket.assigned_at.is_not(None), epoch(Ticket.assigned_at) - created),
                    (abandoned, case((left_after > 0, left_after), else_=0.0)))
        query = select(func.sum(wait), func.count(wait), func.sum(case((abandoned, 1), else_=0))).where(
            Ticket.created_at >= utc(since), Ticket.created_at < utc(until), Ticket.callback.is_(None))
        async with self._sessions() as session:
            exposure, waited, left = (await session.execute(query)).one()
        exposure, left = float(exposure or 0.0), int(left or 0)
        return Patience(exposure / left if left else None, left, int(waited or 0), exposure)
