"""The handoff service's vocabulary: ids, conversation states, the live record of a conversation, and the
snapshots routing works on.

Pure data, no I/O (like websockets' Sans-I/O ``protocol.py``): the gateway, the
store and the ticket log all speak these types, and the routing strategies see
nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from enum import IntEnum, StrEnum
from typing import NewType

ConversationId = NewType("ConversationId", str)
AgentId = NewType("AgentId", str)
CustomerId = NewType("CustomerId", str)
TicketId = NewType("TicketId", int)
MAX_CLIENT_ID = 64  # characters of a message's client_id (the sender's own id, for idempotent resends)
MAX_FEEDBACK_COMMENT = 1000  # characters of a customer's comment on a rating or a vote
MAX_ROW_ID = 2**31 - 1  # message and ticket ids are 32-bit integers in PostgreSQL: a larger one names nothing


def storable(*texts: str | None) -> bool:
    """Whether the ticket log can keep these strings: PostgreSQL's text holds no NUL character (SQLite's
    does), so the service refuses them at the door, in both profiles alike."""
    return not any(text is not None and "\x00" in text for text in texts)


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
    """What an account is for; what each may do is :mod:`handoff.service.policy`'s table. A ``trainer`` curates
    the bot's training data (the NLU inbox) and takes no conversations."""

    AGENT = "agent"
    TRAINER = "trainer"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


DESK_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN})
"""The roles that take conversations: routed, rostered, listed for transfers (the policy's ``take`` row says
the same, and a test keeps the two equal)."""


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


def moment(seconds: float) -> datetime:
    """The aware UTC datetime of seconds since the epoch (what the ticket log and the router take)."""
    return datetime.fromtimestamp(seconds, UTC)


@dataclass(frozen=True)
class ConversationRecord:
    """A conversation as the live store keeps it: who owns it now, what routing needs to know about it, and
    what the console shows of it (the read model: a summary renders from the record alone, no SQL).

    Attributes:
        queued_at: when it first entered the queue (kept across requeues), or None.
        agent_id: the assigned agent while ``assigned``.
        assigned_at: when the current assignment was made.
        answered: whether the assigned agent has sent a message since the assignment.
        excluded: agents who must not get it again (let it time out, or transferred it away).
        requested_agent: a transfer to one named agent.
        customer_left_at: when the customer's last connection closed (None while connected).
        customer_name / customer_email: as the customer gave them or the shop knows them (for the console).
        customer_external_id: the shop's id of the customer when the shop signed it at the start (the widget's
            ``external_id``, verified); None for an anonymous visitor. The bot is told it with every message,
            so the order actions act on this customer's orders only.
        profile: the customer as routing sees them, read once when the conversation was queued.
        reasons: the hand-off's reason codes, strongest first.
        rank: its sort key in the hold queue (:meth:`handoff.core.queue.QueueOrder.rank`), set when queued.
        version: how many times the store has written the record (1 once created): clients that hear of
            its changes from several instances keep the newest.
    """

    conversation_id: ConversationId
    customer_id: CustomerId
    channel: str = "web"
    state: State = State.BOT
    created_at: float = 0.0
    language: str = "en"
    priority: Priority = Priority.NORMAL
    tier: int = 1
    category: str | None = None
    ticket_id: TicketId | None = None
    queued_at: float | None = None
    agent_id: AgentId | None = None
    assigned_at: float | None = None
    answered: bool = False
    excluded: frozenset[AgentId] = field(default_factory=frozenset)
    requested_agent: AgentId | None = None
    customer_left_at: float | None = None
    customer_name: str | None = None
    customer_email: str | None = None
    customer_external_id: str | None = None
    profile: CustomerProfile | None = None
    reasons: tuple[str, ...] = ()
    rank: float | None = None
    version: int = 0
