"""Tickets: lifecycle timestamps, assignment history, closing, notes, edits, filters and search (the metrics:
test_metrics.py)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from handoff.adapters.tickets import TicketLog
from handoff.adapters.tickets.models import Conversation
from handoff.adapters.tickets.views import AgentAccount, TransitionNote
from handoff.core.errors import BadRequest
from handoff.core.model import AgentId, ConversationId, CustomerId, Priority, State, TicketId
from tests.handoff.adapters.tickets.conftest import CUSTOMER, T0, at

REASONS = [{"code": "out_of_scope", "detail": "Outside what the assistant supports.", "figures": {"confidence": 0.94}},
           {"code": "low_knowledge_score", "detail": "No article matched.", "figures": {"score": 0.21}}]
REQUEST: dict[str, Any] = {"schema": "handoff-request/v1", "reasons": REASONS, "summary": "Asked for a recipe."}


async def _ticket(log: TicketLog, conversation: ConversationId, **options: Any) -> TicketId:
    fields: dict[str, Any] = {"now": at(10), "priority": Priority.NORMAL, "tier": 1, "category": "orders"}
    return await log.tickets.open_ticket(conversation, CUSTOMER, "web", **{**fields, **options})


async def test_open_ticket_keeps_the_request(log: TicketLog, conversation: ConversationId) -> None:
    ticket_id = await _ticket(log, conversation, priority="high", tier=2, reasons=REASONS, request=REQUEST,
                              summary="Asked for a recipe.")

    ticket = await log.tickets.ticket_for_conversation(conversation)
    assert ticket is not None and ticket.ticket_id == ticket_id
    assert ticket.number == f"T-{ticket_id:06d}"
    assert (ticket.status, ticket.priority, ticket.tier, ticket.category) == ("open", Priority.HIGH, 2, "orders")
    assert ticket.reasons == tuple(REASONS) and ticket.reason_codes == ("out_of_scope", "low_knowledge_score")
    assert ticket.request == REQUEST
    assert ticket.created_at == at(10) and ticket.assigned_at is None and ticket.resolved_at is None
    assert ticket.to_json()["priority"] == "high"


async def test_ticket_lifecycle_timestamps(log: TicketLog, conversation: ConversationId, ada: AgentAccount,
                                           grace: AgentAccount) -> None:
    ticket_id = await _ticket(log, conversation)
    await log.tickets.ticket_assigned(ticket_id, grace.agent_id, at(40))
    await log.tickets.ticket_unassigned(ticket_id, grace.agent_id, "timeout", at(70))
    await log.tickets.ticket_assigned(ticket_id, ada.agent_id, at(80))
    assert await log.tickets.first_response(ticket_id, at(95)) is True
    assert await log.tickets.first_response(ticket_id, at(120)) is False
    assert await log.tickets.close_ticket(ticket_id, "resolved", at(400)) is True
    assert await log.tickets.close_ticket(ticket_id, "abandoned", at(500)) is False

    detail = await log.tickets.get_ticket(ticket_id)
    assert detail is not None
    assert (detail.assigned_at, detail.first_response_at, detail.resolved_at) == (at(40), at(95), at(400))
    assert (detail.status, detail.resolution, detail.assignee_id, detail.assignee_name) == (
        "resolved", "resolved", "a_ada", "Ada Lovelace")
    assert [(a.agent_id, a.assigned_at, a.ended_at, a.end_cause) for a in detail.assignments] == [
        ("a_grace", at(40), at(70), "timeout"), ("a_ada", at(80), at(400), "resolved")]
    assert await log.tickets.ticket_for_conversation(conversation) is None


async def test_unassigned_ticket_has_no_assignee(log: TicketLog, conversation: ConversationId,
                                                 grace: AgentAccount) -> None:
    ticket_id = await _ticket(log, conversation)
    await log.tickets.ticket_assigned(ticket_id, grace.agent_id, at(40))
    await log.tickets.ticket_unassigned(ticket_id, grace.agent_id, "transfer", at(50))

    ticket = await log.tickets.ticket_for_conversation(conversation)
    assert ticket is not None and ticket.assignee_id is None and ticket.assigned_at == at(40)


async def test_close_ticket_handed_back_is_resolved(log: TicketLog, conversation: ConversationId,
                                                   ada: AgentAccount) -> None:
    ticket_id = await _ticket(log, conversation)
    await log.tickets.ticket_assigned(ticket_id, ada.agent_id, at(40))
    await log.tickets.close_ticket(ticket_id, "handed_back", at(90))

    detail = await log.tickets.get_ticket(ticket_id)
    assert detail is not None and (detail.status, detail.resolution) == ("resolved", "handed_back")
    assert detail.assignments[0].end_cause == "handed_back"


async def test_close_ticket_refuses_an_open_status(log: TicketLog, conversation: ConversationId) -> None:
    ticket_id = await _ticket(log, conversation)
    with pytest.raises(ValueError):
        await log.tickets.close_ticket(ticket_id, "open", at(20))
    with pytest.raises(BadRequest):
        await log.tickets.close_ticket(TicketId(999), "resolved", at(20))


async def test_offline_ticket_keeps_its_callback(log: TicketLog, conversation: ConversationId) -> None:
    callback = {"contact": "jo@example.com", "channel": "email", "by": "2026-11-26T09:00:00+00:00"}
    ticket_id = await _ticket(log, conversation, status="offline", callback=callback)

    ticket = await log.tickets.ticket_for_conversation(conversation)
    assert ticket is not None and ticket.ticket_id == ticket_id
    assert (ticket.status, ticket.callback) == ("offline", callback)
    assert [t.ticket_id for t in await log.tickets.list_tickets(status="offline")] == [ticket_id]


async def test_get_ticket_has_transcript_notes_and_transitions(log: TicketLog, conversation: ConversationId,
                                                               ada: AgentAccount) -> None:
    await log.conversations.add_message(conversation, "customer", "I want a person", now=at(5))
    await log.conversations.record_transition(conversation, State.BOT, State.QUEUED, "handoff_requested", now=at(10))
    ticket_id = await _ticket(log, conversation)
    await log.tickets.ticket_assigned(ticket_id, ada.agent_id, at(20))
    await log.conversations.add_message(conversation, "agent", "Hello, Ada here", now=at(25), agent_id=ada.agent_id)
    note = await log.tickets.add_note(ticket_id, ada.agent_id, "Customer seems upset", at(26))
    await log.tickets.close_ticket(ticket_id, "resolved", at(60))
    await log.conversations.add_message(conversation, "bot", "Anything else?", now=at(70))  # after the close: not in it

    detail = await log.tickets.get_ticket(ticket_id)
    assert detail is not None
    assert [(m.sender, m.text, m.agent_name) for m in detail.messages] == [
        ("customer", "I want a person", None), ("agent", "Hello, Ada here", "Ada Lovelace")]
    assert [(n.text, n.agent_name, n.created_at) for n in detail.notes] == [
        ("Customer seems upset", "Ada Lovelace", at(26))]
    assert note.agent_name == "Ada Lovelace"
    assert [t.cause for t in detail.transitions] == ["handoff_requested"]
    wire = detail.to_json()
    assert wire["id"] == ticket_id and len(wire["messages"]) == 2 and wire["notes"][0]["text"] == note.text
    assert wire["assignments"][0]["agent_name"] == "Ada Lovelace"
    assert await log.tickets.get_ticket(TicketId(999)) is None


async def test_update_ticket_tags_priority_status(log: TicketLog, conversation: ConversationId) -> None:
    ticket_id = await _ticket(log, conversation)

    updated = await log.tickets.update_ticket(ticket_id, tags=[" VIP ", "refund", "vip", ""], priority="urgent",
                                      status="pending", now=at(30))
    assert updated is not None
    assert (updated.tags, updated.priority, updated.status, updated.updated_at) == (
        ("vip", "refund"), Priority.URGENT, "pending", at(30))
    assert await log.tickets.update_ticket(TicketId(999), tags=["x"]) is None
    with pytest.raises(BadRequest):
        await log.tickets.update_ticket(ticket_id, status="resolved")


async def _three_tickets(log: TicketLog, ada: AgentAccount) -> list[TicketId]:
    ids = []
    for number, (priority, tier, summary, text) in enumerate([
            ("normal", 1, "Order 1001 is late", "where is my parcel"),
            ("high", 2, "Angry about a refund_100%", "I want my money back"),
            ("urgent", 3, "Card charged twice", "my card was charged two times")]):
        conversation = ConversationId(f"c_t{number}")
        customer = CustomerId("cu_other") if number == 2 else CUSTOMER
        await log.conversations.create_conversation(conversation, customer, "web", at(number))
        await log.conversations.add_message(conversation, "customer", text, now=at(number + 1))
        ids.append(await log.tickets.open_ticket(conversation, customer, "web", now=at(100 + number), priority=priority,
                                         tier=tier, category=None, summary=summary))
    await log.tickets.ticket_assigned(ids[1], ada.agent_id, at(200))
    await log.tickets.update_ticket(ids[1], tags=["refund", "vip"])
    await log.tickets.update_ticket(ids[2], tags=["vipish"])
    await log.tickets.close_ticket(ids[0], "abandoned", at(300))
    return ids


async def test_list_tickets_filters(log: TicketLog, conversation: ConversationId, ada: AgentAccount) -> None:
    first, second, third = await _three_tickets(log, ada)

    async def ids(**filters: Any) -> list[int]:
        return [t.ticket_id for t in await log.tickets.list_tickets(**filters)]

    assert await ids() == [third, second, first]  # newest first
    assert await ids(status="open") == [third, second]
    assert await ids(status=["abandoned", "resolved"]) == [first]
    assert await ids(assignee=AgentId("a_ada")) == [second]
    assert await ids(tier=3) == [third]
    assert await ids(priority=Priority.HIGH) == [second]
    assert await ids(priority="urgent") == [third]
    assert await ids(tag="vip") == [second]
    assert await ids(tag="VIPish") == [third]
    assert await ids(customer_id=CustomerId("cu_other")) == [third]
    assert await ids(limit=1, offset=1) == [second]
    assert await ids(status="open", tier=2, tag="refund") == [second]


async def test_list_tickets_search_summary_and_transcript(log: TicketLog, conversation: ConversationId,
                                                          ada: AgentAccount) -> None:
    first, second, third = await _three_tickets(log, ada)

    async def found(q: str) -> list[int]:
        return [t.ticket_id for t in await log.tickets.list_tickets(q=q)]

    assert await found("order 1001") == [first]  # summary, any case
    assert await found("PARCEL") == [first]  # transcript
    assert await found("money back") == [second]
    assert await found("charged") == [third]
    assert await found("100%") == [second]  # wildcards are literal
    assert await found("_") == [second]
    assert await found("nothing like this") == []


async def test_withdraw_ticket_takes_back_a_lost_race(log: TicketLog, conversation: ConversationId,
                                                      ada: AgentAccount) -> None:
    def queued(cause: str) -> TransitionNote:
        return TransitionNote(State.BOT.value, State.QUEUED.value, cause, "bot")

    await log.conversations.record_transition(conversation, None, State.BOT, "started", now=T0)
    # two escalations of one conversation at the same moment: the first is queued and routed, then the
    # second's transaction commits (its conversation state "queued" is stale) and loses at the live store
    winner = await _ticket(log, conversation, transition=queued("handoff_requested"))
    await log.conversations.record_transition(conversation, State.QUEUED, State.ASSIGNED, "routed", now=at(10), actor="a_ada")
    loser = await _ticket(log, conversation, transition=queued("bot_unavailable"))
    await log.tickets.withdraw_ticket(loser)

    assert await log.tickets.get_ticket(loser) is None
    current = await log.tickets.ticket_for_conversation(conversation)
    assert current is not None and current.ticket_id == winner
    assert [(t.to_state, t.cause, (t.details or {}).get("ticket_id")) for t in await log.conversations.transitions(conversation)] \
        == [(State.BOT, "started", None), (State.QUEUED, "handoff_requested", winner),
            (State.ASSIGNED, "routed", None)]
    async with log.engine.connect() as connection:
        state = (await connection.execute(select(Conversation.state).where(Conversation.id == conversation))).scalar()
    assert state == "assigned"
    await log.tickets.withdraw_ticket(loser)  # again: nothing left to take back
