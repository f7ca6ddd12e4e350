"""The agent's desk: replies, ownership, notes, transfers, hand-back to the bot, resolving, taking by hand."""

from __future__ import annotations

import logging

import pytest

from handoff.adapters.knowledge import Suggestions
from handoff.core.errors import BadRequest, NotAllowed, StateConflict
from handoff.core.model import State
from handoff.service import HandoffService
from tests.handoff.conftest import OpenService
from tests.handoff.frames import message_from, of_type
from tests.handoff.world import SUPERVISOR, Agent, Customer, FakeClock, FakeRasa


async def assigned_to(service: HandoffService, username: str, text: str = "I want a person") -> tuple[Agent, Customer]:
    agent = await Agent.sign_in(service, username)
    customer = await Customer.start(service, name="Jo", email="jo@example.com")
    await customer.say(text)
    await agent.inbox.next(of_type("assigned"))
    return agent, customer


async def test_the_agents_reply_reaches_the_customer_and_answers_the_ticket(service: HandoffService) -> None:
    grace, customer = await assigned_to(service, "grace")
    message, new = await service.desk.says(grace.principal, customer.conversation_id, " Hi Jo! ", "r1")
    assert new and message.text == "Hi Jo!"
    seen = await customer.inbox.next(message_from("agent"))
    assert seen["message"]["agent_name"] == "Grace Hopper"
    await grace.inbox.next(message_from("agent", "Hi Jo!"))
    again, new = await service.desk.says(grace.principal, customer.conversation_id, "Hi Jo!", "r1")
    assert not new and again.id == message.id
    record = await customer.record()
    assert record.answered
    assert (await service.desk.summary(record))["accept_deadline"] is None
    ticket = await service.helpdesk.ticket(SUPERVISOR, record.ticket_id or 0)
    assert ticket["first_response_at"] is not None
    await customer.say("My parcel is late")
    relayed = await grace.inbox.next(message_from("customer", "parcel is late"))
    assert relayed["conversation_id"] == customer.conversation_id


async def test_only_the_assigned_agent_or_a_supervisor_acts_on_a_conversation(service: HandoffService) -> None:
    grace, customer = await assigned_to(service, "grace")
    linus = await Agent.sign_in(service, "linus")
    with pytest.raises(NotAllowed):
        await service.desk.says(linus.principal, customer.conversation_id, "hello", "x")
    with pytest.raises(NotAllowed):
        await service.desk.resolve(linus.principal, customer.conversation_id)
    ada = await Agent.sign_in(service, "ada")  # a supervisor
    await service.desk.says(ada.principal, customer.conversation_id, "Ada here, I'll help.", "y")
    await customer.inbox.next(message_from("agent", "Ada here"))
    other = await Customer.start(service)
    with pytest.raises(StateConflict):  # the bot's: nobody's to act on
        await service.desk.says(grace.principal, other.conversation_id, "hello", "z")


async def test_typing_and_notes(service: HandoffService) -> None:
    grace, customer = await assigned_to(service, "grace")
    await service.desk.typing(grace.principal, customer.conversation_id)
    assert (await customer.inbox.next(of_type("typing", sender="agent")))["agent_name"] == "Grace Hopper"
    note = await service.desk.note(grace.principal, customer.conversation_id, "Waited a week already.")
    assert (note["agent_name"], note["text"]) == ("Grace Hopper", "Waited a week already.")
    record = await customer.record()
    assert [n["text"] for n in (await service.helpdesk.ticket(SUPERVISOR, record.ticket_id or 0))["notes"]] == [
        "Waited a week already."]
    assert not [f for f in await customer.inbox.settle() if "Waited" in str(f)]  # never shown to the customer
    fresh = await Customer.start(service)
    with pytest.raises(StateConflict):  # a supervisor may note on any conversation with a ticket
        await service.desk.note(SUPERVISOR, fresh.conversation_id, "no ticket yet")


async def test_transfer_to_a_named_colleague(service: HandoffService) -> None:
    grace, customer = await assigned_to(service, "grace")
    ada = await Agent.sign_in(service, "ada")
    await ada.presence("away")
    moved = await service.desk.transfer(grace.principal, customer.conversation_id, agent_id=ada.id)
    assert (moved.state, moved.requested_agent, moved.excluded) == (State.QUEUED, ada.id, frozenset({grace.id}))
    await customer.inbox.next(message_from("system", "another colleague"))
    linus = await Agent.sign_in(service, "linus")  # online, free, tier 1: still not theirs
    assert (await customer.record()).state is State.QUEUED
    with pytest.raises(NotAllowed):
        await service.desk.accept(linus.principal, customer.conversation_id)
    await ada.presence("online")
    record = await customer.record()
    assert (record.state, record.agent_id) == (State.ASSIGNED, ada.id)
    ticket = await service.helpdesk.ticket(SUPERVISOR, record.ticket_id or 0)
    assert [(a["agent_id"], a["end_cause"]) for a in ticket["assignments"]] == [
        (grace.id, "transferred"), (ada.id, None)]
    assert ticket["transitions"][-2]["details"] == {"to_agent": ada.id, "to_tier": None}


async def test_transfer_to_a_tier(service: HandoffService) -> None:
    linus, customer = await assigned_to(service, "linus")  # linus: tier 1 only
    ada = await Agent.sign_in(service, "ada")  # tiers 1-3
    record = await service.desk.transfer(linus.principal, customer.conversation_id, tier=3)
    assert (record.tier, record.agent_id) == (3, ada.id)


@pytest.mark.parametrize(("agent_id", "tier", "problem"), [
    (None, None, "either an agent or a tier"), ("a_x", 2, "either an agent or a tier"),
    (None, 7, "1, 2 or 3"), ("a_nobody", None, "no agent with this id")])
async def test_a_transfer_must_say_where_to(service: HandoffService, agent_id: str | None, tier: int | None,
                                            problem: str) -> None:
    grace, customer = await assigned_to(service, "grace")
    with pytest.raises(BadRequest, match=problem):
        await service.desk.transfer(grace.principal, customer.conversation_id, agent_id=agent_id, tier=tier)
    assert (await customer.record()).agent_id == grace.id


async def test_hand_back_tells_the_bot_what_was_said(service: HandoffService, rasa: FakeRasa) -> None:
    linus, customer = await assigned_to(service, "linus")
    await linus.say(customer.conversation_id, "Your order ships tomorrow.")
    await customer.say("thanks, that helps")
    record = await service.desk.hand_back(linus.principal, customer.conversation_id)
    assert (record.state, record.ticket_id, record.agent_id, record.excluded) == (State.BOT, None, None, frozenset())
    await customer.inbox.next(message_from("system", "chatting with the assistant again"))
    await customer.inbox.next(of_type("state", state="bot"))
    events = rasa.tracker[customer.conversation_id]
    said = [(e["event"], e.get("text")) for e in events if e["event"] in ("user", "bot")]
    assert said[-2:] == [("bot", "Your order ships tomorrow."), ("user", "thanks, that helps")]
    assert next(e for e in events if e["event"] == "user")["parse_data"]["intent"]["name"] == "human_handoff_turn"
    assert events[-1] == {"event": "slot", "name": "handoff_requested", "value": False}
    assert next(e for e in events if e["event"] == "bot")["metadata"] == {"agent": "Linus Berg"}
    ticket = (await service.helpdesk.tickets(SUPERVISOR))[0]
    assert (ticket["status"], ticket["resolution"]) == ("resolved", "handed_back")
    await customer.say("and how much is shipping?")
    await customer.inbox.next(message_from("bot", "$4.95"))


async def test_hand_back_with_the_bot_down_still_hands_back(service: HandoffService, rasa: FakeRasa,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    linus, customer = await assigned_to(service, "linus")
    rasa.down = True
    with caplog.at_level(logging.WARNING):
        record = await service.desk.hand_back(linus.principal, customer.conversation_id)
    assert record.state is State.BOT
    assert "the bot could not be told what was said" in caplog.text


async def test_resolve_closes_the_ticket_and_counts_the_handle_time(service: HandoffService,
                                                                    clock: FakeClock) -> None:
    grace, customer = await assigned_to(service, "grace")
    await grace.say(customer.conversation_id, "Done: refund issued.")
    clock.advance(240)
    record = await service.desk.resolve(grace.principal, customer.conversation_id)
    assert record.state is State.RESOLVED
    await customer.inbox.next(message_from("system", "Grace Hopper marked this conversation as resolved"))
    assert (await customer.inbox.next(of_type("state", state="resolved")))["queue"] is None
    assert (await grace.inbox.next(of_type("conversation")))["conversation"]["state"] == "resolved"
    ticket = await service.helpdesk.ticket(SUPERVISOR, (await service.helpdesk.tickets(SUPERVISOR))[0]["id"])
    assert ticket["status"] == "resolved" and ticket["resolved_at"] and ticket["first_response_at"]
    assert [t["cause"] for t in ticket["transitions"]][-3:] == ["handoff_requested", "assigned", "resolved"]
    assert await service.desk.mine(grace.principal) == []
    # the next waiting customer hears an estimate from the handle time measured (240 s), not the default
    linus = await Agent.sign_in(service, "linus")
    for agent in (grace, linus):
        await agent.presence("away")
    await grace.presence("online")
    waiting = [await Customer.start(service) for _ in range(4)]
    for next_customer in waiting:
        await next_customer.say("a person please")
    status = await service.customers.queue_status(await waiting[3].record())
    assert status == {"position": 1, "wait_seconds": 80}  # (1 - 0 free) / capacity 3 * 240 s


async def test_taking_a_conversation_by_hand(service: HandoffService) -> None:
    linus = await Agent.sign_in(service, "linus")  # tier 1 only
    customer = await Customer.start(service)
    await customer.say("I am furious")  # a tier-2 complaint: routing does not give it to linus
    assert (await customer.record()).state is State.QUEUED
    taken = await service.desk.accept(linus.principal, customer.conversation_id)  # he may choose to
    assert (taken.state, taken.agent_id, taken.answered) == (State.ASSIGNED, linus.id, True)
    ticket = await service.helpdesk.ticket(SUPERVISOR, taken.ticket_id or 0)
    assert (ticket["transitions"][-1]["cause"], ticket["transitions"][-1]["actor"]) == ("taken", linus.id)
    assert (await service.desk.accept(linus.principal, customer.conversation_id)).agent_id == linus.id  # again: ok
    grace = await Agent.sign_in(service, "grace")
    with pytest.raises(StateConflict, match="assigned"):
        await service.desk.accept(grace.principal, customer.conversation_id)
    await grace.presence("away")
    other = await Customer.start(service)
    await other.say("I am furious")
    with pytest.raises(StateConflict, match="not online"):
        await service.desk.accept(grace.principal, other.conversation_id)


async def test_the_console_sees_a_conversation_whole(service: HandoffService) -> None:
    grace, customer = await assigned_to(service, "grace")
    detail = await service.desk.detail(grace.principal, customer.conversation_id)
    assert [m["sender"] for m in detail["messages"]][:2] == ["customer", "bot"]
    assert detail["handoff"]["reasons"][0]["code"] == "explicit_request"
    assert detail["ticket"]["status"] == "open"
    assert (detail["customer"]["name"], detail["customer"]["email"]) == ("Jo", "jo@example.com")
    assert detail["past_tickets"] == []
    assert [s["conversation_id"] for s in (await service.desk.hello(grace.principal))["conversations"]] == [
        customer.conversation_id]


async def test_suggestions_come_from_the_knowledge_base(open_service: OpenService) -> None:
    service = await open_service(knowledge=Suggestions(True))
    grace, customer = await assigned_to(service, "grace")
    await customer.say("how long does a refund take?")
    found = await service.desk.suggestions(grace.principal, customer.conversation_id)
    assert found and all(s["title"] and s["text"] and s["article_id"] for s in found)
    assert any(s["category"] in ("returns", "payments") for s in found)
    quiet = await Customer.start(service)
    assert await service.desk.suggestions(SUPERVISOR, quiet.conversation_id) == []
    assert await Suggestions(False).for_text("refund") == []


async def test_a_supervisor_acting_ends_the_assigned_agents_turn(service: HandoffService) -> None:
    grace, customer = await assigned_to(service, "grace")
    ada = await Agent.sign_in(service, "ada")  # a supervisor, online with room: the transfer may route to her
    await ada.presence("away")
    moved = await service.desk.transfer(ada.principal, customer.conversation_id, tier=2)
    assert moved.excluded == frozenset({grace.id})  # never back to grace; ada may still take it
    ticket = await service.helpdesk.ticket(SUPERVISOR, moved.ticket_id or 0)
    assert [(a["agent_id"], a["end_cause"]) for a in ticket["assignments"]] == [(grace.id, "transferred")]
    assert (ticket["transitions"][-1]["cause"], ticket["transitions"][-1]["actor"]) == ("transferred", ada.id)
    assert await service.desk.mine(grace.principal) == []
    await ada.presence("online")
    assert (await customer.record()).agent_id == ada.id
    linus = await Agent.sign_in(service, "linus")
    second = await Customer.start(service)
    await second.say("a person please")
    assert (await second.record()).agent_id == linus.id
    resolved = await service.desk.resolve(ada.principal, second.conversation_id)  # on linus's conversation
    assert resolved.state is State.RESOLVED
    ticket = await service.helpdesk.ticket(SUPERVISOR, resolved.ticket_id or 0)
    assert [(a["agent_id"], a["end_cause"]) for a in ticket["assignments"]] == [(linus.id, "resolved")]
    await second.inbox.next(message_from("system", "Ada Lovelace marked this conversation as resolved"))
    assert await service.desk.mine(linus.principal) == []
    team = {member["name"]: member for member in await service.accounts.team(SUPERVISOR)}
    assert team["Linus Berg"]["load"] == 0
