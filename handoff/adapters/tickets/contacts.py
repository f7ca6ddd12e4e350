"""Contacts per interval, the forecast's history (:mod:`handoff.core.forecast`, docs/capacity.md).

One grouped query: the database floors each start to its interval (seconds since the epoch, so the same SQL on
SQLite and PostgreSQL) and counts per interval; only intervals with a contact come back (a few thousand rows for
months of history, however many conversations there were).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from handoff.adapters.tickets.database import Repository, epoch, utc
from handoff.adapters.tickets.models import Conversation, Ticket


class ContactBook(Repository):
    """Contacts counted per interval (a repository of :class:`~handoff.adapters.tickets.TicketLog`)."""

    async def per_interval(self, since: datetime | float, until: datetime | float, interval_seconds: int,
                           channel: str | None = None, tier: int | None = None, category: str | None = None,
                           handoffs: bool = False, live: bool = False) -> list[tuple[float, int]]:
        """``(interval start in epoch seconds, contacts)`` of ``[since, until)``, in time order, for each interval
        with at least one contact; intervals are aligned to the epoch (to UTC midnight).

        Args:
            interval_seconds: the interval's length (900 or 1800; any divisor of a day).
            channel: only this channel's contacts.
            tier: only hand-offs (tickets) of this tier; implies ``handoffs``.
            category: only hand-offs of this category; implies ``handoffs``.
            live: only hand-offs served live, not those with a promised ``callback`` (made out of hours: nobody
                waits on them, so staffing does not count them); implies ``handoffs``.
            handoffs: count the hand-offs (tickets created) rather than the conversations started (those the
                bot finished alone included).
        """
        table = Ticket if handoffs or live or tier is not None or category is not None else Conversation
        start, end = utc(since), utc(until)
        slot = (func.floor(epoch(table.created_at) / interval_seconds) * interval_seconds).label("slot")
        inner = select(slot).where(table.created_at >= start, table.created_at < end)
        if channel is not None:
            inner = inner.where(table.channel == channel)
        if tier is not None:
            inner = inner.where(Ticket.tier == tier)
        if category is not None:
            inner = inner.where(Ticket.category == category)
        if live:
            inner = inner.where(Ticket.callback.is_(None))
        rows = inner.subquery()
        query = select(rows.c.slot, func.count()).group_by(rows.c.slot).order_by(rows.c.slot)
        async with self._sessions() as session:
            return [(float(at), int(number)) for at, number in await session.execute(query)]
