"""A hand-built history with known answers for every QA metric (docs/metrics.md), written through the ticket
log's own methods (feedback as rows: the widget's path writes them elsewhere), on the test's database.

Times are seconds after ``T0`` (2026-11-25 09:00 UTC, 10:00 in Berlin). Conversations:

- ``h1``, ``h2`` (web): the bot alone, contained; ``h1`` rated 4 on the bot's path;
- ``h3`` (web): ticket A, tier 1, orders, ``explicit_request``: created 100, grace 160 (wait 60), first reply
  200 (100), resolved 1300 (1200; handled 1140); rated 5. Handed off again at 5000: ticket E, tier 1, orders,
  ``explicit_request``, grace 5030 (wait 30), reply 5050 (50), handed back 6000 (1000; handled 970). So A is
  reopened;
- ``h4`` (whatsapp): ticket B, tier 2, billing, ``out_of_scope``: created 200, grace 500 (wait 300), first reply
  520 (320: over the 180 s target), transferred 600, ada 700, resolved 1700 (1500; handled 100 + 1000); rated 2;
- ``h5`` (web): ticket C, tier 1, orders, ``explicit_request``: created 300, abandoned 400;
- ``h6`` (web, the next day, 86400): ticket D, tier 1, no category, ``low_confidence``, open, 50 s old at
  ``NOW``: no verdict on its service level yet.

Helpfulness votes: ``kb/shipping`` helpful, helpful, not; ``kb/returns`` not.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from handoff.adapters.tickets import TicketLog
from handoff.adapters.tickets.models import Feedback
from handoff.core.model import AgentId, ConversationId, CustomerId, TicketId

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(seconds=86400 + 150)
CUSTOMER = CustomerId("cu_h")
ADA, GRACE = AgentId("a_ada"), AgentId("a_grace")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def _ticket(log: TicketLog, conversation: str, created: float, *, channel: str = "web", tier: int = 1,
                  category: str | None = "orders", reason: str = "explicit_request") -> TicketId:
    return await log.tickets.open_ticket(ConversationId(conversation), CUSTOMER, channel, now=at(created),
                                         priority="normal", tier=tier, category=category, reasons=[reason])


async def build_history(log: TicketLog) -> None:
    """The history above (agents ``a_ada``, tiers 1-2, and ``a_grace``, tier 1, created here)."""
    await log.people.create_agent("ada", "Ada Lovelace", "hash-a", agent_id=ADA, tiers=[1, 2], now=T0)
    await log.people.create_agent("grace", "Grace Hopper", "hash-g", agent_id=GRACE, tiers=[1], now=T0)
    for name, channel, start in [("h1", "web", 0), ("h2", "web", 10), ("h3", "web", 20), ("h4", "whatsapp", 30),
                                 ("h5", "web", 40), ("h6", "web", 86400)]:
        await log.conversations.create_conversation(ConversationId(name), CUSTOMER, channel, at(start))
    a = await _ticket(log, "h3", 100)
    await log.tickets.ticket_assigned(a, GRACE, at(160))
    await log.tickets.first_response(a, at(200))
    await log.tickets.close_ticket(a, "resolved", at(1300))
    b = await _ticket(log, "h4", 200, channel="whatsapp", tier=2, category="billing", reason="out_of_scope")
    await log.tickets.ticket_assigned(b, GRACE, at(500))
    await log.tickets.first_response(b, at(520))
    await log.tickets.ticket_unassigned(b, GRACE, "transferred", at(600))
    await log.tickets.ticket_assigned(b, ADA, at(700))
    await log.tickets.close_ticket(b, "resolved", at(1700))
    c = await _ticket(log, "h5", 300)
    await log.tickets.close_ticket(c, "abandoned", at(400))
    await _ticket(log, "h6", 86400, category=None, reason="low_confidence")
    e = await _ticket(log, "h3", 5000)
    await log.tickets.ticket_assigned(e, GRACE, at(5030))
    await log.tickets.first_response(e, at(5050))
    await log.tickets.close_ticket(e, "handed_back", at(6000))

    def verdict(conversation: str, kind: str, score: int, when: float, *, ticket: int | None = None,
                agent: str | None = None, path: str = "handoff", channel: str = "web",
                category: str | None = None, article: str | None = None) -> Feedback:
        return Feedback(conversation_id=conversation, ticket_id=ticket, agent_id=agent, kind=kind, score=score,
                        path=path, channel=channel, category=category, intents=[], article_id=article,
                        created_at=at(when))

    async with AsyncSession(log.engine) as session:
        session.add_all([
            verdict("h1", "csat", 4, 50, path="bot"),
            verdict("h3", "csat", 5, 1400, ticket=a, agent=GRACE, category="orders"),
            verdict("h4", "csat", 2, 1800, ticket=b, agent=ADA, channel="whatsapp", category="billing"),
            verdict("h1", "helpful", 1, 20, path="bot", article="kb/shipping"),
            verdict("h2", "helpful", 1, 25, path="bot", article="kb/shipping"),
            verdict("h2", "helpful", 0, 26, path="bot", article="kb/shipping"),
            verdict("h3", "helpful", 0, 60, path="bot", article="kb/returns"),
        ])
        await session.commit()
