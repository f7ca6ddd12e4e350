"""The handoff service's vocabulary: ids, conversation states, and the snapshots routing works on.

Pure data, no I/O (like websockets' Sans-I/O ``protocol.py``): the gateway, the
store and the ticket log all speak these types, and the routing strategies see
nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from enum import IntEnum, StrEnum
from typing import NewType

ConversationId = NewType("ConversationId", str)
AgentId = NewType("AgentId", str)
CustomerId = NewType("CustomerId", str)
TicketId = NewType("TicketId", int)
MAX_CLIENT_ID = 64  # characters of a message's client_id (the sender's own id, for idempotent resends)


class State(StrEnum):
    """Who owns a conversation. ``bot -> queued -> assigned -> (bot | resolved)``, plus the two ends
    ``offline`` (handed off out of hours: a ticket with a promised callback) and ``abandoned``
    (the customer left while queued)."""

    BOT = "bot"
    QUEUED = "queued"
    ASSIGNED = "assigned"
    RESOLVED = "resolved"
    OFFLINE = "offline"
    ABANDONED = "abandoned"


class Priority(IntEnum):
    """Queue priority: higher is served first (then the longest waiting)."""

    NORMAL = 0
    HIGH = 1
    URGENT = 2


class Presence(StrEnum):
    """An agent's availability. Only ``online`` agents receive new conversations."""

    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


@dataclass(frozen=True)
class ShiftWindow:
    """One working window: ``weekday`` 0 = Monday; ``start``/``end`` local times, ``end`` after ``start``."""

    weekday: int
    start: time
    end: time


@dataclass(frozen=True)
class CustomerProfile:
    """What routing may know about the customer.

    Attributes:
        value_tier: ``standard`` or ``vip`` (from the customer record).
        lifetime_value: money spent, in the shop's currency.
        last_agent_id: the agent who last handled one of their tickets (for sticky routing).
        past_tickets: how many tickets they opened before this one.
    """

    customer_id: CustomerId
    language: str = "en"
    value_tier: str = "standard"
    lifetime_value: float = 0.0
    last_agent_id: AgentId | None = None
    past_tickets: int = 0


@dataclass(frozen=True)
class WaitingConversation:
    """A conversation that needs an agent, as routing sees it.

    Attributes:
        tier: difficulty tier 1 (easy) .. 3 (hard), from :mod:`handoff.core.difficulty`.
        category: the knowledge/intent category of the request (``orders``, ``returns``...), or None.
        queued_at: when it entered the queue (seconds since the epoch); requeueing keeps it.
        excluded: agents who must not get it again (they let it time out, or transferred it away).
        requested_agent: a transfer to a named agent: only that agent may take it.
    """

    conversation_id: ConversationId
    customer: CustomerProfile
    priority: Priority = Priority.NORMAL
    tier: int = 1
    category: str | None = None
    queued_at: float = 0.0
    excluded: frozenset[AgentId] = frozenset()
    requested_agent: AgentId | None = None


@dataclass(frozen=True)
class AgentSnapshot:
    """One agent's routing-relevant state at one moment.

    Attributes:
        capacity: the most conversations they handle at once.
        load: conversations assigned to them now.
        tiers: difficulty tiers they are qualified for.
        skills: categories they know well (``orders``, ``payments``...).
        idle_since: when their load last dropped (seconds since the epoch); ties go to the longest idle.
        shift: working windows; empty means always on shift.
        timezone: IANA zone the shift times are in.
    """

    agent_id: AgentId
    presence: Presence = Presence.ONLINE
    capacity: int = 3
    load: int = 0
    tiers: frozenset[int] = frozenset({1})
    languages: frozenset[str] = frozenset({"en"})
    skills: frozenset[str] = frozenset()
    idle_since: float = 0.0
    shift: tuple[ShiftWindow, ...] = ()
    timezone: str = "UTC"

    @property
    def has_room(self) -> bool:
        """Online and under capacity: may receive a conversation now."""
        return self.presence is Presence.ONLINE and self.load < self.capacity


@dataclass(frozen=True)
class RoutingDecision:
    """The outcome of routing one conversation.

    Attributes:
        agent_id: the chosen agent, or None when nobody eligible has room (the conversation waits).
        scores: the total score of every eligible agent, for the log and the console.
        explanation: one line per strategy on what it did, for people reading why.
    """

    agent_id: AgentId | None
    scores: dict[AgentId, float] = field(default_factory=dict)
    explanation: tuple[str, ...] = ()


def epoch(moment: datetime) -> float:
    """Seconds since the epoch of an aware datetime (the unit every snapshot uses)."""
    return moment.timestamp()
