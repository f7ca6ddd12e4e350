"""Ticket automation on the fake clock: each kind of rule acts when due, not before, once; the customer hears the
notice; the ticket's history names the rule; two sweepers at once (two instances in production) act once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml

from handoff.core.errors import Conflict
from handoff.core.model import Priority, State
from handoff.service import HandoffService
from tests.handoff.conftest import OpenService
from tests.handoff.frames import message_from, of_type
from tests.handoff.world import SUPERVISOR, Agent, Customer, FakeClock, FakeRasa

NOTICE = "We have not heard from you for a while, so we are closing this chat. Write here to reopen it."
CLOSED_DESK = {"strategies": [{"name": "workload"}],
               "business_hours": {"timezone": "UTC", "hours": {"wed": "08:00-09:00"}}}  # it is Wednesday 14:00


@pytest.fixture
def rules_file(tmp_path: Path) -> Any:
    """Write rules to a file of their own and return its path (the service's ``HANDOFF_AUTOMATION``)."""

    def write(*rules: dict[str, Any]) -> Path:
        path = tmp_path / "automation.yml"
        path.write_text(yaml.safe_dump({"rules": list(rules)}))
        return path

    return write


async def assigned_to(service: HandoffService, agent: Agent, text: str = "I want a person") -> Customer:
    customer = await Customer.start(service)
    await customer.say(text)
    await agent.inbox.next(lambda f: f["type"] == "assigned"
                           and f["conversation"]["conversation_id"] == customer.conversation_id)
    return customer


async def ticket_of(service: HandoffService, customer: Customer) -> dict[str, Any]:
    record = await customer.record()
    tickets = await service.helpdesk.tickets(SUPERVISOR, limit=200)
    ticket_id = record.ticket_id or next(t["id"] for t in tickets if t["conversation_id"] == customer.conversation_id)
    return await service.helpdesk.ticket(SUPERVISOR, ticket_id)


# ---- idle_customer ------------------------------------------------------------------------------------------


async def test_a_silent_customer_is_told_and_the_conversation_resolved_once(
        open_service: OpenService, rules_file: Any, clock: FakeClock) -> None:
    path = rules_file({"name": "quiet-customer", "kind": "idle_customer", "after": 600, "notice": NOTICE})
    service = await open_service(automation_config=path)
    grace = await Agent.sign_in(service, "grace")
    customer = await assigned_to(service, grace)
    await grace.say(customer.conversation_id, "Your refund is on its way. Anything else?")
    clock.advance(599)
    await service.sweep()
    assert (await customer.record()).state is State.ASSIGNED  # not before its time
    clock.advance(1)
    await service.sweep()
    told = await customer.inbox.next(message_from("system", "We have not heard from you"))
    assert told["message"]["text"] == NOTICE
    await customer.inbox.next(of_type("state", state="resolved"))
    await grace.inbox.next(of_type("conversation"))
    ticket = await ticket_of(service, customer)
    assert (ticket["status"], ticket["resolution"]) == ("resolved", "resolved")
    last = ticket["transitions"][-1]
    assert (last["from_state"], last["to_state"], last["cause"], last["actor"]) == (
        "assigned", "resolved", "automation", "automation:quiet-customer")
    assert [(e["rule"], e["kind"], e["action"]) for e in ticket["automation"]] == [
        ("quiet-customer", "idle_customer", "resolved")]
    assert ticket["automation"][0]["details"]["silent_seconds"] == 600
    clock.advance(3600)
    await service.sweep()
    assert len((await ticket_of(service, customer))["automation"]) == 1  # once
    assert [m["text"] for m in ticket["messages"] if m["sender"] == "system"].count(NOTICE) == 1


async def test_a_customer_who_answers_keeps_the_conversation_open(
        open_service: OpenService, rules_file: Any, clock: FakeClock) -> None:
    path = rules_file({"name": "quiet-customer", "kind": "idle_customer", "after": 600, "notice": NOTICE})
    service = await open_service(automation_config=path)
    grace = await Agent.sign_in(service, "grace")
    customer = await assigned_to(service, grace)
    await grace.say(customer.conversation_id, "Could you send me the order number?")
    clock.advance(500)
    await customer.say("It is 1234, one moment")  # the customer's word is the last one now
    clock.advance(3600)
    await service.sweep()
    assert (await customer.record()).state is State.ASSIGNED
    silent = await Customer.start(service)  # an agent who never wrote: nothing to wait for either
    await silent.say("a person please")
    clock.advance(3600)
    await service.sweep()
    assert (await ticket_of(service, customer))["automation"] == []


async def test_a_disabled_rule_is_listed_and_never_acts(open_service: OpenService, rules_file: Any,
                                                         clock: FakeClock) -> None:
    """... until it is enabled in the file while the service runs: the next sweep reads the file again and the
    rule acts; a bad save after that leaves the rules as they were."""
    rule = {"name": "quiet-customer", "kind": "idle_customer", "after": 60, "notice": NOTICE, "enabled": False}
    path = rules_file(rule)
    service = await open_service(automation_config=path)
    grace = await Agent.sign_in(service, "grace")
    customer = await assigned_to(service, grace)
    await grace.say(customer.conversation_id, "Anything else?")
    clock.advance(3600)
    await service.sweep()
    assert (await customer.record()).state is State.ASSIGNED
    [listed] = await service.automation.list_rules(SUPERVISOR)
    assert (listed["name"], listed["enabled"], listed["count"]) == ("quiet-customer", False, 0)

    rules_file({**rule, "enabled": True})
    await service.sweep()
    assert (await customer.record()).state is State.RESOLVED
    path.write_text("rules: [{name: broken}]\n")
    await service.sweep()
    [listed] = await service.automation.list_rules(SUPERVISOR)
    assert (listed["name"], listed["enabled"], listed["count"]) == ("quiet-customer", True, 1)


# ---- on_arrival ---------------------------------------------------------------------------------------------


async def test_a_matching_ticket_is_tagged_categorised_and_raised_as_it_opens(
        open_service: OpenService, rules_file: Any) -> None:
    path = rules_file(
        {"name": "angry", "kind": "on_arrival", "when": {"intents": ["complaint"], "channel": "web"},
         "set": {"tags": ["Complaint", "follow-up"], "category": "returns", "priority": "urgent"}},
        {"name": "furious-words", "kind": "on_arrival", "when": {"keywords": ["furious"]},
         "set": {"tags": ["follow-up", "angry-words"]}},
        {"name": "vip-only", "kind": "on_arrival", "when": {"customer_tier": "vip"}, "set": {"tags": ["vip"]}})
    service = await open_service(automation_config=path)
    await (await Agent.sign_in(service, "grace")).presence("away")
    customer = await Customer.start(service)
    await customer.say("I am furious, nothing works")  # a high complaint about orders (the fake bot)
    record = await customer.record()
    assert (record.state, record.priority, record.category) == (State.QUEUED, Priority.URGENT, "returns")
    ticket = await ticket_of(service, customer)
    assert (ticket["tags"], ticket["category"], ticket["priority"]) == (
        ["complaint", "follow-up", "angry-words"], "returns", "urgent")
    events = {e["rule"]: e for e in ticket["automation"]}
    assert set(events) == {"angry", "furious-words"}
    assert events["angry"]["action"] == "tagged"
    assert events["angry"]["details"] == {"tags": ["complaint", "follow-up"],
                                          "category": {"from": "orders", "to": "returns"},
                                          "priority": {"from": "high", "to": "urgent"}}
    assert events["furious-words"]["details"] == {"tags": ["follow-up", "angry-words"]}
    plain = await Customer.start(service)
    await plain.say("a person please")
    ticket = await ticket_of(service, plain)
    assert (ticket["tags"], ticket["priority"], ticket["automation"]) == ([], "normal", [])


async def test_an_out_of_hours_ticket_is_tagged_on_arrival_too(open_service: OpenService, rules_file: Any) -> None:
    path = rules_file({"name": "everything", "kind": "on_arrival", "set": {"tags": ["seen"]}})
    service = await open_service(automation_config=path, routing=CLOSED_DESK)
    customer = await Customer.start(service, email="jo@example.com")
    await customer.say("I want to talk to a human")
    await customer.inbox.next(of_type("state", state="offline"))
    ticket = await ticket_of(service, customer)
    assert (ticket["status"], ticket["tags"]) == ("offline", ["seen"])
    assert [e["rule"] for e in ticket["automation"]] == ["everything"]


async def test_a_hand_off_without_the_bot_matches_its_cause_as_reason(open_service: OpenService, rules_file: Any,
                                                                      rasa: FakeRasa) -> None:
    path = rules_file({"name": "bot-down", "kind": "on_arrival", "when": {"reasons": "bot_unavailable"},
                       "set": {"tags": ["bot-down"]}})
    service = await open_service(automation_config=path)
    await (await Agent.sign_in(service, "grace")).presence("away")
    rasa.down = True
    customer = await Customer.start(service)
    await customer.say("hello?")
    ticket = await ticket_of(service, customer)
    assert (ticket["reasons"][0]["code"], ticket["tags"]) == ("bot_unavailable", ["bot-down"])


# ---- first_response_sla -------------------------------------------------------------------------------------


async def test_a_queued_ticket_near_its_first_response_target_is_raised(
        open_service: OpenService, rules_file: Any, clock: FakeClock) -> None:
    path = rules_file({"name": "sla-risk", "kind": "first_response_sla", "before": 36, "priority": "urgent"})
    service = await open_service(automation_config=path)  # first response target: 180 s (handoff/targets.yml)
    watcher = await Agent.sign_in(service, "grace")
    await watcher.presence("away")
    early = await Customer.start(service)
    await early.say("a person please")
    clock.advance(60)
    late = await Customer.start(service)
    await late.say("a person please")
    assert [s["conversation_id"] for s in await service.desk.queue(SUPERVISOR)] == [early.conversation_id,
                                                                                   late.conversation_id]
    clock.advance(83)  # early: 143 s old, 37 s left
    await service.sweep()
    assert (await early.record()).priority is Priority.NORMAL
    clock.advance(1)  # 36 s left
    await service.sweep()
    record = await early.record()
    assert (record.state, record.priority) == (State.QUEUED, Priority.URGENT)
    entry = await watcher.inbox.next(lambda f: f["type"] == "queue_entry"
                                     and f["conversation"]["priority"] == "urgent")
    assert entry["conversation"]["conversation_id"] == early.conversation_id
    ticket = await ticket_of(service, early)
    assert ticket["priority"] == "urgent"
    [event] = ticket["automation"]
    assert (event["rule"], event["action"], event["details"]["priority"], event["details"]["left_seconds"]) == (
        "sla-risk", "priority_raised", {"from": "normal", "to": "urgent"}, 36)
    clock.advance(60)  # late is due now; early is not raised twice
    await service.sweep()
    await service.sweep()
    assert len((await ticket_of(service, early))["automation"]) == 1
    assert (await late.record()).priority is Priority.URGENT
    rules = await service.automation.list_rules(SUPERVISOR)
    assert [(r["name"], r["count"]) for r in rules] == [("sla-risk", 2)]


async def test_an_agent_who_has_not_answered_loses_the_ticket_to_the_queue(
        open_service: OpenService, rules_file: Any, clock: FakeClock) -> None:
    path = rules_file({"name": "sla-reroute", "kind": "first_response_sla", "before": 36, "reroute": True})
    service = await open_service(automation_config=path, accept_timeout=1000.0)
    grace = await Agent.sign_in(service, "grace")
    customer = await assigned_to(service, grace)
    clock.advance(144)
    await service.sweep()
    record = await customer.record()
    assert (record.state, record.priority, record.excluded) == (State.QUEUED, Priority.HIGH,
                                                                frozenset({grace.id}))
    await customer.inbox.next(message_from("system", "Sorry for the wait"))
    ticket = await ticket_of(service, customer)
    last = ticket["transitions"][-1]
    assert (last["from_state"], last["to_state"], last["cause"], last["actor"]) == (
        "assigned", "queued", "automation", "automation:sla-reroute")
    assert [(a["agent_id"], a["end_cause"]) for a in ticket["assignments"]] == [(grace.id, "automation")]
    assert [(e["rule"], e["action"]) for e in ticket["automation"]] == [("sla-reroute", "requeued")]
    linus = await Agent.sign_in(service, "linus")
    await linus.presence("online")  # another agent gets it at once
    record = await customer.record()
    assert (record.state, record.agent_id) == (State.ASSIGNED, linus.id)


async def test_an_answered_ticket_is_never_at_risk(open_service: OpenService, rules_file: Any,
                                                  clock: FakeClock) -> None:
    path = rules_file({"name": "sla-reroute", "kind": "first_response_sla", "before": 36, "reroute": True})
    service = await open_service(automation_config=path)
    grace = await Agent.sign_in(service, "grace")
    customer = await assigned_to(service, grace)
    await grace.say(customer.conversation_id, "Hello, I'm on it.")
    clock.advance(170)
    await service.sweep()
    record = await customer.record()
    assert (record.state, record.agent_id, record.priority) == (State.ASSIGNED, grace.id, Priority.NORMAL)
    assert (await ticket_of(service, customer))["automation"] == []


# ---- close_callback -----------------------------------------------------------------------------------------


async def test_an_out_of_hours_ticket_closes_a_set_time_after_its_callback(
        open_service: OpenService, rules_file: Any, clock: FakeClock) -> None:
    path = rules_file({"name": "called-back", "kind": "close_callback", "after": 3600})
    service = await open_service(automation_config=path, routing=CLOSED_DESK)
    customer = await Customer.start(service, email="jo@example.com")
    await customer.say("I want to talk to a human")
    await customer.inbox.next(of_type("state", state="offline"))
    ticket = await ticket_of(service, customer)
    clock.advance(86400 * 3)
    await service.sweep()
    assert (await ticket_of(service, customer))["status"] == "offline"  # no callback made: it waits
    marked = await service.helpdesk.edit_ticket(SUPERVISOR, ticket["id"], callback_sent=True)
    assert marked["callback"]["sent_by"] == SUPERVISOR.agent_id
    assert marked["callback"]["contact"] == "jo@example.com"
    with pytest.raises(Conflict, match="marked as made already"):
        await service.helpdesk.edit_ticket(SUPERVISOR, ticket["id"], callback_sent=True)
    clock.advance(3599)
    await service.sweep()
    assert (await ticket_of(service, customer))["status"] == "offline"
    clock.advance(1)
    await service.sweep()
    await service.sweep()
    closed = await ticket_of(service, customer)
    assert (closed["status"], closed["resolution"]) == ("resolved", "callback")
    assert [(e["rule"], e["action"]) for e in closed["automation"]] == [("called-back", "closed")]
    assert closed["automation"][0]["details"] == {"callback_sent_at": marked["callback"]["sent_at"]}


async def test_only_an_out_of_hours_ticket_has_a_callback_to_mark(service: HandoffService) -> None:
    await (await Agent.sign_in(service, "grace")).presence("away")
    customer = await Customer.start(service)
    await customer.say("a person please")
    ticket = await ticket_of(service, customer)
    with pytest.raises(Conflict, match="not an out-of-hours ticket"):
        await service.helpdesk.edit_ticket(SUPERVISOR, ticket["id"], callback_sent=True)


# ---- several sweepers at once -------------------------------------------------------------------------------


async def test_two_sweepers_at_once_act_once(open_service: OpenService, rules_file: Any, profile: str,
                                             clock: FakeClock) -> None:
    """Every rule due at the same moment, swept by two sweepers at once, twice each (in production two
    instances on one Redis and one PostgreSQL): each acts once."""
    path = rules_file({"name": "quiet-customer", "kind": "idle_customer", "after": 600, "notice": NOTICE},
                      {"name": "sla-risk", "kind": "first_response_sla", "before": 36, "priority": "urgent"})
    services = [await open_service(automation_config=path)]
    if profile == "production":
        services.append(await open_service(automation_config=path))
    grace = await Agent.sign_in(services[0], "grace")
    quiet = await assigned_to(services[0], grace)
    await grace.say(quiet.conversation_id, "Done: anything else?")
    await grace.presence("away")
    waiting = await Customer.start(services[-1])
    await waiting.say("a person please")
    clock.advance(600)
    await asyncio.gather(*(service.sweep() for service in services), *(service.sweep() for service in services))
    quiet_ticket = await ticket_of(services[0], quiet)
    assert [e["rule"] for e in quiet_ticket["automation"]] == ["quiet-customer"]
    assert [t["cause"] for t in quiet_ticket["transitions"]].count("automation") == 1
    messages = [m["text"] for m in quiet_ticket["messages"] if m["sender"] == "system"]
    assert messages.count(NOTICE) == 1
    waiting_ticket = await ticket_of(services[0], waiting)
    assert [e["rule"] for e in waiting_ticket["automation"]] == ["sla-risk"]
    assert (await waiting.record()).priority is Priority.URGENT
    counts = {r["name"]: r["count"] for r in await services[-1].automation.list_rules(SUPERVISOR)}
    assert counts == {"quiet-customer": 1, "sla-risk": 1}


async def test_the_log_of_events_filters_by_rule_and_time(open_service: OpenService, rules_file: Any,
                                                          clock: FakeClock) -> None:
    path = rules_file({"name": "everything", "kind": "on_arrival", "set": {"tags": ["seen"]}},
                      {"name": "sla-risk", "kind": "first_response_sla", "before": 36})
    service = await open_service(automation_config=path)
    await (await Agent.sign_in(service, "grace")).presence("away")
    first = await Customer.start(service)
    await first.say("a person please")
    clock.advance(150)
    await service.sweep()
    events = await service.automation.events(SUPERVISOR)
    assert [(e["rule"], e["conversation_id"]) for e in events] == [("sla-risk", first.conversation_id),
                                                                 ("everything", first.conversation_id)]
    assert events[0]["ticket_number"].startswith("T-")
    only = await service.automation.events(SUPERVISOR, rule="everything")
    assert [e["rule"] for e in only] == ["everything"]
    assert await service.automation.events(SUPERVISOR, since="2026-11-25T14:02:00Z") == events[:1]
    assert await service.automation.events(SUPERVISOR, since="2026-11-25T14:02:00") == events[:1]  # UTC
    with pytest.raises(Exception, match="ISO 8601"):
        await service.automation.events(SUPERVISOR, since="yesterday")
