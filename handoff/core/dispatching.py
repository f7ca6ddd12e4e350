"""The pure parts of dispatch: a queued record as routing sees it, and how much room the agents have.

The service's routing loop (:mod:`handoff.service.dispatch`) and the routing simulator
(:mod:`handoff.core.replay`) both walk the hold queue in :class:`~handoff.core.queue.QueueOrder`, build each
conversation's :class:`~handoff.core.model.WaitingConversation` with :func:`waiting`, ask the
:class:`~handoff.core.routing.Router`, and stop when :func:`free_slots` says nobody has room.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from handoff.core.model import AgentSnapshot, ConversationRecord, CustomerProfile, WaitingConversation


def waiting(record: ConversationRecord, now: float) -> WaitingConversation:
    """The queued conversation as routing sees it, the customer in the conversation's language."""
    profile = replace(record.profile or CustomerProfile(record.customer_id), language=record.language)
    return WaitingConversation(record.conversation_id, profile, record.priority, record.tier, record.category,
                               record.queued_at or now, record.excluded, record.requested_agent)


def free_slots(agents: Iterable[AgentSnapshot]) -> int:
    """How many more conversations the online agents can take now."""
    return sum(agent.capacity - agent.load for agent in agents if agent.has_room)
