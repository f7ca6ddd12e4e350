"""Routing loop: give queued conversations to agents, atomically, and take back what goes unanswered.

Every instance runs the same loop; the store's atomic ``assign`` and ``release`` make races harmless: a lost
race just means another instance did the work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from handoff.adapters.store.base import ConversationRecord
from handoff.core import texts
from handoff.core.conversation import Cause
from handoff.core.errors import StateConflict
from handoff.core.model import (
    AgentId,
    AgentSnapshot,
    CustomerProfile,
    Presence,
    RoutingDecision,
    State,
    WaitingConversation,
)
from handoff.service.base import agent_channel, conversation_channel
from handoff.service.views import Views

logger = logging.getLogger(__name__)
RACE_RETRIES = 3


@dataclass(frozen=True, slots=True)
class Assignment:
    """A conversation routing gave an agent: announced to them, not yet recorded in the ticket log."""

    before: ConversationRecord
    after: ConversationRecord
    agent_id: AgentId
    decision: RoutingDecision


class Dispatch(Views):
    async def profile(self, record: ConversationRecord) -> CustomerProfile:
        """The customer as routing sees them, in this conversation's language."""
        return replace(await self.log.customer_profile(record.customer_id), language=record.language)

    async def waiting(self, record: ConversationRecord, profile: CustomerProfile | None = None) -> WaitingConversation:
        """The queued conversation as routing sees it; ``profile``: the customer's, if the caller has it."""
        return WaitingConversation(record.conversation_id, profile or await self.profile(record), record.priority,
                                   record.tier, record.category, record.queued_at or self.now(), record.excluded,
                                   record.requested_agent)

    async def dispatch(self, profiles: Mapping[str, CustomerProfile] | None = None) -> int:
        """Route the hold queue in service order until nobody has room; return how many were assigned.

        ``profiles``: customer profiles the caller has just read, by conversation id (escalation reads one to
        open the ticket), so routing does not read them again. The lock covers the decisions and the agents'
        ``assigned`` frames; the ticket log's record of each assignment and the customer's notice follow once
        it is released, so that one escalation's bookkeeping never holds up the next one's routing.
        """
        done: list[Assignment] = []
        async with self._dispatch_lock:
            agents = await self.store.agents()
            for record in await self.ordered_queue():
                if not any(agent.has_room for agent in agents):
                    break
                agents, assignment = await self._route_one(record, agents,
                                                           (profiles or {}).get(record.conversation_id))
                if assignment is not None:
                    done.append(assignment)
        for a in done:
            await self.record_assigned(a.before, a.after, a.agent_id, Cause.ASSIGNED, a.decision)
        if done:
            await self.publish_queue()
        return len(done)

    async def _route_one(self, record: ConversationRecord, agents: list[AgentSnapshot],
                         profile: CustomerProfile | None) -> tuple[list[AgentSnapshot], Assignment | None]:
        """Route one queued conversation; the agents as they are now, and the assignment if there was one."""
        waiting = await self.waiting(record, profile)
        for _ in range(RACE_RETRIES):
            decision = self.router.route(waiting, agents, self.now_dt())
            if decision.agent_id is None:
                return agents, None
            if await self.store.assign(record.conversation_id, decision.agent_id, self.now()):
                after = await self.announce_assigned(record, decision.agent_id)
                return await self.store.agents(), Assignment(record, after, decision.agent_id, decision)
            agents = await self.store.agents()  # lost a race with another instance: look again
        return agents, None

    async def on_assigned(self, before: ConversationRecord, agent_id: AgentId, cause: Cause,
                          decision: RoutingDecision | None = None) -> None:
        """The store has given ``before``'s conversation to ``agent_id``: tell the agent, then record it."""
        after = await self.announce_assigned(before, agent_id)
        await self.record_assigned(before, after, agent_id, cause, decision)

    async def announce_assigned(self, before: ConversationRecord, agent_id: AgentId) -> ConversationRecord:
        """The agent's ``assigned`` frame, first: this is the latency that counts (docs/benchmarks.md). The
        assignment is already the store's; :meth:`record_assigned` makes the ticket log's record of it."""
        after = await self.conversation(before.conversation_id)
        await self.store.publish(agent_channel(agent_id),
                                 {"type": "assigned", "conversation": await self.summary(after)})
        return after

    async def record_assigned(self, before: ConversationRecord, after: ConversationRecord, agent_id: AgentId,
                              cause: Cause, decision: RoutingDecision | None = None) -> None:
        """The ticket's assignee history, the transition, and the customer told who joined."""
        if after.ticket_id is not None:
            await self.log.ticket_assigned(after.ticket_id, agent_id, self.now_dt())
        details: dict[str, Any] = {"agent_id": agent_id, "ticket_id": after.ticket_id}
        if decision is not None:
            best = sorted(decision.scores.items(), key=lambda item: -item[1])[:5]
            details.update(scores={agent: round(score, 4) for agent, score in best},
                           explanation=list(decision.explanation))
        await self.transition(before, after, cause, actor=agent_id, details=details)
        account = await self.log.get_agent(agent_id)
        await self.say(after, "system", texts.ASSIGNED.format(agent=account.name if account else "An agent"))
        await self.store.publish(conversation_channel(after.conversation_id), await self.state_frame(after))

    # ---- the sweeper: unanswered assignments and customers who left the queue -------------------------

    async def sweep(self) -> None:
        now = self.now()
        for conversation_id, agent_id in await self.store.expired_assignments(now - self.settings.accept_timeout):
            await self.requeue_unanswered(conversation_id, agent_id)
        for conversation_id in await self.store.left_while_queued(now - self.settings.abandon_after):
            await self.abandon(conversation_id)

    async def requeue_unanswered(self, conversation_id: str, agent_id: AgentId) -> None:
        """The agent did not answer in time: the conversation goes back to the queue without them, and they are
        set away (they are evidently not at their desk) until they say otherwise."""
        before = await self.conversation(conversation_id)
        after = await self.store.release(before.conversation_id, agent_id, State.QUEUED, self.now(),
                                         {"excluded": before.excluded | {agent_id}, "agent_id": None})
        if after is None:
            return  # answered or released meanwhile, maybe by another instance
        if after.ticket_id is not None:
            await self.log.ticket_unassigned(after.ticket_id, agent_id, Cause.ACCEPT_TIMEOUT.value, self.now_dt())
        await self.transition(before, after, Cause.ACCEPT_TIMEOUT, actor=agent_id)
        await self.store.set_presence(agent_id, Presence.AWAY, self.now())
        await self.store.publish(agent_channel(agent_id),
                                 {"type": "conversation", "conversation": await self.summary(after)})
        await self.store.publish(agent_channel(agent_id), {"type": "presence", "presence": Presence.AWAY.value})
        await self.say(after, "system", texts.REQUEUED)
        await self.store.publish(conversation_channel(after.conversation_id), await self.state_frame(after))
        await self.dispatch()
        await self.publish_queue()

    async def abandon(self, conversation_id: str) -> None:
        before = await self.conversation(conversation_id)
        try:
            after = await self.store.update_conversation(before.conversation_id, [State.QUEUED],
                                                         {"state": State.ABANDONED})
        except StateConflict:  # moved on meanwhile (assigned, or back to the bot): nothing to do
            return
        if after.ticket_id is not None:
            await self.log.close_ticket(after.ticket_id, "abandoned", self.now_dt())
        await self.transition(before, after, Cause.CUSTOMER_LEFT)
        await self.publish_queue()

    async def run_sweeper(self, stopping: asyncio.Event) -> None:
        """Sweep every ``sweep_interval`` seconds until ``stopping`` is set; errors are logged, never fatal."""
        while not stopping.is_set():
            try:
                await self.sweep()
            except Exception:
                logger.exception("sweep failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.settings.sweep_interval)
