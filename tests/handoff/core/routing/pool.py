"""Snapshots for routing tests: a realistic pool of 12 agents and helpers to vary it.

At :data:`NOW` (Wednesday 25 November 2026, 14:00 UTC) it is 15:00 in Berlin
(CET) and 09:00 in New York (EST).

=========  =====  ======  ==========================  =============  =====================
agent      tiers  langs   skills                      shift (local)  load/capacity
=========  =====  ======  ==========================  =============  =====================
b-t1-1..3  1      de, en  orders, shipping            Mon-Fri 8-17   0/3, 1/3, 2/3
b-t2-1..2  1, 2   de, en  payments, returns           Mon-Fri 8-17   1/3, 0/3
b-t3-1     1-3    de, en  payments, accounts, vip     Mon-Fri 10-19  1/2
n-t1-1..3  1      en      orders, products            Mon-Fri 9-17   0/3, 0/3, 3/3
n-t2-1..2  1, 2   en      returns, accounts           Mon-Fri 9-17   2/3, 1/3
n-t3-1     1-3    en      privacy, payments           Mon-Fri 12-20  0/2 (off shift at NOW)
=========  =====  ======  ==========================  =============  =====================
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import UTC, datetime, time
from typing import Any

from handoff.core.model import (
    AgentId,
    AgentSnapshot,
    ConversationId,
    CustomerId,
    CustomerProfile,
    ShiftWindow,
    WaitingConversation,
)

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"


def weekdays(start: int, end: int) -> tuple[ShiftWindow, ...]:
    """Monday to Friday from ``start`` to ``end`` o'clock."""
    return tuple(ShiftWindow(day, time(start), time(end)) for day in range(5))


def agent(agent_id: str, **fields: Any) -> AgentSnapshot:
    """An online agent with room, qualified for every tier, speaking en and de, always on shift."""
    defaults: dict[str, Any] = {"tiers": frozenset({1, 2, 3}), "languages": frozenset({"en", "de"})}
    return AgentSnapshot(agent_id=AgentId(agent_id), **{**defaults, **fields})


def customer(customer_id: str = "cust-1", **fields: Any) -> CustomerProfile:
    return CustomerProfile(customer_id=CustomerId(customer_id), **fields)


def waiting(conversation_id: str = "conv-1", **fields: Any) -> WaitingConversation:
    """A tier-1 conversation of a standard English customer, queued a minute before NOW."""
    fields.setdefault("customer", customer())
    fields.setdefault("queued_at", NOW.timestamp() - 60)
    return WaitingConversation(conversation_id=ConversationId(conversation_id), **fields)


def _member(agent_id: str, tiers: Iterable[int], languages: Iterable[str], skills: Iterable[str],
            shift: tuple[ShiftWindow, ...], timezone: str, load: int, capacity: int, idle: float) -> AgentSnapshot:
    return AgentSnapshot(agent_id=AgentId(agent_id), tiers=frozenset(tiers), languages=frozenset(languages),
                         skills=frozenset(skills), shift=shift, timezone=timezone, load=load, capacity=capacity,
                         idle_since=NOW.timestamp() - idle)


def pool() -> list[AgentSnapshot]:
    """The 12 agents of the table above; ``idle`` is seconds since their load last dropped."""
    berlin, new_york = weekdays(8, 17), weekdays(9, 17)
    b, n = (("de", "en"), BERLIN), (("en",), NEW_YORK)
    return [
        _member("b-t1-1", {1}, b[0], {"orders", "shipping"}, berlin, b[1], 0, 3, idle=600),
        _member("b-t1-2", {1}, b[0], {"orders", "shipping"}, berlin, b[1], 1, 3, idle=300),
        _member("b-t1-3", {1}, b[0], {"orders", "shipping"}, berlin, b[1], 2, 3, idle=100),
        _member("b-t2-1", {1, 2}, b[0], {"payments", "returns"}, berlin, b[1], 1, 3, idle=400),
        _member("b-t2-2", {1, 2}, b[0], {"payments", "returns"}, berlin, b[1], 0, 3, idle=200),
        _member("b-t3-1", {1, 2, 3}, b[0], {"payments", "accounts", "vip"}, weekdays(10, 19), b[1], 1, 2, idle=50),
        _member("n-t1-1", {1}, n[0], {"orders", "products"}, new_york, n[1], 0, 3, idle=900),
        _member("n-t1-2", {1}, n[0], {"orders", "products"}, new_york, n[1], 0, 3, idle=30),
        _member("n-t1-3", {1}, n[0], {"orders", "products"}, new_york, n[1], 3, 3, idle=5000),
        _member("n-t2-1", {1, 2}, n[0], {"returns", "accounts"}, new_york, n[1], 2, 3, idle=700),
        _member("n-t2-2", {1, 2}, n[0], {"returns", "accounts"}, new_york, n[1], 1, 3, idle=800),
        _member("n-t3-1", {1, 2, 3}, n[0], {"privacy", "payments"}, weekdays(12, 20), n[1], 0, 2, idle=2000),
    ]


def changed(agents: list[AgentSnapshot], agent_id: str, **fields: Any) -> list[AgentSnapshot]:
    """The pool with one agent's fields replaced."""
    return [dataclasses.replace(a, **fields) if a.agent_id == agent_id else a for a in agents]
