"""Recovery: the live state rebuilt from the ticket log, so that a restart forgets no conversation.

The ticket log is the record; the live store is what can be rebuilt from it. The store is empty after a
restart of the embedded profile (it lives in the process) and after a Redis restart without persistence.
So, at start (every instance) and whenever the store turns out to have lost its state (the sweeper's
check, :meth:`Recovery.store_is_new`), :meth:`Recovery.rebuild`:

- files again every conversation the log says is ``queued`` or ``assigned`` and the store does not hold:
  its customer (name, e-mail, language, routing profile), its ticket (priority, tier, category, reasons,
  the hand-off request stays in the ticket), its place in the queue (the rank fixed when it was first
  queued), who has it and since when, whether they answered, and what transfers and timeouts left behind
  (agents excluded, a requested agent);
- closes the tickets a process left open when it died between a conversation's end and its ticket's
  closing.

Any other conversation (the bot's, or ended) comes back when it is first asked for
(:meth:`Recovery.conversation`): its customer's token still opens it. Each write is the store's
``create_conversation``, which refuses an id it holds, so several instances rebuilding at once file each
conversation once, and a conversation that moved on meanwhile is never overwritten.

The bot's turns that never finished (the process died between storing the customer's message and the
bot's reply, or the turn failed) are found by :meth:`Recovery.unanswered`; the bot answers each again
(:meth:`handoff.service.conversations.Conversations.replay`) under the claim every bot turn takes, so a
turn still under way on another instance, or one instance's replay, is not doubled by another's.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from handoff.core.conversation import Cause
from handoff.core.errors import Conflict
from handoff.core.model import AgentId, ConversationRecord, State, storable
from handoff.core.queue import QueueOrder
from handoff.service.ports import Clock, ConversationView, MessageView, Store, TicketLog, TransitionView

logger = logging.getLogger(__name__)
LIVE = (State.QUEUED, State.ASSIGNED)
REPLAY_WINDOW = 3600.0
"""Seconds back a customer message with no bot reply is still answered at recovery (older ones are stale)."""
STORE_MARK = "rebuilt"
"""The store's claim saying its state has been rebuilt since it was last empty."""
_CLOSINGS = {State.BOT: "handed_back", State.RESOLVED: "resolved", State.ABANDONED: "abandoned"}
_LEFT_AGENT = frozenset({Cause.ACCEPT_TIMEOUT.value, Cause.TRANSFERRED.value})


def _seconds(view: TransitionView) -> float:
    return view.created_at.timestamp()


class Recovery:
    """Rebuilds the live store from the ticket log (see the module docstring)."""

    def __init__(self, store: Store, log: TicketLog, order: QueueOrder, clock: Clock) -> None:
        self._store = store
        self._log = log
        self._order = order
        self._clock = clock

    async def store_is_new(self) -> bool:
        """Whether the store has lost its state since the last rebuild (true once: the caller rebuilds)."""
        return await self._store.claim(STORE_MARK, 0.0)

    async def rebuild(self) -> int:
        """Give routing every agent account and file again what the store lost; return how many
        conversations were filed."""
        for account in await self._log.people.list_agents():
            await self._store.upsert_agent(account.snapshot())
        filed = 0
        for view in await self._log.conversations.in_states(LIVE):
            if await self._store.get_conversation(view.conversation_id) is None:
                filed += await self._file(view)
        await self._close_stranded_tickets()
        await self._store.claim(STORE_MARK, 0.0)
        if filed:
            logger.info("recovery: %d conversations filed again from the ticket log", filed)
        return filed

    async def conversation(self, conversation_id: str) -> ConversationRecord | None:
        """The live record of a conversation the store does not hold, filed again from the log; None if the
        log does not know it either, or its customer's data was erased."""
        if not (conversation_id.isascii() and storable(conversation_id) and len(conversation_id) <= 64):
            return None  # no conversation has such an id (and PostgreSQL would refuse to look it up)
        view = await self._log.conversations.conversation(conversation_id)
        if view is None or view.erased:
            return None
        await self._file(view)
        return await self._store.get_conversation(view.conversation_id)

    async def unanswered(self) -> list[MessageView]:
        """Customer messages of the last hour the bot never answered, oldest first."""
        return await self._log.conversations.awaiting_bot(self._clock() - REPLAY_WINDOW)

    async def _file(self, view: ConversationView) -> int:
        record = await self.record_of(view)
        try:
            await self._store.create_conversation(record)
        except Conflict:  # another instance, or a request, filed it first
            return 0
        if record.agent_id is not None:  # their grace starts now: they keep it if their console comes back
            await self._store.agent_seen(record.agent_id, self._clock())
        logger.info("conversation %s: filed again as %s", view.conversation_id, view.state.value)
        return 1

    async def record_of(self, view: ConversationView) -> ConversationRecord:
        """The live record the log describes."""
        customer = await self._log.people.get_customer(view.customer_id)
        record = ConversationRecord(
            view.conversation_id, view.customer_id, view.channel, view.state, view.created_at.timestamp(),
            customer.language if customer else "en", customer_name=customer.name if customer else None,
            customer_email=customer.email if customer else None,
            # the shop vouched for it on the widget; another channel's conversation of a linked customer may not
            # have been vouched (an e-mail without the MTA's pass, docs/channels.md): the log does not say, so
            # after a restart the bot treats those writers as anonymous (fail closed)
            customer_external_id=customer.external_id if customer and view.channel == "web" else None)
        if view.state not in LIVE:
            return record
        ticket = await self._log.tickets.ticket_for_conversation(view.conversation_id)
        if ticket is None:  # the log says queued or assigned, with no open ticket: nothing to route
            logger.warning("conversation %s: %s in the log without an open ticket", view.conversation_id,
                           view.state.value)
            return replace(record, state=State.BOT)
        queued_at = ticket.created_at.timestamp()
        since = [t for t in await self._log.conversations.transitions(view.conversation_id)
                 if t.created_at >= ticket.created_at]
        owner = self._ownership(since, ticket.tier)
        record = replace(
            record, priority=ticket.priority, tier=owner["tier"], category=ticket.category, ticket_id=ticket.ticket_id,
            queued_at=queued_at, rank=self._order.rank(ticket.priority, queued_at),
            reasons=tuple(str(r.get("code", "")) for r in ticket.reasons),
            profile=await self._log.people.customer_profile(view.customer_id),
            excluded=frozenset(owner["excluded"]), requested_agent=owner["requested"])
        if view.state is State.QUEUED or owner["agent"] is None:
            # nobody is connected to a process that has just started: gone, until their socket says otherwise
            return replace(record, state=State.QUEUED, customer_left_at=self._clock())
        agent_id, assigned_at = owner["agent"], owner["assigned_at"]
        # answered: the agent wrote since it was offered to them (the assignment's own record may come later
        # than their first reply: it is written after they are told)
        last = await self._log.conversations.last_message(view.conversation_id, sender="agent")
        answered = (last is not None and last.agent_id == agent_id
                    and last.created_at.timestamp() >= owner["offered_at"])
        return replace(record, agent_id=agent_id, assigned_at=assigned_at, answered=answered)

    @staticmethod
    def _ownership(transitions: list[TransitionView], tier: int) -> dict[str, Any]:
        """Who has the conversation, since when (and since when it was offered to them: the transition
        before), and what its transfers and timeouts left, from its transitions since the ticket opened
        (oldest first)."""
        agent: AgentId | None = None
        assigned_at = offered_at = 0.0
        previous = 0.0
        excluded: set[AgentId] = set()
        requested: AgentId | None = None
        for transition in transitions:
            details = transition.details or {}
            if transition.to_state is State.ASSIGNED:
                agent = AgentId(str(details.get("agent_id") or transition.actor or "")) or None
                assigned_at, offered_at, requested = _seconds(transition), previous, None
            elif transition.from_state is State.ASSIGNED and transition.to_state is State.QUEUED:
                if agent is not None and transition.cause in _LEFT_AGENT:
                    excluded.add(agent)
                agent = None
                if transition.cause == Cause.TRANSFERRED.value:
                    requested = AgentId(details["to_agent"]) if details.get("to_agent") else None
                    tier = int(details["to_tier"]) if details.get("to_tier") is not None else tier
            previous = _seconds(transition)
        return {"agent": agent, "assigned_at": assigned_at, "offered_at": offered_at, "excluded": excluded,
                "requested": requested, "tier": tier}

    async def _close_stranded_tickets(self) -> None:
        """Close the tickets whose conversation ended (or went back to the bot) before they were closed."""
        for ticket_id, state in await self._log.tickets.stranded():
            closing = _CLOSINGS.get(State(state))
            if closing is not None and await self._log.tickets.close_ticket(ticket_id, closing, self._clock()):
                logger.info("ticket %s: closed at recovery (its conversation is %s)", ticket_id, state)

