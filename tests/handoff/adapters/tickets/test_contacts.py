"""Contacts per interval from the ticket log (handoff/adapters/tickets/contacts.py), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from handoff.adapters.tickets import TicketLog
from handoff.core.model import ConversationId, CustomerId
from tests.handoff.adapters.tickets.conftest import T0, at

# (seconds after T0 (09:00 UTC), channel, ticket tier or None: the bot finished it alone)
# the first on an interval's first instant: counted in it, on SQLite too
HISTORY = [(0, "web", None), (60, "web", 1), (29 * 60, "whatsapp", 2), (30 * 60, "web", 2),
           (44 * 60 + 59, "web", None), (3 * 3600, "whatsapp", 1)]


async def build(log: TicketLog) -> None:
    for number, (seconds, channel, tier) in enumerate(HISTORY):
        conversation, customer = ConversationId(f"c{number}"), CustomerId("cu_1")
        await log.conversations.create_conversation(conversation, customer, channel, at(seconds))
        if tier is not None:
            await log.tickets.open_ticket(conversation, customer, channel, now=at(seconds + 5), priority="normal",
                                          tier=tier, category=None)


async def test_conversations_per_interval_bot_only_included(log: TicketLog) -> None:
    await build(log)
    start = T0.timestamp()
    end = T0 + timedelta(hours=4)
    assert await log.contacts.per_interval(T0, end, 1800) == [(start, 3), (start + 1800, 2), (start + 3 * 3600, 1)]
    assert await log.contacts.per_interval(T0, end, 900) == [(start, 2), (start + 900, 1), (start + 1800, 2),
                                                             (start + 3 * 3600, 1)]
    assert await log.contacts.per_interval(T0, end, 1800, channel="whatsapp") == [(start, 1), (start + 3 * 3600, 1)]


async def test_handoffs_per_tier_and_the_period_s_bounds(log: TicketLog) -> None:
    await build(log)
    start = T0.timestamp()
    end = T0 + timedelta(hours=4)
    assert await log.contacts.per_interval(T0, end, 1800, handoffs=True) == [(start, 2), (start + 1800, 1),
                                                                              (start + 3 * 3600, 1)]
    assert await log.contacts.per_interval(T0, end, 1800, tier=2) == [(start, 1), (start + 1800, 1)]
    assert await log.contacts.per_interval(T0, end, 1800, tier=1, channel="web") == [(start, 1)]
    # [since, until): the conversation at 09:00 is in, the one at 12:00 is out
    assert await log.contacts.per_interval(T0 + timedelta(seconds=1), T0 + timedelta(hours=3), 1800) == [
        (start, 2), (start + 1800, 2)]
