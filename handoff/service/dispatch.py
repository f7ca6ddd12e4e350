"""Dispatch: give queued conversations to agents, atomically, and take back what goes unanswered.

Every instance runs the same loop; the store's atomic ``assign`` and ``release`` make races harmless: a lost
race just means another instance did the work. The router (:mod:`handoff.core.routing`) decides on
snapshots; routing reads no SQL, since each queued record carries the customer's profile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from typing import Any

from handoff.core import transitions
from handoff.core.conversation import Cause
from handoff.core.dispatching import free_slots, waiting
from handoff.core.errors import StateConflict, UnknownConversation
from handoff.core.model import (
    AgentId,
    AgentSnapshot,
    ConversationRecord,
    Presence,
    RoutingDecision,
    State,
    moment,
)
from handoff.core.routing import Router
from handoff.service.board import Board
from handoff.service.changes import Changes
from handoff.service.ports import Clock, Store, TicketLog
from handoff.service.relay import Relay
from handoff.settings import HandoffSettings

logger = logging.getLogger(__name__)
RACE_RETRIES = 3
PAGE = 50
"""The most queued conversations read at a time while agents have room (fewer when fewer slots are free)."""


@dataclass(frozen=True, slots=True)
class Assignment:
    """A conversation routing gave an agent: announced to them, not yet recorded in the ticket log."""

    before: ConversationRecord
    after: ConversationRecord
    agent_id: AgentId
    decision: RoutingDecision


class QueueCursor:
    """Where a pass of the routing loop is in the queue: after the last record it read (its rank, and the ids
    read at that rank, since records may share one)."""

    def __init__(self) -> None:
        self.rank: float | None = None
        self.ids_at_rank: set[str] = set()
        self.skipped = 0

    async def next_page(self, store: Store, limit: int) -> list[ConversationRecord]:
        """Up to ``limit`` records after the last one read; fewer only at the end of the queue."""
        raw = await store.queued(limit=limit + len(self.ids_at_rank), from_rank=self.rank)
        page = [record for record in raw if record.conversation_id not in self.ids_at_rank][:limit]
        for record in page:
            rank = record.rank or 0.0
            if rank != self.rank:
                self.rank, self.ids_at_rank = rank, set()
            self.ids_at_rank.add(record.conversation_id)
        return page


def decision_details(decision: RoutingDecision) -> dict[str, Any]:
    """The routing decision as the transition keeps it: the best five scores and the explanation."""
    best = sorted(decision.scores.items(), key=lambda item: -item[1])[:5]
    return {"scores": {agent: round(score, 4) for agent, score in best},
            "explanation": list(decision.explanation)}


class Dispatch:
    """The routing loop and the sweeper."""

    def __init__(self, settings: HandoffSettings, store: Store, log: TicketLog, relay: Relay, board: Board,
                 changes: Changes, router: Router, clock: Clock) -> None:
        self._settings = settings
        self._store = store
        self._log = log
        self._relay = relay
        self._board = board
        self._changes = changes
        self._router = router
        self._clock = clock
        self._lock = asyncio.Lock()

    async def dispatch(self) -> int:
        """Route the hold queue in service order while anybody has room; return how many were assigned.

        Reads the queue only while an agent has room, from where the last page ended (by rank, so what
        leaves the queue meanwhile moves nothing), and first no more than the free slots: an event costs the
        same with 10 or 1,000 conversations waiting (more only when routing skips some that nobody with room
        may take; then it reads full pages). The lock covers the decisions and the agents' ``assigned``
        frames; the ticket log's record of each assignment and the customer's notice follow once it is
        released, so that one escalation's bookkeeping never holds up the next one's routing.
        """
        done: list[Assignment] = []
        async with self._lock:
            agents = await self._store.agents()
            cursor = QueueCursor()
            while (room := free_slots(agents)) > 0:
                limit = PAGE if cursor.skipped else min(room, PAGE)
                page = await cursor.next_page(self._store, limit)
                for record in page:
                    if not any(agent.has_room for agent in agents):
                        break
                    agents, assignment = await self._route_one(record, agents)
                    if assignment is None:
                        cursor.skipped += 1
                    else:
                        done.append(assignment)
                if len(page) < limit:
                    break
        for a in done:
            await self._record_assigned(a.before, a.after, a.agent_id, Cause.ASSIGNED, decision_details(a.decision))
        return len(done)

    async def _route_one(self, record: ConversationRecord, agents: list[AgentSnapshot]
                         ) -> tuple[list[AgentSnapshot], Assignment | None]:
        """Route one queued conversation; the agents as they are now, and the assignment if there was one."""
        conversation = waiting(record, self._clock())
        for _ in range(RACE_RETRIES):
            decision = self._router.route(conversation, agents, moment(self._clock()))
            if decision.agent_id is None:
                return agents, None
            if await self._store.assign(record.conversation_id, decision.agent_id, self._clock()):
                after = await self._announce(record, decision.agent_id)
                return await self._store.agents(), Assignment(record, after, decision.agent_id, decision)
            agents = await self._store.agents()  # lost a race with another instance: look again
        return agents, None

    async def assigned(self, before: ConversationRecord, agent_id: AgentId, cause: Cause, *,
                       details: dict[str, Any] | None = None, actor: str | None = None) -> ConversationRecord:
        """The store has given ``before``'s conversation to ``agent_id`` (they took it, or a supervisor,
        ``actor``, gave it to them): tell them, record it."""
        after = await self._announce(before, agent_id)
        await self._record_assigned(before, after, agent_id, cause, details, actor)
        return after

    async def _announce(self, before: ConversationRecord, agent_id: AgentId) -> ConversationRecord:
        """The agent's ``assigned`` frame, first: this is the latency that counts (docs/benchmarks.md)."""
        after = await self._board.conversation(before.conversation_id)
        await self._relay.to_agent(agent_id, {"type": "assigned", "conversation": await self._board.summary(after)})
        return after

    async def _record_assigned(self, before: ConversationRecord, after: ConversationRecord, agent_id: AgentId,
                               cause: Cause, details: dict[str, Any] | None = None, actor: str | None = None) -> None:
        account = await self._log.people.get_agent(agent_id)
        change = transitions.assign(before, agent_id, account.name if account else "An agent", cause, details)
        await self._changes.record(replace(change, actor=actor) if actor else change, before, after)

    # ---- the sweeper: unanswered assignments and customers who left the queue -------------------------

    async def sweep(self) -> None:
        """Requeue what went unanswered too long, abandon what its customer left too long ago, and route the
        queue (a safety net: every event that frees or needs an agent routes it too).

        Each conversation is swept on its own: one that fails is logged and the others are still swept.
        """
        now = self._clock()
        for conversation_id, agent_id in await self._store.expired_assignments(now - self._settings.accept_timeout):
            await self._each(conversation_id, self.requeue_unanswered(conversation_id, agent_id))
        for conversation_id in await self._store.left_while_queued(now - self._settings.abandon_after):
            await self._each(conversation_id, self.abandon(conversation_id))
        for agent_id in await self._store.agents_unseen(now - self._settings.agent_grace):
            await self._each(agent_id, self.agent_gone(agent_id))
        await self.dispatch()

    @staticmethod
    async def _each(conversation_id: str, sweeping: Awaitable[None]) -> None:
        try:
            await sweeping
        except UnknownConversation:
            pass  # gone from the live store meanwhile
        except Exception:
            logger.exception("conversation %s: sweeping it failed; the next sweep tries again", conversation_id)

    async def requeue_unanswered(self, conversation_id: str, agent_id: AgentId) -> None:
        """The agent did not answer in time: the conversation goes back to the queue without them, and they are
        set away (they are evidently not at their desk) until they say otherwise."""
        if await self._requeue(conversation_id, agent_id, Cause.ACCEPT_TIMEOUT, away=True):
            await self.dispatch()

    async def take_back(self, agent_id: AgentId, cause: Cause) -> int:
        """Every conversation assigned to the agent goes back to the queue without them (``agent_offline``:
        their account was deactivated), and the queue is routed; how many went back."""
        taken = 0
        for conversation_id in await self._store.agent_conversations(agent_id):
            with contextlib.suppress(UnknownConversation):
                taken += await self._requeue(conversation_id, agent_id, cause, away=False)
        await self.dispatch()
        return taken

    async def _requeue(self, conversation_id: str, agent_id: AgentId, cause: Cause, *, away: bool) -> bool:
        """Release the agent's assignment back to the queue and record it; False if it was not theirs any more
        (answered or released meanwhile, maybe by another instance). ``away``: set them away at once, before
        anything else can route to them."""
        before = await self._board.conversation(conversation_id)
        if before.agent_id != agent_id:
            return False
        try:
            change = transitions.requeue(before, cause)
        except StateConflict:
            return False
        after = await self._store.release(before.conversation_id, agent_id, change.after, self._clock(),
                                          change.fields)
        if after is None:
            return False
        if away:
            await self._store.set_presence(agent_id, Presence.AWAY, self._clock())
        await self._board.tell_agent(agent_id, after)
        if away:
            await self._relay.to_agent(agent_id, {"type": "presence", "presence": Presence.AWAY.value})
        await self._changes.record(change, before, after)
        return True

    async def agent_gone(self, agent_id: AgentId) -> None:
        """The agent's consoles are all gone longer than ``HANDOFF_AGENT_GRACE``: they are away, every
        conversation they had goes back to the queue (answered or not), and those transferred to them by name
        may go to anyone."""
        await self._store.agent_seen(agent_id, None)  # once: another instance's sweeper finds nothing to do
        agent = await self._store.get_agent(agent_id)
        if agent is not None and agent.presence is Presence.ONLINE:
            await self._store.set_presence(agent_id, Presence.AWAY, self._clock())
            await self._relay.to_agent(agent_id, {"type": "presence", "presence": Presence.AWAY.value})
        account = await self._log.people.get_agent(agent_id)
        for conversation_id in await self._store.agent_conversations(agent_id):
            await self._each(conversation_id, self._agent_gone_from(conversation_id, agent_id,
                                                                    account.name if account else "Your agent"))
        for record in await self._store.queued():
            if record.requested_agent == agent_id:
                with contextlib.suppress(StateConflict):
                    await self._store.update_conversation(record.conversation_id, [State.QUEUED],
                                                          {"requested_agent": None})
        logger.info("agent %s: gone longer than the grace period; away", agent_id)
        await self.dispatch()

    async def _agent_gone_from(self, conversation_id: str, agent_id: AgentId, agent_name: str) -> None:
        before = await self._board.conversation(conversation_id)
        if before.agent_id != agent_id:
            return
        change = transitions.agent_gone(before, agent_name)
        after = await self._store.release(before.conversation_id, agent_id, change.after, self._clock(),
                                          change.fields)
        if after is None:
            return  # released meanwhile
        await self._changes.record(change, before, after)
        await self._board.tell_agent(agent_id, after)

    async def abandon(self, conversation_id: str) -> None:
        before = await self._board.conversation(conversation_id)
        try:
            change = transitions.abandon(before)
            after = await self._store.update_conversation(before.conversation_id, [change.before], change.fields)
        except StateConflict:  # moved on meanwhile (assigned, or back to the bot): nothing to do
            return
        await self._changes.record(change, before, after)
