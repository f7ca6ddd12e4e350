"""The live-state store: conversations' owners, agents' presence and load, the hold queue, sessions, the bus.

Two implementations hold the same contract (tests/handoff/store/ runs one test
class against both): :class:`~handoff.adapters.store.memory.MemoryStore` for the
embedded profile (one process) and :class:`~handoff.adapters.store.redis.RedisStore`
for production (several service instances on one Redis). Durable history
(messages, transitions, tickets) lives in the ticket log (SQL), not here.

Atomicity is the store's job: :meth:`Store.assign` never puts an agent over
capacity and never gives one conversation to two agents, also when two
service instances race on the same Redis.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from handoff.core.model import AgentId, AgentSnapshot, ConversationId, CustomerId, Presence, Priority, State, TicketId

Event = dict[str, Any]
Handler = Callable[[Event], Awaitable[None]]


@dataclass(frozen=True)
class ConversationRecord:
    """Who owns a conversation right now, and what routing needs to know about it.

    Attributes:
        queued_at: when it first entered the queue (kept across requeues), or None.
        agent_id: the assigned agent while ``assigned``.
        assigned_at: when the current assignment was made.
        answered: whether the assigned agent has sent a message since the assignment.
        excluded: agents who must not get it again (let it time out, or transferred it away).
        requested_agent: a transfer to one named agent.
        customer_left_at: when the customer's last connection closed (None while connected).
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


class Subscription(Protocol):
    async def close(self) -> None:
        """Stop delivering events to the handler."""


class Store(Protocol):
    """Live state shared by every instance of the handoff service."""

    # conversations -------------------------------------------------------------------------
    async def create_conversation(self, record: ConversationRecord) -> None:
        """Store a new conversation; raises ``handoff.core.errors.Conflict`` if the id exists."""

    async def get_conversation(self, conversation_id: ConversationId) -> ConversationRecord | None: ...

    async def update_conversation(self, conversation_id: ConversationId, expected: Collection[State],
                                  changes: Mapping[str, Any]) -> ConversationRecord:
        """Compare-and-set: apply ``changes`` (field -> value, ``state`` included) only if the current state
        is in ``expected``; return the new record. Raises ``handoff.core.errors.UnknownConversation`` or
        ``handoff.core.errors.StateConflict`` (carrying the current state)."""

    # agents --------------------------------------------------------------------------------
    async def upsert_agent(self, agent: AgentSnapshot) -> None:
        """Set an agent's static fields (capacity, tiers, languages, skills, shift, timezone); keeps
        presence, load and idle_since if the agent is known."""

    async def set_presence(self, agent_id: AgentId, presence: Presence, now: float) -> None: ...

    async def get_agent(self, agent_id: AgentId) -> AgentSnapshot | None: ...

    async def agents(self) -> list[AgentSnapshot]: ...

    async def agent_conversations(self, agent_id: AgentId) -> list[ConversationId]:
        """Conversations assigned to the agent now, oldest assignment first."""

    # the hold queue and assignment -----------------------------------------------------------
    async def enqueue(self, conversation_id: ConversationId, changes: Mapping[str, Any]) -> ConversationRecord:
        """Atomically move a conversation in state ``bot`` to ``queued`` with ``changes`` applied (priority,
        tier, queued_at...) and put it in the hold queue.

        Raises:
            StateConflict: it is no longer the bot's (another escalation of it came first).
        """

    async def queue(self) -> list[ConversationId]:
        """The hold queue in service order: priority (high first), then ``queued_at`` (oldest first)."""

    async def assign(self, conversation_id: ConversationId, agent_id: AgentId, now: float) -> bool:
        """Atomically: if the conversation is ``queued`` and the agent is online and under capacity, make it
        ``assigned`` to the agent (assigned_at=now, answered=False), take it out of the queue and add one
        to the agent's load. Return False, changing nothing, otherwise (someone else won the race)."""

    async def mark_answered(self, conversation_id: ConversationId, agent_id: AgentId) -> None: ...

    async def release(self, conversation_id: ConversationId, agent_id: AgentId, to: State, now: float,
                      changes: Mapping[str, Any]) -> ConversationRecord | None:
        """Atomically end the agent's assignment: if the conversation is ``assigned`` to ``agent_id``, move
        it to ``to`` (``bot``, ``resolved``, or ``queued`` for a requeue or transfer) with ``changes``,
        subtract one from the agent's load (idle_since=now when it reaches 0), and when ``to`` is
        ``queued`` put it back in the hold queue with its original ``queued_at``. Return the new record,
        or None if it was not assigned to that agent (already released elsewhere)."""

    async def expired_assignments(self, assigned_before: float) -> list[tuple[ConversationId, AgentId]]:
        """Assigned, not yet answered, and assigned before the given time: candidates for requeueing."""

    async def left_while_queued(self, left_before: float) -> list[ConversationId]:
        """Queued conversations whose customer left before the given time: candidates for ``abandoned``."""

    # handle-time statistics for wait estimates -----------------------------------------------
    async def record_handle_time(self, seconds: float) -> None: ...

    async def average_handle_time(self, default: float) -> float:
        """Mean of the recent handle times (a bounded window), or ``default`` with no history."""

    # sessions --------------------------------------------------------------------------------
    async def put_session(self, token: str, data: Mapping[str, Any], ttl: float) -> None: ...

    async def get_session(self, token: str) -> dict[str, Any] | None:
        """The session's data, or None if unknown or expired."""

    async def delete_session(self, token: str) -> None: ...

    # the bus (cross-instance relay) ------------------------------------------------------------
    async def publish(self, channel: str, event: Event) -> None:
        """Deliver ``event`` to every subscriber of ``channel`` on every instance (at most once each)."""

    async def publish_all(self, events: Sequence[tuple[str, Event]]) -> None:
        """:meth:`publish` each ``(channel, event)`` in order, in one round trip where the store has them."""

    async def subscribe(self, channel: str, handler: Handler) -> Subscription:
        """Call ``handler`` with each event published on ``channel`` from now on, in publication order."""

    async def close(self) -> None: ...
