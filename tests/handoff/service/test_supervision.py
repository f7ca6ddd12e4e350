"""The supervisors' board and actions: what the board shows and calls at risk, watching, whispering, reassigning
and escalating, who may, and (on Redis) that all of it crosses instances."""

from __future__ import annotations

import pytest

from handoff.core.errors import BadRequest, NotAllowed, StateConflict, UnknownConversation
from handoff.core.model import State
from handoff.service import HandoffService
from tests.handoff.conftest import OpenService
from tests.handoff.frames import message_from, of_type
from tests.handoff.world import SUPERVISOR, Agent, Customer, FakeClock, Inbox

TARGET = 120  # handoff/targets.yml: queue_wait_seconds


async def team(service: HandoffService) -> tuple[Agent, Agent, Agent]:
    """Ada (the supervisor) and linus away, grace online: routing gives everything to grace."""
    ada, grace, linus = [await Agent.sign_in(service, name) for name in ("ada", "grace", "linus")]
    await ada.presence("away")
    await linus.presence("away")
    return ada, grace, linus


async def handed_off(service: HandoffService, text: str = "a person please") -> Customer:
    customer = await Customer.start(service, name="Jo", email="jo@example.com")
    await customer.say(text)
    return customer


def ids(rows: list[dict[str, object]]) -> list[object]:
    return [row["conversation_id"] for row in rows]


async def test_the_board_shows_the_queue_the_agents_and_what_is_at_risk(service: HandoffService,
                                                                        clock: FakeClock) -> None:
    ada, grace, _ = await team(service)
    mine = await handed_off(service)
    assert (await mine.record()).agent_id == grace.id
    await grace.presence("away")
    late = await handed_off(service)
    clock.advance(TARGET + 1)
    upset = await handed_off(service, "I am furious")  # the bot's complaint request
    clock.advance(5)
    board = await service.supervision.board(ada.principal)
    assert board["targets"] == {"queue_wait_seconds": TARGET}
    assert board["queue"] == {"length": 2, "longest_wait_seconds": TARGET + 6, "over_target": 1}
    assert ids(board["queued"]) == [upset.conversation_id, late.conversation_id]  # high priority first
    agents = {agent["id"]: agent for agent in board["agents"]}
    assert {k: agents[grace.id][k] for k in ("presence", "load", "capacity")} == {
        "presence": "away", "load": 1, "capacity": 3}
    assert ids(agents[grace.id]["conversations"]) == [mine.conversation_id]
    assert agents[ada.id]["conversations"] == [] and agents[ada.id]["presence"] == "away"
    risky = {row["conversation_id"]: row["risks"] for row in board["at_risk"]}
    assert risky == {late.conversation_id: ["waiting_past_target"], upset.conversation_id: ["negative_sentiment"]}
    assert ids(board["at_risk"]) == [late.conversation_id, upset.conversation_id]  # the longest wait first
    with pytest.raises(NotAllowed, match="Only a supervisor"):
        await service.supervision.board(grace.principal)


async def test_two_transfers_put_a_conversation_at_risk(service: HandoffService) -> None:
    ada, grace, linus = await team(service)
    customer = await handed_off(service)
    await linus.presence("online")
    await service.desk.transfer(grace.principal, customer.conversation_id, agent_id=linus.id)
    assert (await customer.record()).agent_id == linus.id
    board = await service.supervision.board(ada.principal)
    assert board["at_risk"] == []
    row = next(a for a in board["agents"] if a["id"] == linus.id)["conversations"][0]
    assert row["transfers"] == 1
    await service.supervision.reassign(ada.principal, customer.conversation_id, grace.id)  # back: a second one
    board = await service.supervision.board(ada.principal)
    assert [(r["conversation_id"], r["risks"], r["transfers"], r["agent_id"]) for r in board["at_risk"]] == [
        (customer.conversation_id, ["transferred_repeatedly"], 2, grace.id)]


async def test_a_supervisor_watches_a_conversation_live_without_anyone_knowing(service: HandoffService) -> None:
    ada, grace, _ = await team(service)
    customer = await handed_off(service)
    await grace.say(customer.conversation_id, "Hello Jo")
    watcher = Inbox()
    watching, subscriptions = await service.supervision.watch(ada.principal, customer.conversation_id,
                                                              watcher.deliver)
    try:
        assert watching["type"] == "watching"
        detail = watching["conversation"]
        assert [m["sender"] for m in detail["messages"]][-2:] == ["system", "agent"]
        assert detail["agent_id"] == grace.id and detail["state"] == "assigned"
        await customer.say("Are you still there?")
        frame = await watcher.next(of_type("watched", conversation_id=customer.conversation_id))
        assert frame["event"]["type"] == "message"
        assert frame["event"]["message"]["sender"] == "customer"
        assert frame["event"]["message"]["text"] == "Are you still there?"
        await grace.say(customer.conversation_id, "Yes, one moment")
        frame = await watcher.next(lambda f: f["type"] == "watched" and message_from("agent")(f["event"]))
        assert frame["event"]["message"]["text"] == "Yes, one moment"
    finally:
        for subscription in subscriptions:
            await subscription.close()
    record = await customer.record()
    assert (record.state, record.agent_id) == (State.ASSIGNED, grace.id)  # nothing changed hands
    assert not [f for f in customer.inbox.frames if "watch" in str(f)]
    with pytest.raises(NotAllowed):
        await service.supervision.watch(grace.principal, customer.conversation_id, watcher.deliver)
    with pytest.raises(UnknownConversation):
        await service.supervision.watch(ada.principal, "no-such-conversation", watcher.deliver)


async def test_a_whisper_reaches_the_agent_only_and_stays_on_the_ticket(service: HandoffService) -> None:
    ada, grace, _ = await team(service)
    customer = await handed_off(service)
    watcher = Inbox()
    _, subscriptions = await service.supervision.watch(ada.principal, customer.conversation_id, watcher.deliver)
    note = await service.supervision.whisper(ada.principal, customer.conversation_id, " Offer the refund. ")
    assert (note["text"], note["whisper"], note["agent_id"]) == ("Offer the refund.", True, ada.id)
    frame = await grace.inbox.next(of_type("whisper", conversation_id=customer.conversation_id))
    assert frame["note"] == note
    seen = await watcher.next(of_type("watched"))
    assert seen["event"] == {"type": "whisper", "note": note}
    for subscription in subscriptions:
        await subscription.close()
    await customer.inbox.settle()
    assert not [f for f in customer.inbox.frames if "refund" in str(f)]
    transcript = await service.customers.history(customer.conversation_id)
    assert not [m for m in transcript if "refund" in m.text]
    record = await customer.record()
    ticket = await service.helpdesk.ticket(SUPERVISOR, record.ticket_id or 0)
    assert [(n["text"], n["whisper"]) for n in ticket["notes"]] == [("Offer the refund.", True)]
    assert not [m for m in ticket["messages"] if "refund" in m["text"]]
    exported = await service.data.export(email="jo@example.com")
    exported_messages = [m for c in exported["customers"] for conv in c["conversations"] for m in conv["messages"]]
    assert exported_messages and not [m for m in exported_messages if "refund" in m["text"]]
    exported_notes = [n for c in exported["customers"] for t in c["tickets"] for n in t["notes"]]
    assert [(n["text"], n["whisper"]) for n in exported_notes] == [("Offer the refund.", True)]  # the agents' notes
    with pytest.raises(NotAllowed):
        await service.supervision.whisper(grace.principal, customer.conversation_id, "psst")
    await grace.presence("away")
    waiting = await handed_off(service)
    with pytest.raises(StateConflict, match="nobody to whisper to"):
        await service.supervision.whisper(ada.principal, waiting.conversation_id, "psst")
    with pytest.raises(UnknownConversation):
        await service.supervision.whisper(ada.principal, "no-such-conversation", "psst")
    with pytest.raises(BadRequest):
        await service.supervision.whisper(ada.principal, customer.conversation_id, "  ")


async def test_reassigning_gives_the_conversation_to_the_named_agent(service: HandoffService) -> None:
    ada, grace, linus = await team(service)
    customer = await handed_off(service)
    with pytest.raises(StateConflict, match="Linus Berg is not online"):
        await service.supervision.reassign(ada.principal, customer.conversation_id, linus.id)
    await linus.presence("online")
    after = await service.supervision.reassign(ada.principal, customer.conversation_id, linus.id)
    assert (after.state, after.agent_id) == (State.ASSIGNED, linus.id)
    await linus.inbox.next(of_type("assigned"))
    gone = await grace.inbox.next(of_type("conversation"))
    assert gone["conversation"]["state"] == "queued"  # it left her list
    await customer.inbox.next(message_from("system", "Linus Berg has joined"))
    ticket = await service.helpdesk.ticket(SUPERVISOR, after.ticket_id or 0)
    moves = [(t["from_state"], t["to_state"], t["cause"], t["actor"]) for t in ticket["transitions"]][-2:]
    assert moves == [("assigned", "queued", "transferred", ada.id), ("queued", "assigned", "assigned", ada.id)]
    assert [a["agent_id"] for a in ticket["assignments"]] == [grace.id, linus.id]
    with pytest.raises(StateConflict, match="Linus Berg's already"):
        await service.supervision.reassign(ada.principal, customer.conversation_id, linus.id)
    with pytest.raises(BadRequest, match="no agent"):
        await service.supervision.reassign(ada.principal, customer.conversation_id, "a_nobody")
    with pytest.raises(UnknownConversation):
        await service.supervision.reassign(ada.principal, "no-such-conversation", grace.id)
    with pytest.raises(NotAllowed):
        await service.supervision.reassign(grace.principal, customer.conversation_id, grace.id)


async def test_a_queued_conversation_is_reassigned_to_an_agent_routing_would_not_pick(
        service: HandoffService) -> None:
    ada, grace, linus = await team(service)
    await grace.presence("away")
    upset = await handed_off(service, "I am furious")  # tier 2: linus (tier 1 only) is never routed it
    await linus.presence("online")
    assert (await upset.record()).state is State.QUEUED
    after = await service.supervision.reassign(ada.principal, upset.conversation_id, linus.id)
    assert (after.state, after.agent_id) == (State.ASSIGNED, linus.id)
    ticket = await service.helpdesk.ticket(SUPERVISOR, after.ticket_id or 0)
    last = ticket["transitions"][-1]
    assert (last["to_state"], last["actor"], last["details"]["reassigned_by"]) == ("assigned", ada.id, ada.id)


async def test_escalating_requeues_for_qualified_agents_only(service: HandoffService) -> None:
    ada, grace, linus = await team(service)
    await grace.presence("away")
    await linus.presence("online")
    customer = await handed_off(service)
    assert (await customer.record()).agent_id == linus.id  # tier 1
    after = await service.supervision.escalate(ada.principal, customer.conversation_id, 2)
    assert (after.state, after.tier) == (State.QUEUED, 2)  # linus is tier 1 only; nobody qualified is online
    await linus.inbox.next(lambda f: f["type"] == "conversation" and f["conversation"]["state"] == "queued")
    await grace.presence("online")
    record = await customer.record()
    assert (record.state, record.agent_id, record.tier) == (State.ASSIGNED, grace.id, 2)
    ticket = await service.helpdesk.ticket(SUPERVISOR, record.ticket_id or 0)
    assert ticket["tier"] == 2
    transfer = next(t for t in ticket["transitions"] if t["cause"] == "transferred")
    assert (transfer["actor"], transfer["details"]["to_tier"]) == (ada.id, 2)
    assert "Escalated by hand from tier 1 to tier 2." in [n["text"] for n in ticket["notes"]]
    with pytest.raises(StateConflict, match="tier 2 already"):
        await service.supervision.escalate(ada.principal, customer.conversation_id, 2)
    kept = await service.supervision.escalate(ada.principal, customer.conversation_id, 3)  # grace: tiers 1-2
    assert (kept.state, kept.tier) == (State.QUEUED, 3)
    with pytest.raises(BadRequest, match="tier 2 or 3"):
        await service.supervision.escalate(ada.principal, customer.conversation_id, 5)
    with pytest.raises(NotAllowed):
        await service.supervision.escalate(grace.principal, customer.conversation_id, 2)


async def test_escalating_keeps_a_qualified_agent(service: HandoffService) -> None:
    ada, grace, _ = await team(service)
    customer = await handed_off(service)
    after = await service.supervision.escalate(ada.principal, customer.conversation_id, 2)
    assert (after.state, after.agent_id, after.tier) == (State.ASSIGNED, grace.id, 2)
    frame = await grace.inbox.next(lambda f: f["type"] == "conversation" and f["conversation"]["tier"] == 2)
    assert frame["conversation"]["agent_id"] == grace.id


@pytest.mark.parametrize("profile", ["production"])  # the embedded profile is one process: one instance
async def test_the_board_and_its_actions_cross_instances(open_service: OpenService) -> None:
    """Two instances on one Redis: the supervisor on one, the agent and the customer on the other."""
    front, back = await open_service(), await open_service()
    ada = await Agent.sign_in(back, "ada")
    await ada.presence("away")
    grace = await Agent.sign_in(front, "grace")
    linus = await Agent.sign_in(front, "linus")
    await linus.presence("away")
    customer = await handed_off(front)
    board = await back.supervision.board(ada.principal)
    assert ids(next(a for a in board["agents"] if a["id"] == grace.id)["conversations"]) == [customer.conversation_id]
    watcher = Inbox()
    _, subscriptions = await back.supervision.watch(ada.principal, customer.conversation_id, watcher.deliver)
    await customer.say("Hello from the other instance")
    frame = await watcher.next(of_type("watched"))
    assert frame["event"]["message"]["text"] == "Hello from the other instance"
    await back.supervision.whisper(ada.principal, customer.conversation_id, "Check the order first")
    whisper = await grace.inbox.next(of_type("whisper"))
    assert whisper["note"]["text"] == "Check the order first"
    await linus.presence("online")
    await back.supervision.reassign(ada.principal, customer.conversation_id, linus.id)
    await linus.inbox.next(of_type("assigned"))
    for subscription in subscriptions:
        await subscription.close()
