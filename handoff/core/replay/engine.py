"""The discrete-event replay: the period's hand-offs through a routing configuration and a roster.

Time is simulated: a heap of events (a hand-off arrives, a customer gives up, an agent finishes, a shift
starts or ends, a waiting conversation reaches the tier strategy's overflow time), each handled at its moment.
Routing is the product's own: the configuration is built by :func:`~handoff.core.routing.build_router`,
:func:`~handoff.core.routing.build_business_hours` and :func:`~handoff.core.routing.build_queue_order`, the
queue is kept in :meth:`QueueOrder.rank <handoff.core.queue.QueueOrder.rank>` order, each conversation is
seen through :func:`~handoff.core.dispatching.waiting` and given to the agent
:meth:`Router.route <handoff.core.routing.Router.route>` chooses, walking the queue from its head while
:func:`~handoff.core.dispatching.free_slots` says somebody has room, as the service's dispatch does.

The model (docs/capacity.md, "Routing simulator"):

- A hand-off arriving while the configuration's business hours are closed becomes an offline ticket.
- A queued customer gives up after their patience: the history's own for those who gave up before anybody
  took them; drawn from the Kaplan-Meier curve of the period, longer than the wait they had, for the others
  (:class:`~handoff.core.replay.history.PatienceCurve`).
- An agent holds up to ``capacity`` conversations, each for the history's handle time (the ticket's
  ``handle_seconds``; drawn from the same tier's handle times for a hand-off nobody held in the history). A
  conversation transferred ``k`` times in the history is held in ``k + 1`` equal parts; after each but the last
  it goes back to the queue (its first ``queued_at`` kept, the transferring agent excluded, as the service
  requeues it), and its customer's patience starts again. One whose customer gave up waiting after its last
  transfer was held in ``k`` parts; the patience of that last wait is the history's (the time to abandonment
  less the first wait and the handle time).
- Agents are online exactly during their shifts and finish what they hold after their shift ends. Routing
  sees the customer's last agent (sticky) and past tickets as they stand at that moment of the replay.
- The period starts with an empty queue and idle agents.
"""

from __future__ import annotations

import bisect
import heapq
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from handoff.core.dispatching import free_slots, waiting
from handoff.core.model import (
    AgentId,
    AgentSnapshot,
    ConversationId,
    ConversationRecord,
    CustomerId,
    CustomerProfile,
    Presence,
    State,
    moment,
)
from handoff.core.queue import QueueOrder
from handoff.core.replay.history import ABANDONED, Contact, CustomerStart, History, PatienceCurve
from handoff.core.replay.roster import Roster
from handoff.core.routing import (
    BusinessHours,
    Router,
    build_business_hours,
    build_queue_order,
    build_router,
)
from handoff.core.routing.tier import TierStrategy

ARRIVE, GIVE_UP, DONE, ONLINE, AWAY, RECHECK = range(6)
DEFAULT_HANDLE_SECONDS = 300.0
"""The handle time of a hand-off when the history holds none at all (nobody was ever held in the period)."""
DRAIN_SECONDS = 86400.0
"""After the period, shifts go on this long so that what still waits at its end can be served or give up."""


@dataclass(frozen=True)
class Scenario:
    """A routing configuration (as handoff/routing.yml describes it) and a roster, built for the replay."""

    router: Router
    hours: BusinessHours
    queue_order: QueueOrder
    roster: Roster

    @classmethod
    def from_config(cls, config: Mapping[str, Any], roster: Roster) -> Scenario:
        """Build with the product's own builders (RoutingConfigError for a bad configuration)."""
        return cls(build_router(config), build_business_hours(config), build_queue_order(config), roster)

    @property
    def overflow_seconds(self) -> float | None:
        for strategy, _ in self.router.strategies:
            if isinstance(strategy, TierStrategy):
                return strategy.overflow_after_seconds
        return None


@dataclass(slots=True)
class Pending:
    """A conversation of the replay, from its hand-off to its end."""

    contact: Contact
    record: ConversationRecord
    key: tuple[float, str]
    patience: float
    handle: float
    parts_left: int
    again: float = math.inf  # the patience when waiting again after a transfer
    wait: float | None = None
    agent: AgentId | None = None
    assigned_at: float = 0.0
    version: int = 0
    outcome: str = ""
    sticky: bool | None = None  # None: the customer had no last agent when first assigned


@dataclass
class Outcomes:
    """What became of each hand-off in one run, and each agent's time."""

    contacts: list[Pending] = field(default_factory=list)
    offline: list[Contact] = field(default_factory=list)
    transfers: int = 0
    held: dict[AgentId, float] = field(default_factory=dict)
    online: dict[AgentId, float] = field(default_factory=dict)
    capacity: dict[AgentId, int] = field(default_factory=dict)


class Replay:
    """One run of the history through a scenario, with one seed (the patience and handle times drawn)."""

    def __init__(self, history: History, scenario: Scenario, seed: int) -> None:
        self.history, self.scenario = history, scenario
        self.rng = random.Random(seed)
        self.router = scenario.router
        self.events: list[tuple[float, int, int, Any]] = []
        self.sequence = 0
        self.decisions = 0  # routing decisions made (the benchmark's baseline makes as many)
        self.queue: list[tuple[float, str]] = []  # (rank, conversation id), sorted: the hold queue
        self.pending: dict[str, Pending] = {}
        self.agents: dict[AgentId, AgentSnapshot] = {a.agent_id: a.snapshot() for a in scenario.roster.agents}
        self.view = list(self.agents.values())
        self.customers: dict[CustomerId, CustomerStart] = dict(history.customers)
        self.out = Outcomes(capacity={a.agent_id: a.capacity for a in scenario.roster.agents})
        self.patience = PatienceCurve(
            [c.gave_up_after for c in history.contacts if c.gave_up_after is not None and c.wait is None],
            [c.wait for c in history.contacts if c.wait is not None])
        handles: dict[int, list[float]] = {}
        for c in history.contacts:
            if c.handle_seconds:
                handles.setdefault(c.tier, []).append(c.handle_seconds)
        self.handles = handles
        self.all_handles = [h for values in handles.values() for h in values] or [DEFAULT_HANDLE_SECONDS]

    # ---- the event heap -------------------------------------------------------------------------------------

    def at(self, when: float, kind: int, what: Any) -> None:
        self.sequence += 1
        heapq.heappush(self.events, (when, self.sequence, kind, what))

    def run(self) -> Outcomes:
        history = self.history
        end = history.until + DRAIN_SECONDS
        for agent in self.scenario.roster.agents:
            self.out.online[agent.agent_id] = sum(b - a for a, b in agent.online(history.since, history.until))
            self.out.held[agent.agent_id] = 0.0
            for start, stop in agent.online(history.since, end):
                self.at(start, ONLINE, agent.agent_id)
                self.at(stop, AWAY, agent.agent_id)
        for contact in history.contacts:
            if history.since <= contact.created_at < history.until:
                self.at(contact.created_at, ARRIVE, contact)
        handlers = (self.arrive, self.give_up, self.done, self.come_online, self.go_away, self.recheck)
        while self.events:
            now, _, kind, what = heapq.heappop(self.events)
            handlers[kind](now, what)
        for pending in self.pending.values():
            if not pending.outcome:  # still waiting when the last shift ended
                pending.outcome = ABANDONED
        return self.out

    # ---- the handlers -------------------------------------------------------------------------------------

    def arrive(self, now: float, contact: Contact) -> None:
        if not self.scenario.hours.is_open(moment(now)):
            self.out.offline.append(contact)
            return
        start = self.customers.get(contact.customer_id, CustomerStart())
        self.customers[contact.customer_id] = replace(start, past_tickets=start.past_tickets + 1)
        profile = CustomerProfile(contact.customer_id, contact.language, contact.value_tier,
                                  last_agent_id=start.last_agent_id, past_tickets=start.past_tickets)
        conversation_id = ConversationId(str(contact.ticket_id))
        record = ConversationRecord(conversation_id, contact.customer_id, state=State.QUEUED, language=contact.language,
                                    priority=contact.priority, tier=contact.tier, category=contact.category,
                                    queued_at=now, profile=profile)
        rank = self.scenario.queue_order.rank(contact.priority, now)
        handle = contact.handle_seconds or self.rng.choice(self.handles.get(contact.tier) or self.all_handles)
        held = parts = contact.transfers + 1  # the parts agents held in the history, and the queue visits
        if contact.wait is None and contact.gave_up_after is not None:  # gave up before anybody took them
            patience = again = contact.gave_up_after
        else:
            patience = again = self.patience.draw(self.rng, contact.wait or 0.0)
            if contact.gave_up_after is not None and contact.transfers:  # gave up waiting after a transfer
                again = max(contact.gave_up_after - (contact.wait or 0.0) - handle, 0.0)
                held = contact.transfers
        pending = Pending(contact, record, (rank, conversation_id), patience, handle / held, parts, again)
        self.pending[conversation_id] = pending
        self.out.contacts.append(pending)
        self.enqueue(pending, now)
        overflow = self.scenario.overflow_seconds
        if overflow is not None:
            self.at(now + overflow, RECHECK, None)
        self.dispatch(now, pending)

    def enqueue(self, pending: Pending, now: float) -> None:
        bisect.insort(self.queue, pending.key)
        pending.version += 1
        if math.isfinite(pending.patience):
            self.at(now + pending.patience, GIVE_UP, (pending, pending.version))

    def give_up(self, now: float, what: tuple[Pending, int]) -> None:
        pending, version = what
        if version != pending.version or pending.agent is not None or pending.outcome:
            return
        self.queue.pop(bisect.bisect_left(self.queue, pending.key))
        pending.outcome = ABANDONED

    def done(self, now: float, pending: Pending) -> None:
        agent_id = pending.agent
        assert agent_id is not None
        agent = self.agents[agent_id]
        self.set_agent(replace(agent, load=agent.load - 1, idle_since=now))
        self.out.held[agent_id] += min(now, self.history.until) - min(pending.assigned_at, self.history.until)
        pending.agent = None
        pending.parts_left -= 1
        if pending.parts_left > 0:  # transferred: back to the queue without this agent
            self.out.transfers += 1
            record = pending.record
            pending.record = replace(record, excluded=record.excluded | {agent_id})
            pending.patience = pending.again
            self.enqueue(pending, now)
        else:
            pending.outcome = "resolved"
        self.dispatch(now)

    def come_online(self, now: float, agent_id: AgentId) -> None:
        self.set_agent(replace(self.agents[agent_id], presence=Presence.ONLINE))
        self.dispatch(now)

    def go_away(self, now: float, agent_id: AgentId) -> None:
        self.set_agent(replace(self.agents[agent_id], presence=Presence.AWAY))

    def recheck(self, now: float, _: None) -> None:
        self.dispatch(now)

    # ---- routing ------------------------------------------------------------------------------------------

    def set_agent(self, snapshot: AgentSnapshot) -> None:
        self.agents[snapshot.agent_id] = snapshot
        self.view = list(self.agents.values())

    def dispatch(self, now: float, only: Pending | None = None) -> None:
        """Route the queue from its head while anybody has room (only ``only``, just queued: the others were
        routed at the last change of the agents or the clock's thresholds, and nobody could take them)."""
        if not self.queue or free_slots(self.view) == 0:
            return
        when = moment(now)
        entries = [only] if only is not None else [self.pending[cid] for _, cid in self.queue]
        for pending in entries:
            self.decisions += 1
            decision = self.router.route(waiting(pending.record, now), self.view, when)
            if decision.agent_id is None:
                continue
            self.assign(pending, decision.agent_id, now)
            if free_slots(self.view) == 0:
                return

    def assign(self, pending: Pending, agent_id: AgentId, now: float) -> None:
        self.queue.pop(bisect.bisect_left(self.queue, pending.key))
        agent = self.agents[agent_id]
        self.set_agent(replace(agent, load=agent.load + 1))
        pending.agent, pending.assigned_at = agent_id, now
        if pending.wait is None:
            pending.wait = now - pending.contact.created_at
            last = pending.record.profile.last_agent_id if pending.record.profile else None
            pending.sticky = None if last is None else last == agent_id
        customer = pending.contact.customer_id
        self.customers[customer] = replace(self.customers[customer], last_agent_id=agent_id)
        self.at(now + pending.handle, DONE, pending)
