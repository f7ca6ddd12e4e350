"""Escalation: the bot's hand-off request becomes a ticket and a place in the queue, or an offline ticket."""

from __future__ import annotations

import asyncio
import logging

import pytest
from starlette.datastructures import Secret

from handoff.core.model import Priority, State
from handoff.service import HandoffService
from handoff.service.auth import widget_signature
from tests.handoff.conftest import OpenService
from tests.handoff.frames import message_from, of_type
from tests.handoff.world import SUPERVISOR, T0, Agent, Customer, FakeClock, FakeRasa, handoff_request


async def away(service: HandoffService, username: str) -> Agent:
    """An agent whose console is open but who takes nothing (away): they see the queue change."""
    agent = await Agent.sign_in(service, username)
    await agent.presence("away")
    return agent


async def test_a_hand_off_opens_a_ticket_and_queues_the_customer(service: HandoffService) -> None:
    watcher = await away(service, "grace")
    customer = await Customer.start(service, name="Jo Tester", email="jo@example.com")
    await customer.say("I want to talk to a human")
    told = await customer.inbox.next(message_from("system", "You are number 1 in line"))
    assert "nobody is free right now" in told["message"]["text"]
    state = await customer.inbox.next(of_type("state", state="queued"))
    assert state["queue"] == {"position": 1, "wait_seconds": None}
    entry = await watcher.inbox.next(of_type("queue_entry"))
    summary = entry["conversation"]
    assert (summary["conversation_id"], summary["state"], summary["reasons"], summary["customer"]["name"]) == (
        customer.conversation_id, "queued", ["explicit_request"], "Jo Tester")
    record = await customer.record()
    assert (record.state, record.priority, record.tier, record.reasons) == (State.QUEUED, Priority.NORMAL, 1,
                                                                            ("explicit_request",))
    assert summary["version"] == record.version and summary["rank"] == record.rank
    ticket = await service.helpdesk.ticket(SUPERVISOR, record.ticket_id or 0)
    assert (ticket["status"], ticket["priority"], ticket["tier"]) == ("open", "normal", 1)
    assert ticket["request"]["schema"].startswith("handoff-request/")
    assert ticket["summary"].startswith("The customer asked for a person")
    moves = [(t["from_state"], t["to_state"], t["cause"]) for t in ticket["transitions"]]
    assert moves == [(None, "bot", "started"), ("bot", "queued", "handoff_requested")]
    assert ticket["transitions"][-1]["details"] == {"tier": 1, "priority": "normal", "difficulty": 0.0,
                                                    "ticket_id": record.ticket_id}


async def test_positions_follow_the_queue_order(service: HandoffService, clock: FakeClock) -> None:
    await away(service, "grace")
    first, second = await Customer.start(service), await Customer.start(service)
    await first.say("a person please")
    clock.advance(30)
    await second.say("a person please")
    assert (await second.inbox.next(of_type("state", state="queued")))["queue"]["position"] == 2
    assert [s["conversation_id"] for s in await service.desk.queue(SUPERVISOR)] == [first.conversation_id,
                                                                          second.conversation_id]
    assert [s["position"] for s in await service.desk.queue(SUPERVISOR)] == [1, 2]
    clock.advance(30)
    furious = await Customer.start(service)
    await furious.say("I am furious, nothing works")  # high priority: ahead of both (aging: 300 s a level)
    status = (await furious.inbox.next(of_type("state", state="queued")))["queue"]
    assert status["position"] == 1
    assert await service.customers.queue_status(await first.record()) == {"position": 2, "wait_seconds": None}


async def test_a_vip_with_a_high_request_is_urgent_and_at_least_tier_two(open_service: OpenService) -> None:
    service = await open_service(widget_secret=Secret("shop"))
    await away(service, "grace")
    expires = int(T0.timestamp()) + 600
    signature = widget_signature("shop", "shop-1001", expires)  # Maria Jensen, vip
    record = await service.customers.open(external_id="shop-1001", expires=expires, signature=signature)
    vip = Customer(service, record.conversation_id)
    await vip.say("I am furious")
    queued = await vip.record()
    assert (queued.priority, queued.tier) == (Priority.URGENT, 3)  # complaint 0.75 + frustration 0.9 + vip 0.5
    assert queued.profile is not None and (queued.profile.value_tier, queued.profile.lifetime_value) == (
        "vip", 4820.5)
    ticket = await service.helpdesk.ticket(SUPERVISOR, queued.ticket_id or 0)
    assert (ticket["priority"], ticket["tier"]) == ("urgent", 3)


async def test_out_of_hours_the_hand_off_is_an_offline_ticket_with_a_callback(open_service: OpenService) -> None:
    closed = {"strategies": [{"name": "workload"}],
              "business_hours": {"timezone": "UTC", "hours": {"wed": "08:00-09:00"}}}  # it is Wednesday 14:00
    service = await open_service(routing=closed)
    watcher = await Agent.sign_in(service, "ada")  # online, but the desk is closed
    customer = await Customer.start(service, email="jo@example.com")
    await customer.say("I want to talk to a human")
    told = await customer.inbox.next(message_from("system", "offline right now"))
    assert "by e-mail at jo@example.com" in told["message"]["text"]
    assert "Wednesday 08:00" in told["message"]["text"]  # next week's opening
    await customer.inbox.next(of_type("state", state="offline"))
    record = await customer.record()
    ticket = await service.helpdesk.ticket(SUPERVISOR, record.ticket_id or 0)
    assert ticket["status"] == "offline"
    assert ticket["callback"] == {"contact": "jo@example.com", "channel": "email", "by": "2026-12-02T08:00:00+00:00"}
    assert [t["cause"] for t in ticket["transitions"]][-1] == "out_of_hours"
    assert await service.desk.queue(SUPERVISOR) == []
    assert not [f for f in await watcher.inbox.settle() if f["type"].startswith("queue")]
    anonymous = await Customer.start(service)
    await anonymous.say("a person please")
    assert "get back to you here" in (await anonymous.inbox.next(message_from("system", "offline")))["message"]["text"]


async def test_two_escalations_at_once_open_one_ticket(open_service: OpenService, profile: str,
                                                       rasa: FakeRasa) -> None:
    """Two sockets of one conversation (two tabs; in production on two instances) write at the same moment
    with the bot down: each message escalates at once. One wins; the other's ticket is withdrawn."""
    services = [await open_service()] if profile == "embedded" else [await open_service(), await open_service()]
    rasa.down = True
    customers = [await Customer.start(services[0]) for _ in range(4)]

    async def says(customer: Customer, service: HandoffService, n: int) -> None:
        said = await service.customers.says(customer.conversation_id, f"hello from {n}", f"tab-{n}")
        await service.customers.bot_turn(said)

    await asyncio.gather(*(says(customer, services[n % len(services)], n)
                           for customer in customers for n in range(2)))
    tickets = await services[0].helpdesk.tickets(SUPERVISOR, limit=200)
    assert sorted(t["conversation_id"] for t in tickets) == sorted(c.conversation_id for c in customers)
    assert {t["status"] for t in tickets} == {"open"}
    for customer in customers:
        record = await customer.record()
        assert record.state is State.QUEUED and record.ticket_id in {t["id"] for t in tickets}


async def test_a_request_that_breaks_the_contract_still_hands_off(service: HandoffService, rasa: FakeRasa,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    customer = await Customer.start(service)
    broken = handoff_request(customer.conversation_id, "help")
    del broken["summary"]
    rasa.replies_to["help"] = [{"recipient_id": customer.conversation_id, "custom": {"handoff": broken}}]
    with caplog.at_level(logging.WARNING, logger="handoff.service.escalation"):
        await customer.say("help")
    assert (await customer.record()).state is State.QUEUED
    assert "does not match its contract ('summary' is a required property)" in caplog.text


async def test_a_broken_request_is_logged_without_what_the_customer_said(
        service: HandoffService, rasa: FakeRasa, caplog: pytest.LogCaptureFixture) -> None:
    customer = await Customer.start(service)
    words = "my card number is 4111 1111 1111 1111"
    broken = handoff_request(customer.conversation_id, words)
    broken["last_user_message"] = [words]  # not a string: the contract's type check fails on the customer's words
    rasa.replies_to[words] = [{"recipient_id": customer.conversation_id, "custom": {"handoff": broken}}]
    with caplog.at_level(logging.WARNING, logger="handoff.service.escalation"):
        await customer.say(words)
    assert (await customer.record()).state is State.QUEUED
    assert "last_user_message fails 'type'" in caplog.text and "4111" not in caplog.text


async def test_the_request_names_the_category(service: HandoffService) -> None:
    await away(service, "grace")
    customer = await Customer.start(service)
    await customer.say("I am furious")  # the fake bot says: orders
    record = await customer.record()
    assert record.category == "orders"
    assert (await service.desk.queue(SUPERVISOR))[0]["category"] == "orders"


async def test_an_older_bots_request_is_taken_and_its_category_read_from_the_knowledge(
        service: HandoffService, rasa: FakeRasa, caplog: pytest.LogCaptureFixture) -> None:
    customer = await Customer.start(service)
    older = handoff_request(customer.conversation_id, "my refund", knowledge=[
        {"article_id": "refund-timing", "version": "v9", "title": "Refund timing", "category": "payments",
         "score": 0.61}])
    older["schema"] = "handoff-request/v1"
    del older["category"]
    rasa.replies_to["my refund"] = [{"recipient_id": customer.conversation_id, "custom": {"handoff": older}}]
    with caplog.at_level(logging.WARNING, logger="handoff.service.escalation"):
        await customer.say("my refund")
    record = await customer.record()
    assert (record.state, record.category) == (State.QUEUED, "payments")
    assert "contract" not in caplog.text


@pytest.mark.parametrize("damage", [
    {"schema": "handoff-request/v2\u0000"}, {"schema": "handoff-request/" + "v" * 5000}, {"schema": 42},
    {"reasons": ["complaint", 7]}, {"summary": {"not": "text"}}, {"intents": "request_human", "knowledge": 3},
    {"priority": ["high"], "sentiment": None}])
async def test_whatever_the_bot_sends_the_customer_is_handed_off(service: HandoffService, rasa: FakeRasa,
                                                                 damage: dict[str, object]) -> None:
    customer = await Customer.start(service)
    request = {**handoff_request(customer.conversation_id, "help me"), **damage}
    rasa.replies_to["help me"] = [{"recipient_id": customer.conversation_id, "custom": {"handoff": request}}]
    await customer.say("help me")
    record = await customer.record()
    assert record.state is State.QUEUED and record.reasons
    ticket = await service.helpdesk.ticket(SUPERVISOR, record.ticket_id or 0)
    assert ticket["status"] == "open" and isinstance(ticket["summary"], str)
