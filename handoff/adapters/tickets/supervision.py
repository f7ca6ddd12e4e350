"""What the supervisors' board reads and writes in the ticket log: how often each ticket was transferred, and a
ticket's tier set by hand.

Transfers are counted from the assignment history (``ticket_assignments.end_cause = 'transferred'``): one
statement for every conversation on the board, whatever the number of agents.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, select

from handoff.adapters.tickets.database import Repository, utc
from handoff.adapters.tickets.models import Ticket, TicketAssignment

TRANSFERRED = "transferred"


class SupervisionBook(Repository):
    """The board's reads and the supervisors' writes (a repository of :class:`~handoff.adapters.tickets.TicketLog`)."""

    async def transfers(self, ticket_ids: Collection[int]) -> dict[int, int]:
        """How many times each ticket was transferred (by its agent or a supervisor); tickets never transferred
        are left out."""
        if not ticket_ids:
            return {}
        async with self._sessions() as session:
            rows = await session.execute(
                select(TicketAssignment.ticket_id, func.count())
                .where(TicketAssignment.ticket_id.in_(list(ticket_ids)), TicketAssignment.end_cause == TRANSFERRED)
                .group_by(TicketAssignment.ticket_id))
            return {int(ticket_id): int(count) for ticket_id, count in rows.all()}

    async def set_tier(self, ticket_id: int, tier: int, now: datetime | float) -> bool:
        """Set the ticket's difficulty tier (a supervisor's escalation); False if there is no such ticket."""
        async with self._sessions.begin() as session:
            row = await session.get(Ticket, ticket_id)
            if row is None:
                return False
            row.tier = tier
            row.updated_at = utc(now)
            return True
