"""A small contact history with known staffing inputs, written through the ticket log's own methods.

On each of the four Mondays before ``PLANNED`` (2026-12-07), from 09:00 UTC, four contacts a minute apart:
three wait 30 s for ``a_grace`` and are held 600 s; the fourth leaves unanswered, closed by the sweeper 200 s
after it was created (``GRACE`` 120 s after the customer left: a patience of 80 s). And one out-of-hours
ticket with a callback, which is no live contact. So: 16 contacts in the 09:00 half hours, handle time 600 s
(12 tickets), patience (4·(3·30 + 80)) / 4 = 170 s.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from handoff.adapters.tickets import TicketLog
from handoff.core.model import AgentId, ConversationId, CustomerId

PLANNED = date(2026, 12, 7)
MONDAYS = [datetime(2026, 11, d, 9, 0, tzinfo=UTC) for d in (9, 16, 23, 30)]
GRACE = 120.0
GRACE_ID = AgentId("a_grace")
CUSTOMER = CustomerId("cu_t")


async def build_traffic(log: TicketLog, *, shift: list[dict[str, object]] | None = None,
                        capacity: int = 2) -> None:
    """The history above, and ``a_grace`` (``shift``: default Mondays 09:00-10:00 UTC)."""
    await log.people.create_agent("grace", "Grace Hopper", "hash-g", agent_id=GRACE_ID, capacity=capacity,
                                  shift=shift if shift is not None else [{"weekday": 0, "start": "09:00",
                                                                          "end": "10:00"}],
                                  now=MONDAYS[0] - timedelta(days=1))
    for week, monday in enumerate(MONDAYS):
        for n in range(4):
            created = monday + timedelta(minutes=n)
            conversation = ConversationId(f"t{week}-{n}")
            await log.conversations.create_conversation(conversation, CUSTOMER, "web", created)
            ticket = await log.tickets.open_ticket(conversation, CUSTOMER, "web", now=created, priority="normal",
                                                   tier=1, category="orders")
            if n == 3:
                await log.tickets.close_ticket(ticket, "abandoned", created + timedelta(seconds=200))
                continue
            await log.tickets.ticket_assigned(ticket, GRACE_ID, created + timedelta(seconds=30))
            await log.tickets.close_ticket(ticket, "resolved", created + timedelta(seconds=630))
    night = MONDAYS[-1] + timedelta(hours=13)
    await log.conversations.create_conversation(ConversationId("t-night"), CUSTOMER, "web", night)
    await log.tickets.open_ticket(ConversationId("t-night"), CUSTOMER, "web", now=night, priority="normal", tier=1,
                                  category=None, status="offline", callback={"at": night.isoformat()})
