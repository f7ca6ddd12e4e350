"""The agent's desk: taking, answering, noting, transferring, handing back and resolving conversations,
and what the console shows of them.
"""

from __future__ import annotations

import logging
from typing import Any

from handoff.core import transitions
from handoff.core.conversation import Cause
from handoff.core.errors import BadRequest, NotAllowed, StateConflict
from handoff.core.model import AgentId, ConversationRecord, Presence, Role, State
from handoff.core.transitions import Change
from handoff.service import policy
from handoff.service.auth import Principal
from handoff.service.board import Board
from handoff.service.changes import Changes
from handoff.service.conversations import Conversations
from handoff.service.dispatch import Dispatch
from handoff.service.feedback import CustomerFeedback
from handoff.service.identities import Identities
from handoff.service.policy import Action
from handoff.service.ports import Clock, Handler, Knowledge, MessageView, Store, Subscription, TicketLog
from handoff.service.relay import Relay

logger = logging.getLogger(__name__)


class Desk:
    """What an agent does to conversations, and reads of them."""

    def __init__(self, store: Store, log: TicketLog, knowledge: Knowledge, relay: Relay, board: Board,
                 changes: Changes, dispatch: Dispatch, conversations: Conversations, clock: Clock, *,
                 feedback: CustomerFeedback, identities: Identities | None = None) -> None:
        self._store = store
        self._identities = identities
        self._log = log
        self._knowledge = knowledge
        self._relay = relay
        self._board = board
        self._changes = changes
        self._dispatch = dispatch
        self._conversations = conversations
        self._clock = clock
        self._feedback = feedback

    # ---- reading --------------------------------------------------------------------------------------

    async def hello(self, principal: Principal) -> dict[str, Any]:
        """What a console needs when its socket opens: who the agent is, the queue, their conversations."""
        presence = await self.presence_of(principal)
        return {"type": "hello", "agent": {**principal.to_json(), "presence": presence.value},
                "queue": await self.queue(principal), "conversations": await self.mine(principal)}

    async def watch(self, principal: Principal, handler: Handler) -> list[Subscription]:
        """Deliver the agent's frames and the queue's changes to ``handler`` from now on (the socket streams the
        queue: only for those who may see it)."""
        policy.check(principal.role, Action.QUEUE)
        return await self._relay.watch_agent(principal.agent_id, handler)

    async def queue(self, principal: Principal) -> list[dict[str, Any]]:
        policy.check(principal.role, Action.QUEUE)
        return await self._board.queue()

    async def summary(self, record: ConversationRecord) -> dict[str, Any]:
        return await self._board.summary(record)

    async def mine(self, principal: Principal) -> list[dict[str, Any]]:
        """The agent's conversations, oldest assignment first."""
        policy.check(principal.role, Action.SELF)
        summaries = []
        for conversation_id in await self._store.agent_conversations(principal.agent_id):
            record = await self._store.get_conversation(conversation_id)
            if record is not None:
                summaries.append(await self._board.summary(record))
        return summaries

    async def detail(self, principal: Principal, conversation_id: str) -> dict[str, Any]:
        """Everything the console shows of one conversation: with the customer, their linked channel identities
        (read only here; an admin unlinks) and their past tickets on every channel."""
        record = await self._conversations.get(conversation_id)
        await self.authorize(principal, Action.READ_CONVERSATION, record)
        ticket = await self._log.tickets.get_ticket(record.ticket_id) if record.ticket_id else None
        customer = await self._log.people.get_customer(record.customer_id)
        past = [t.to_json() for t in await self._log.people.customer_tickets(record.customer_id)
                if t.ticket_id != record.ticket_id]
        return {**await self._board.summary(record),
                "messages": [m.to_json() for m in await self._log.conversations.messages(record.conversation_id)],
                "handoff": ticket.request if ticket else None,
                "ticket": ticket.to_json() if ticket else None,
                "customer": customer.to_json() if customer else {"id": record.customer_id},
                "identities": await self._identities.of_customer(record.customer_id) if self._identities else [],
                "past_tickets": past}

    async def suggestions(self, principal: Principal, conversation_id: str) -> list[dict[str, Any]]:
        """Knowledge-base articles for the customer's last message."""
        record = await self._conversations.get(conversation_id)
        await self.authorize(principal, Action.READ_CONVERSATION, record)
        last = await self._log.conversations.last_message(record.conversation_id, sender="customer")
        return await self._knowledge.for_text(last.text if last else "")

    # ---- who may ----------------------------------------------------------------------------------------

    async def authorize(self, principal: Principal, action: Action, record: ConversationRecord) -> None:
        """Raise ``NotAllowed`` unless the policy lets ``principal`` do ``action`` to the conversation. It is
        their own while assigned to them, and while its ticket is one they have worked on (asked of the
        ticket log only when their role's scope is ``own``)."""
        own = None
        if policy.scope(principal.role, action) is policy.Scope.OWN:
            own = (record.state is State.ASSIGNED and record.agent_id == principal.agent_id) or (
                record.ticket_id is not None and await self._log.tickets.worked_on(record.ticket_id,
                                                                                   principal.agent_id))
        policy.check(principal.role, action, own)

    # ---- acting ---------------------------------------------------------------------------------------

    async def owned(self, principal: Principal, conversation_id: str) -> ConversationRecord:
        """The conversation, if it is assigned and ``principal`` may work on it: its agent (or, by the policy,
        a supervisor or admin)."""
        record = await self._conversations.get(conversation_id)
        if record.state is not State.ASSIGNED:
            raise StateConflict(f"This conversation is {record.state.value}, not assigned to you.", record.state)
        policy.check(principal.role, Action.WORK_CONVERSATION, own=record.agent_id == principal.agent_id)
        return record

    async def accept(self, principal: Principal, conversation_id: str) -> ConversationRecord:
        """Take a queued conversation by hand (or confirm one routing gave you)."""
        policy.check(principal.role, Action.TAKE)
        record = await self._conversations.get(conversation_id)
        if record.state is State.ASSIGNED and record.agent_id == principal.agent_id:
            await self._store.mark_answered(record.conversation_id, principal.agent_id)
            return await self._conversations.get(conversation_id)
        if record.state is not State.QUEUED:
            raise StateConflict(f"This conversation is {record.state.value}: it cannot be taken.", record.state)
        if record.requested_agent and record.requested_agent != principal.agent_id:
            raise NotAllowed("This conversation was transferred to a named colleague.")
        if not await self._store.assign(record.conversation_id, principal.agent_id, self._clock()):
            raise StateConflict("Someone else took it first, or you are not online or at capacity.", record.state)
        await self._store.mark_answered(record.conversation_id, principal.agent_id)
        await self._dispatch.assigned(record, principal.agent_id, Cause.TAKEN)
        return await self._conversations.get(conversation_id)

    async def says(self, principal: Principal, conversation_id: str, text: Any,
                   client_id: str | None) -> tuple[MessageView, bool]:
        """The agent's message to the customer, stored once per ``client_id``; the first one answers the
        assignment (no more accept deadline) and is the ticket's first response."""
        text, client_id = self._conversations.check_text(text), self._conversations.check_client_id(client_id)
        record = await self.owned(principal, conversation_id)
        message, new = await self._relay.keep(record, "agent", text, client_id=client_id,
                                              agent_id=principal.agent_id)
        if new and not record.answered:
            await self._store.mark_answered(record.conversation_id, principal.agent_id)
            if record.ticket_id is not None:
                await self._log.tickets.first_response(record.ticket_id, self._relay.now())
        return message, new

    async def typing(self, principal: Principal, conversation_id: str) -> None:
        record = await self.owned(principal, conversation_id)
        if not await self._conversations.limits.typing(record.conversation_id, "agent"):
            return  # one indicator per HANDOFF_TYPING_INTERVAL reaches the customer
        await self._relay.to_customer(record.conversation_id,
                                      {"type": "typing", "sender": "agent", "agent_name": principal.name})

    async def note(self, principal: Principal, conversation_id: str, text: Any) -> dict[str, Any]:
        """An internal note on the conversation's ticket (never shown to the customer)."""
        text = self._conversations.check_text(text)
        record = await self._conversations.get(conversation_id)
        await self.authorize(principal, Action.NOTE, record)
        if record.ticket_id is None:
            raise StateConflict("This conversation has no ticket to note on.", record.state)
        note = await self._log.tickets.add_note(record.ticket_id, principal.agent_id, text, self._relay.now())
        return note.to_json()

    async def resolve(self, principal: Principal, conversation_id: str) -> ConversationRecord:
        """Close the conversation and its ticket; the customer is asked to rate it."""
        before = await self.owned(principal, conversation_id)
        after = await self.release(before, transitions.resolve(before, principal.agent_id, principal.name,
                                                               self._clock()))
        await self._feedback.resolved(after, before.ticket_id)
        return after

    async def hand_back(self, principal: Principal, conversation_id: str) -> ConversationRecord:
        """Back to the bot, which is told what was said meanwhile (written into its tracker)."""
        before = await self.owned(principal, conversation_id)
        return await self.release(before, transitions.hand_back(before, principal.agent_id, principal.name,
                                                                 self._clock()))

    async def transfer(self, principal: Principal, conversation_id: str, agent_id: str | None = None,
                       tier: int | None = None) -> ConversationRecord:
        """Pass the conversation to a named colleague or to a tier; it is routed again at once."""
        if (agent_id is None) == (tier is None):
            raise BadRequest("Transfer to either an agent or a tier.")
        if tier is not None and tier not in (1, 2, 3):
            raise BadRequest("The tier is 1, 2 or 3.")
        if agent_id is not None:
            colleague = await self._log.people.get_agent(AgentId(agent_id))
            if colleague is None:
                raise BadRequest("There is no agent with this id.")
            if not colleague.active:
                raise BadRequest("This agent's account is deactivated: transfer to someone else.")
            if not policy.allowed(Role(colleague.role), Action.TAKE):
                raise BadRequest(f"{colleague.name} takes no conversations ({colleague.role}): transfer to an "
                                 "agent.")
        before = await self.owned(principal, conversation_id)
        await self.release(before, transitions.transfer(before, principal.agent_id,
                                                         to_agent=AgentId(agent_id) if agent_id else None,
                                                         to_tier=tier))
        return await self._conversations.get(conversation_id)

    async def release(self, before: ConversationRecord, change: Change, *, route: bool = True) -> ConversationRecord:
        """End the assignment as ``change`` says, record it, and (``route``) route again: the agent has room now.
        A supervisor's reassignment and escalation (:mod:`handoff.service.supervision`) end it this way too."""
        agent_id = change.assignment_ends or AgentId(str(change.actor))
        after = await self._store.release(before.conversation_id, agent_id, change.after, self._clock(),
                                          change.fields)
        if after is None:
            raise StateConflict("This conversation changed hands meanwhile; reload it.", before.state)
        await self._changes.record(change, before, after)
        await self._board.tell_agent(agent_id, after)
        if route:
            await self._dispatch.dispatch()
        return after

    async def set_presence(self, principal: Principal, presence: Presence) -> None:
        """Online, away or offline; coming online routes the queue to the agent at once (so it needs the
        policy's ``take``: a trainer stays off the routing)."""
        policy.check(principal.role, Action.SELF)
        if presence is Presence.ONLINE:
            policy.check(principal.role, Action.TAKE)
        if await self._store.get_agent(principal.agent_id) is None:  # created since start-up: routing needs it
            account = await self._log.people.get_agent(principal.agent_id)
            if account is not None:
                await self._store.upsert_agent(account.snapshot())
        await self._store.set_presence(principal.agent_id, presence, self._clock())
        await self._relay.to_agent(principal.agent_id, {"type": "presence", "presence": presence.value})
        logger.info("agent %s: %s", principal.agent_id, presence.value)
        if presence is Presence.ONLINE:
            await self._dispatch.dispatch()

    async def seen(self, principal: Principal) -> None:
        """A sign of life of the agent's console (its socket opened, pinged or closed): their conversations
        stay theirs until ``HANDOFF_AGENT_GRACE`` passes without another."""
        await self._store.agent_seen(principal.agent_id, self._clock())

    async def presence_of(self, principal: Principal) -> Presence:
        agent = await self._store.get_agent(principal.agent_id)
        return agent.presence if agent else Presence.OFFLINE
