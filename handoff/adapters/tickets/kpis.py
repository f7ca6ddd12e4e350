"""Service KPIs from the tickets table: counts by status, waits, first responses and handle times.

Figures (seconds), over the tickets created in ``[since, until)``:

- wait: created -> first assigned (tickets that reached an agent);
- first response: created -> the first agent message (tickets that got one);
- handle: first assigned -> closed, for tickets an agent resolved or handed back.

Rows are fetched and summarised here rather than in SQL: the percentiles are
then the same on SQLite and PostgreSQL, and a day's tickets fit in memory.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select

from handoff.adapters.tickets.database import Repository, utc
from handoff.adapters.tickets.models import Ticket

STATUSES = ("open", "pending", "offline", "resolved", "abandoned")


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile of sorted values, interpolating linearly between ranks."""
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarise(values: Sequence[float]) -> dict[str, float | int | None]:
    """``{count, mean, p50, p90}`` of durations in seconds (None for each figure when there are none)."""
    if not values:
        return {"count": 0, "mean": None, "p50": None, "p90": None}
    ordered = sorted(values)
    return {"count": len(ordered), "mean": round(sum(ordered) / len(ordered), 3),
            "p50": round(percentile(ordered, 0.5), 3), "p90": round(percentile(ordered, 0.9), 3)}


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return None if start is None or end is None else (end - start).total_seconds()


class KpiBook(Repository):
    """KPIs (a repository of :class:`~handoff.adapters.tickets.TicketLog`)."""


    async def kpis(self, since: datetime | float, until: datetime | float) -> dict[str, Any]:
        """KPIs of the tickets created in ``[since, until)``.

        Returns:
            ``{"since", "until", "tickets", "by_status": {status: n}, "by_resolution": {resolution: n},
            "wait_seconds", "first_response_seconds", "handle_seconds"}``, each of the last three a
            ``{count, mean, p50, p90}``.
        """
        start, end = utc(since), utc(until)
        query = select(Ticket.status, Ticket.resolution, Ticket.created_at, Ticket.assigned_at,
                       Ticket.first_response_at, Ticket.resolved_at).where(Ticket.created_at >= start,
                                                                           Ticket.created_at < end)
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        by_status = dict.fromkeys(STATUSES, 0)
        by_resolution: dict[str, int] = {}
        waits, firsts, handles = [], [], []
        for status, resolution, created, assigned, first, resolved in rows:
            by_status[status] = by_status.get(status, 0) + 1
            if resolution is not None:
                by_resolution[resolution] = by_resolution.get(resolution, 0) + 1
            if (wait := _seconds(created, assigned)) is not None:
                waits.append(wait)
            if (response := _seconds(created, first)) is not None:
                firsts.append(response)
            if status == "resolved" and (handle := _seconds(assigned, resolved)) is not None:
                handles.append(handle)
        return {"since": start.isoformat(), "until": end.isoformat(), "tickets": len(rows),
                "by_status": by_status, "by_resolution": by_resolution, "wait_seconds": summarise(waits),
                "first_response_seconds": summarise(firsts), "handle_seconds": summarise(handles)}
