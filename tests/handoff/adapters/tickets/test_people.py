"""Customers (upsert, external ids, history, last agent), agents' accounts and canned responses."""

from __future__ import annotations

import asyncio
from datetime import time
from typing import Any

import pytest

from handoff.adapters.tickets import TicketLog
from handoff.adapters.tickets.views import AgentAccount
from handoff.core.errors import BadRequest, Conflict
from handoff.core.model import AgentId, ConversationId, CustomerId, CustomerProfile, Presence, Role, ShiftWindow
from tests.handoff.adapters.tickets.conftest import CUSTOMER, T0, at


async def test_upsert_customer_creates_then_updates_given_fields(log: TicketLog) -> None:
    created = await log.people.upsert_customer(CUSTOMER, external_id="shop-17", name="Jo", value_tier="vip",
                                        lifetime_value=1200.5, now=T0)
    updated = await log.people.upsert_customer(CUSTOMER, email="jo@example.com", now=at(60))

    assert (created.language, created.value_tier, created.lifetime_value) == ("en", "vip", 1200.5)
    assert (updated.name, updated.email, updated.value_tier, updated.created_at) == (
        "Jo", "jo@example.com", "vip", T0)
    assert await log.people.get_customer(CUSTOMER) == updated
    assert await log.people.customer_by_external_id("shop-17") == updated
    assert await log.people.customer_by_external_id("shop-18") is None
    assert await log.people.get_customer(CustomerId("cu_nope")) is None
    assert updated.to_json() == {"id": "cu_1", "name": "Jo", "email": "jo@example.com", "value_tier": "vip",
                                 "language": "en", "lifetime_value": 1200.5}


async def test_upsert_customer_taken_external_id_raises_conflict(log: TicketLog) -> None:
    await log.people.upsert_customer(CUSTOMER, external_id="shop-17", now=T0)
    with pytest.raises(Conflict):
        await log.people.upsert_customer(CustomerId("cu_2"), external_id="shop-17", now=T0)


async def test_upsert_customer_concurrent_inserts_make_one(log: TicketLog) -> None:
    await asyncio.gather(*(log.people.upsert_customer(CUSTOMER, name=f"Jo{i}", now=T0) for i in range(3)))

    customer = await log.people.get_customer(CUSTOMER)
    assert customer is not None and customer.name in {"Jo0", "Jo1", "Jo2"}


async def test_customer_history_and_last_agent(log: TicketLog, ada: AgentAccount, grace: AgentAccount) -> None:
    assert await log.people.customer_profile(CUSTOMER) == CustomerProfile(CUSTOMER)
    ids = []
    for number in range(3):
        conversation = ConversationId(f"c_{number}")
        await log.conversations.create_conversation(conversation, CUSTOMER, "web", at(number * 100))
        ids.append(await log.tickets.open_ticket(conversation, CUSTOMER, "web", now=at(number * 100), priority="normal",
                                         tier=1, category=None))
    await log.tickets.ticket_assigned(ids[0], ada.agent_id, at(10))
    await log.tickets.close_ticket(ids[0], "resolved", at(50))
    await log.tickets.ticket_assigned(ids[1], grace.agent_id, at(110))
    await log.tickets.ticket_unassigned(ids[1], grace.agent_id, "accept_timeout", at(140))  # never answered: not sticky

    assert [t.ticket_id for t in await log.people.customer_tickets(CUSTOMER)] == ids[::-1]
    assert [t.ticket_id for t in await log.people.customer_tickets(CUSTOMER, limit=1)] == [ids[2]]
    profile = await log.people.customer_profile(CUSTOMER)
    assert (profile.last_agent_id, profile.past_tickets) == ("a_ada", 3)
    assert await log.people.customer_profile(CustomerId("cu_stranger")) == CustomerProfile(CustomerId("cu_stranger"))


async def test_create_agent_keeps_the_routing_profile(log: TicketLog) -> None:
    shift: list[dict[str, Any]] = [{"weekday": 0, "start": "09:00", "end": "17:30"},
                                   {"weekday": 1, "start": 540, "end": 1020}]
    account = await log.people.create_agent("ada", "Ada Lovelace", "argon2-hash", role="supervisor", capacity=4,
                                     tiers=[3, 1, 1], languages=["en", "de"], skills=["payments"], shift=shift,
                                     timezone="Europe/Berlin", now=T0)

    assert account.agent_id.startswith("a_")
    assert (account.role, account.capacity, account.tiers, account.languages) == (
        Role.SUPERVISOR, 4, frozenset({1, 3}), frozenset({"en", "de"}))
    assert account.shift_windows() == (ShiftWindow(0, time(9), time(17, 30)), ShiftWindow(1, time(9), time(17)))
    assert await log.people.get_agent(account.agent_id) == account
    assert await log.people.agent_by_username("ada") == account
    assert await log.people.agent_by_username("nobody") is None
    assert "password_hash" not in account.to_json()
    snapshot = account.snapshot(Presence.ONLINE, load=1)
    assert (snapshot.agent_id, snapshot.capacity, snapshot.load, snapshot.timezone) == (
        account.agent_id, 4, 1, "Europe/Berlin")


async def test_create_agent_taken_username_raises_conflict(log: TicketLog, ada: AgentAccount) -> None:
    with pytest.raises(Conflict):
        await log.people.create_agent("ada", "Another Ada", "hash")
    results = await asyncio.gather(*(log.people.create_agent("lin", "Lin", "hash") for _ in range(2)),
                                   return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["AgentAccount", "Conflict"]
    assert await log.people.count_agents() == 2


async def test_update_agent_changes_fields(log: TicketLog, ada: AgentAccount, grace: AgentAccount) -> None:
    updated = await log.people.update_agent(ada.agent_id, name="Ada L.", capacity=5, tiers=[1, 2, 3], active=False,
                                     role=Role.ADMIN)

    assert updated is not None
    assert (updated.name, updated.capacity, updated.tiers, updated.active, updated.role) == (
        "Ada L.", 5, frozenset({1, 2, 3}), False, Role.ADMIN)
    assert await log.people.update_agent(AgentId("a_nope"), name="x") is None
    with pytest.raises(BadRequest):
        await log.people.update_agent(ada.agent_id, favourite_colour="blue")
    with pytest.raises(Conflict):
        await log.people.update_agent(ada.agent_id, username="grace")
    assert [a.username for a in await log.people.list_agents()] == ["ada", "grace"]
    assert [a.username for a in await log.people.list_agents(active_only=True)] == ["grace"]


async def test_canned_responses_upsert_by_shortcut(log: TicketLog) -> None:
    assert await log.people.list_canned() == []
    first = await log.people.upsert_canned("/hi", "Greeting", "Hello, how can I help?")
    await log.people.upsert_canned("/bye", "Goodbye", "Have a nice day!")
    changed = await log.people.upsert_canned("/hi", "Greeting", "Hi there!")

    assert changed.id == first.id
    assert [(c.shortcut, c.text) for c in await log.people.list_canned()] == [("/bye", "Have a nice day!"),
                                                                      ("/hi", "Hi there!")]
    assert changed.to_json() == {"id": first.id, "shortcut": "/hi", "title": "Greeting", "text": "Hi there!"}
