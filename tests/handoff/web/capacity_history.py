"""A small history for the capacity page, written through the ticket log's own methods into a seeded
(data/demo) database: on each of the four same weekdays before ``planned``, four hand-offs a minute apart from
09:00 UTC, each answered by grace after 30 s and held 600 s; and a roster where only grace (3 chats at once,
no shift: always on) works at 09:00, the others' shifts being 20:00-21:00 UTC every day. With the team's target
(90% within 120 s, 30% shrinkage) the 09:00 half hour of ``planned`` is understaffed, and giving ada (4 chats)
a shift over it staffs it."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from handoff.adapters.tickets import TicketLog
from handoff.core.model import ConversationId, CustomerId

EVENING = [{"weekday": day, "start": "20:00", "end": "21:00"} for day in range(7)]


async def build_capacity_history(log: TicketLog, planned: date) -> None:
    grace = await log.people.agent_by_username("grace")
    assert grace is not None
    await log.people.update_agent(grace.agent_id, shift=[], timezone="UTC")
    for username in ("ada", "linus", "admin"):
        account = await log.people.agent_by_username(username)
        assert account is not None
        await log.people.update_agent(account.agent_id, shift=EVENING, timezone="UTC")
    customer = CustomerId("cu_capacity")
    for week in range(1, 5):
        nine = datetime.combine(planned - timedelta(weeks=week), time(9), tzinfo=UTC)
        for n in range(4):
            created = nine + timedelta(minutes=n)
            conversation = ConversationId(f"cap{week}-{n}")
            await log.conversations.create_conversation(conversation, customer, "web", created)
            ticket = await log.tickets.open_ticket(conversation, customer, "web", now=created, priority="normal",
                                                   tier=1, category="orders")
            await log.tickets.ticket_assigned(ticket, grace.agent_id, created + timedelta(seconds=30))
            await log.tickets.close_ticket(ticket, "resolved", created + timedelta(seconds=630))
