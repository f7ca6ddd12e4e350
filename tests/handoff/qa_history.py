"""A known history for the QA tests: handled tickets written through the ticket log's own methods (conversation,
ticket, assignment, messages, closing), and customers' ratings with the follow-up items they open.

The feedback rows are written with the ORM here: recording feedback is the feedback part's, which these tests
do not exercise; the rows are what its docstrings (models.py ``Feedback``, ``FollowUp``) say it writes.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from handoff.adapters.tickets import TicketLog
from handoff.adapters.tickets.database import utc
from handoff.adapters.tickets.models import Feedback, FollowUp
from handoff.core.model import AgentId, ConversationId, CustomerId
from handoff.core.model import TicketId as TicketIdType


async def handled_ticket(log: TicketLog, agent_id: str, *, at: datetime | float, handle: float,
                         words: tuple[str, ...] = ("Where is my parcel?", "It ships today."),
                         category: str = "orders", end: str = "resolved") -> int:
    """A conversation handed to ``agent_id`` at ``at``, answered, and ended ``handle`` seconds later (``end``:
    resolved, or transferred, when the ticket stays open); its ticket's id."""
    start = utc(at).timestamp()
    conversation, customer = ConversationId(f"c_{uuid.uuid4().hex[:12]}"), CustomerId(f"u_{uuid.uuid4().hex[:12]}")
    await log.conversations.create_conversation(conversation, customer, "web", start)
    ticket = await log.tickets.open_ticket(conversation, customer, "web", now=start, priority="normal", tier=1,
                                           category=category, summary=f"The customer asked: {words[0]}")
    await log.tickets.ticket_assigned(TicketIdType(ticket), AgentId(agent_id), start + 5)
    for index, text in enumerate(words):
        sender = "customer" if index % 2 == 0 else "agent"
        await log.conversations.add_message(conversation, sender, text, now=start + 6 + index,
                                            agent_id=AgentId(agent_id) if sender == "agent" else None)
    # as the service resolves: the agent's spell ends (the ticket keeps no assignee), then the ticket closes
    await log.tickets.ticket_unassigned(TicketIdType(ticket), AgentId(agent_id), end, start + 5 + handle)
    if end == "resolved":
        await log.tickets.close_ticket(TicketIdType(ticket), "resolved", start + 5 + handle)
    return ticket


async def with_customer(log: TicketLog, ticket_id: int, *, name: str, email: str, external_id: str | None = None,
                        at: datetime | float) -> None:
    """Give the ticket's customer a profile (name, e-mail, the shop's id)."""
    ticket = await log.tickets.ticket(ticket_id)
    assert ticket is not None
    conversation = await log.conversations.conversation(ticket.conversation_id)
    assert conversation is not None
    await log.people.upsert_customer(conversation.customer_id, name=name, email=email, external_id=external_id,
                                     now=at)


async def rated(log: TicketLog, ticket_id: int, score: int, comment: str | None = None, *,
                at: datetime | float) -> int | None:
    """The customer's rating (1-5) of the ticket's conversation; a 1 or 2 opens a follow-up item, whose id is
    returned (else None)."""
    ticket = await log.tickets.ticket(ticket_id)
    assert ticket is not None
    agent_id = ticket.assignee_id or await log.qa.last_agent(ticket_id)  # the agent who had it, as rated
    async with log.qa._sessions.begin() as session:  # test data only
        verdict = Feedback(conversation_id=ticket.conversation_id, ticket_id=ticket_id, agent_id=agent_id,
                           kind="csat", score=score, comment=comment, path="handoff", channel="web",
                           category=ticket.category, intents=[], created_at=utc(at))
        session.add(verdict)
        await session.flush()
        if score > 2:
            return None
        item = FollowUp(feedback_id=verdict.id, conversation_id=ticket.conversation_id, ticket_id=ticket_id,
                        reason="low_rating", status="open", created_at=utc(at))
        session.add(item)
        await session.flush()
        return item.id
