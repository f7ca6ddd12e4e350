"""The hold queue's service order, and how long a customer will wait.

Pure functions over snapshots (no I/O): the store keeps the queue, this module
says in which order to serve it and what to tell the customer.

Order, with aging against starvation: a strict priority order (as kombu warns
about its sorted cycle) lets a steady stream of HIGH conversations starve a
NORMAL one forever. So each waiting conversation has an *effective priority*::

    effective = priority + waited_seconds / aging_seconds

served highest first, then the oldest ``queued_at``, then the conversation id
(a total, deterministic order). With ``aging_seconds = 300``, a NORMAL (0)
conversation that has waited ten minutes ranks with an URGENT (2) one that just
arrived. The bound: a newcomer of priority ``q`` can overtake a conversation of
priority ``p`` only while ``q > p + waited / aging_seconds``, so nobody is
overtaken by newcomers for longer than ``(URGENT - p) * aging_seconds``.

The cost of aging: a HIGH conversation may be served after a NORMAL one that
waited long; and positions are not monotonic (a customer at position 3 may read
4 a moment later when an urgent one arrives). Say "about" to customers.

The order does not change with time, although effective priorities do: A goes
before B at every moment exactly when ``q_A - p_A * aging < q_B - p_B * aging``
(``now`` cancels out). So each conversation gets one fixed sort key when it is
queued, its :meth:`QueueOrder.rank`, and the store keeps the queue sorted by it:
a position, a page of the queue or the next one to route then costs the same
with 10 or 1,000 conversations waiting.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from handoff.core.model import AgentSnapshot, ConversationId, Presence, Priority

DEFAULT_AGING_SECONDS = 300.0
STRICT_SPAN = 1e10
"""With aging off, one priority level in rank is worth this many seconds: more than any two ``queued_at``
differ, so priority decides first (and a float still resolves the seconds to about 4 microseconds)."""
TIE_STEP = 1e-5
"""Seconds a priority level adds to a rank so that, of two equal effective priorities, the older goes first
(larger than a rank's float resolution, smaller than any two real ``queued_at`` differ)."""


class Queued(Protocol):
    """What ordering needs of a waiting conversation (a ``WaitingConversation`` or a store record)."""

    @property
    def conversation_id(self) -> ConversationId: ...

    @property
    def priority(self) -> Priority: ...

    @property
    def queued_at(self) -> float | None: ...


Q = TypeVar("Q", bound=Queued)


@dataclass(frozen=True)
class QueueOrder:
    """The service order of the hold queue.

    Attributes:
        aging_seconds: waiting this long raises a conversation's effective priority by one level;
            ``math.inf`` turns aging off (strict priority, then oldest first).
    """

    aging_seconds: float = DEFAULT_AGING_SECONDS

    def __post_init__(self) -> None:
        if not self.aging_seconds > 0:
            raise ValueError(f"aging_seconds must be positive, not {self.aging_seconds!r}")

    def effective_priority(self, entry: Queued, now: float) -> float:
        """``priority + waited / aging_seconds``; a conversation without ``queued_at`` has not waited."""
        queued_at = entry.queued_at if entry.queued_at is not None else now
        return int(entry.priority) + max(now - queued_at, 0.0) / self.aging_seconds

    def rank(self, priority: Priority, queued_at: float) -> float:
        """The conversation's fixed sort key in the queue: lower is served first.

        ``queued_at - priority * aging_seconds``: sorting by it is sorting by effective priority (highest
        first) at any moment, for conversations queued by then (see the module docstring). Of two with the
        same effective priority the one queued first goes first: each priority level adds ``TIE_STEP``
        (10 microseconds), which puts the later, higher-priority one behind. Exact ties go by conversation id.
        """
        span = self.aging_seconds if math.isfinite(self.aging_seconds) else STRICT_SPAN
        return queued_at - int(priority) * (span - TIE_STEP)

    def sort(self, entries: Iterable[Q], now: float) -> list[Q]:
        """The entries in service order (first served first), at time ``now`` (seconds since the epoch).

        An entry without ``queued_at`` counts as queued at ``now``.
        """
        def key(entry: Q) -> tuple[float, str]:
            queued_at = entry.queued_at if entry.queued_at is not None else now
            return (self.rank(entry.priority, queued_at), entry.conversation_id)
        return sorted(entries, key=key)

    def position_of(self, conversation_id: ConversationId, entries: Iterable[Queued], now: float) -> int | None:
        """The 1-based place of a conversation in service order, or None if it is not among ``entries``."""
        for place, entry in enumerate(self.sort(entries, now), start=1):
            if entry.conversation_id == conversation_id:
                return place
        return None


def estimate_wait(position: int, agents: Sequence[AgentSnapshot], average_handle_seconds: float) -> float:
    """Seconds until the conversation at ``position`` (1-based) is likely to get an agent.

    The first ``free`` positions (free slots of online agents) are served at once; beyond them, online
    capacity ``C`` frees slots at about ``C / average_handle_seconds`` per second, so position ``p`` waits
    ``(p - free) / C * average_handle_seconds``. No online agent at all: ``math.inf`` (say "we will email
    you", not a number).

    How it is wrong: it assumes every online agent may take every conversation (tier, language and
    shift filters make the real pool smaller: an optimistic estimate), that conversations end evenly
    spread in time (just after a burst of assignments they end together, later), that nobody with a
    higher priority arrives (aging bounds that), that agents stay online (shifts end), and the average
    hides the long tail of handle times. Round it up and say "about".

    Args:
        position: the 1-based place in service order.
        agents: the agents' snapshots now.
        average_handle_seconds: the recent mean handle time of one conversation.
    """
    free = 0
    capacity = 0
    for agent in agents:
        if agent.presence is Presence.ONLINE:
            capacity += agent.capacity
            free += max(agent.capacity - agent.load, 0)
    if position <= free:
        return 0.0
    if capacity <= 0:
        return float("inf")
    return (position - free) / capacity * max(average_handle_seconds, 0.0)
