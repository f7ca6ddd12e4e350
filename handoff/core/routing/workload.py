"""Workload: the least-loaded agent, relative to their capacity.

Optimises: spreads conversations so that nobody is swamped while a colleague
waits, and keeps slack with every agent for the next one. Score =
``1 - load / capacity``; the router breaks equal totals by the longest idle
agent (the lowest ``idle_since``), so among equally loaded agents the one who
waited longest gets the next conversation.

How it fails: load counts conversations, not effort (three easy chats can be
less work than one angry customer); relative load favours large-capacity agents
(4 of 8 scores like 1 of 2); and ``idle_since`` is only as good as the store
keeps it (an agent who never had a conversation has 0 and wins every tie).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

from handoff.core.model import AgentSnapshot, WaitingConversation
from handoff.core.routing.base import Options, Scores


class WorkloadStrategy:
    """Prefers agents with the most free capacity, relative to their capacity (no options)."""

    name: ClassVar[str] = "workload"

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> WorkloadStrategy:
        Options(cls.name, options, ())
        return cls()

    def evaluate(self, conversation: WaitingConversation, agents: Sequence[AgentSnapshot], now: datetime) -> Scores:
        return {a.agent_id: (1.0 - a.load / a.capacity if 0 <= a.load < a.capacity else None) for a in agents}
