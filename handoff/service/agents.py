"""The agent's side: taking, answering, noting, transferring, handing back and resolving conversations."""

from __future__ import annotations

import logging
from typing import Any

from handoff.adapters.rasa import handback_events
from handoff.adapters.store.base import ConversationRecord
from handoff.adapters.tickets import MessageView
from handoff.core import texts
from handoff.core.conversation import Cause
from handoff.core.errors import BadRequest, NotAllowed, StateConflict, UpstreamUnavailable
from handoff.core.model import AgentId, Presence, Role, State
from handoff.service.auth import Principal
from handoff.service.base import agent_channel, conversation_channel
from handoff.service.customers import Customers

logger = logging.getLogger(__name__)


class Agents(Customers):
    async def owned(self, principal: Principal, conversation_id: str) -> ConversationRecord:
        """The conversation, if ``principal`` is its assigned agent (supervisors and admins may act on any)."""
        record = await self.conversation(conversation_id)
        if record.state is not State.ASSIGNED:
            raise StateConflict(f"This conversation is {record.state.value}, not assigned to you.", record.state)
        if record.agent_id != principal.agent_id and principal.role is Role.AGENT:
            raise NotAllowed("This conversation is assigned to another agent.")
        return record

    async def accept(self, principal: Principal, conversation_id: str) -> ConversationRecord:
        """Take a queued conversation by hand (or confirm one routing gave you)."""
        record = await self.conversation(conversation_id)
        if record.state is State.ASSIGNED and record.agent_id == principal.agent_id:
            await self.store.mark_answered(record.conversation_id, principal.agent_id)
            return record
        if record.state is not State.QUEUED:
            raise StateConflict(f"This conversation is {record.state.value}: it cannot be taken.", record.state)
        if record.requested_agent and record.requested_agent != principal.agent_id:
            raise NotAllowed("This conversation was transferred to a named colleague.")
        if not await self.store.assign(record.conversation_id, principal.agent_id, self.now()):
            raise StateConflict("Someone else took it first, or you are not online or at capacity.", record.state)
        await self.store.mark_answered(record.conversation_id, principal.agent_id)
        await self.on_assigned(record, principal.agent_id, Cause.TAKEN)
        await self.publish_queue()
        return await self.conversation(conversation_id)

    async def agent_says(self, principal: Principal, conversation_id: str, text: Any,
                         client_id: str | None) -> tuple[MessageView, bool]:
        text = self.check_text(text)
        record = await self.owned(principal, conversation_id)
        message, new = await self.log.add_message(record.conversation_id, "agent", text, now=self.now_dt(),
                                                  agent_id=principal.agent_id, client_id=client_id)
        if not new:
            return message, False
        if not record.answered:
            await self.store.mark_answered(record.conversation_id, principal.agent_id)
            if record.ticket_id is not None:
                await self.log.first_response(record.ticket_id, self.now_dt())
        await self.publish_message(record, message)
        return message, True

    async def agent_typing(self, principal: Principal, conversation_id: str) -> None:
        record = await self.owned(principal, conversation_id)
        await self.store.publish(conversation_channel(record.conversation_id),
                                 {"type": "typing", "sender": "agent", "agent_name": principal.name})

    async def add_note(self, principal: Principal, conversation_id: str, text: Any) -> dict[str, Any]:
        text = self.check_text(text)
        record = await self.conversation(conversation_id)
        if record.ticket_id is None:
            raise StateConflict("This conversation has no ticket to note on.", record.state)
        note = await self.log.add_note(record.ticket_id, principal.agent_id, text, self.now_dt())
        return note.to_json()

    async def _end(self, principal: Principal, conversation_id: str, to: State, cause: Cause,
                   changes: dict[str, Any]) -> tuple[ConversationRecord, ConversationRecord]:
        before = await self.owned(principal, conversation_id)
        agent_id = before.agent_id or principal.agent_id
        after = await self.store.release(before.conversation_id, agent_id, to, self.now(), changes)
        if after is None:
            raise StateConflict("This conversation changed hands meanwhile; reload it.", before.state)
        if before.ticket_id is not None:
            await self.log.ticket_unassigned(before.ticket_id, agent_id, cause.value, self.now_dt())
        if before.assigned_at is not None and to is not State.QUEUED:
            await self.store.record_handle_time(self.now() - before.assigned_at)
        await self.transition(before, after, cause, actor=principal.agent_id)
        await self.store.publish(agent_channel(agent_id),
                                 {"type": "conversation", "conversation": await self.summary(after)})
        return before, after

    async def resolve(self, principal: Principal, conversation_id: str) -> ConversationRecord:
        before, after = await self._end(principal, conversation_id, State.RESOLVED, Cause.RESOLVED, {})
        if before.ticket_id is not None:
            await self.log.close_ticket(before.ticket_id, "resolved", self.now_dt())
        await self.say(after, "system", texts.RESOLVED.format(agent=principal.name))
        await self._after_release(after)
        return after

    async def handback(self, principal: Principal, conversation_id: str) -> ConversationRecord:
        """Back to the bot, which is told what was said meanwhile (written into its tracker)."""
        before, after = await self._end(principal, conversation_id, State.BOT, Cause.HANDED_BACK,
                                        {"agent_id": None, "ticket_id": None, "queued_at": None, "assigned_at": None,
                                         "excluded": frozenset(), "requested_agent": None})
        if before.ticket_id is not None:
            await self.log.close_ticket(before.ticket_id, "handed_back", self.now_dt())
            await self._tell_bot(before)
        await self.say(after, "system", texts.HANDED_BACK.format(agent=principal.name))
        await self._after_release(after)
        return after

    async def _tell_bot(self, record: ConversationRecord) -> None:
        ticket = await self.log.get_ticket(record.ticket_id) if record.ticket_id else None
        if ticket is None:
            return
        human = [(m.sender, m.text, m.created_at.timestamp()) for m in ticket.messages
                 if m.sender in ("customer", "agent") and m.created_at >= ticket.created_at]
        account = await self.log.get_agent(record.agent_id) if record.agent_id else None
        try:
            await self.rasa.append_events(record.conversation_id,
                                          handback_events(human, account.name if account else ""))
        except UpstreamUnavailable:
            logger.warning("conversation %s: handed back, but the bot could not be told what was said",
                           record.conversation_id)

    async def transfer(self, principal: Principal, conversation_id: str, agent_id: str | None = None,
                       tier: int | None = None) -> ConversationRecord:
        if (agent_id is None) == (tier is None):
            raise BadRequest("Transfer to either an agent or a tier.")
        if tier is not None and tier not in (1, 2, 3):
            raise BadRequest("The tier is 1, 2 or 3.")
        if agent_id is not None and await self.log.get_agent(AgentId(agent_id)) is None:
            raise BadRequest("There is no agent with this id.")
        record = await self.owned(principal, conversation_id)
        changes: dict[str, Any] = {"agent_id": None, "excluded": record.excluded | {principal.agent_id},
                                   "requested_agent": AgentId(agent_id) if agent_id else None,
                                   "tier": tier if tier is not None else record.tier}
        _, after = await self._end(principal, conversation_id, State.QUEUED, Cause.TRANSFERRED, changes)
        await self.say(after, "system", texts.TRANSFERRED)
        await self.store.publish(conversation_channel(after.conversation_id), await self.state_frame(after))
        await self.dispatch()
        await self.publish_queue()
        return await self.conversation(conversation_id)

    async def _after_release(self, after: ConversationRecord) -> None:
        await self.store.publish(conversation_channel(after.conversation_id), await self.state_frame(after))
        await self.dispatch()  # the agent has room again

    async def set_presence(self, principal: Principal, presence: Presence) -> None:
        if await self.store.get_agent(principal.agent_id) is None:  # created since start-up: routing needs it
            account = await self.log.get_agent(principal.agent_id)
            if account is not None:
                await self.store.upsert_agent(account.snapshot())
        await self.store.set_presence(principal.agent_id, presence, self.now())
        await self.store.publish(agent_channel(principal.agent_id), {"type": "presence", "presence": presence.value})
        logger.info("agent %s: %s", principal.agent_id, presence.value)
        if presence is Presence.ONLINE:
            await self.dispatch()  # publishes the queue when it assigns; presence alone does not change it

    async def detail(self, conversation_id: str) -> dict[str, Any]:
        """Everything the console shows of one conversation."""
        record = await self.conversation(conversation_id)
        ticket = await self.log.get_ticket(record.ticket_id) if record.ticket_id else None
        customer = await self.log.get_customer(record.customer_id)
        past = [t.to_json() for t in await self.log.customer_tickets(record.customer_id)
                if t.ticket_id != record.ticket_id]
        return {**await self.summary(record),
                "messages": [m.to_json() for m in await self.log.messages(record.conversation_id)],
                "handoff": ticket.request if ticket else None,
                "ticket": ticket.to_json() if ticket else None,
                "customer": customer.to_json() if customer else {"id": record.customer_id},
                "past_tickets": past}

    async def mine(self, principal: Principal) -> list[dict[str, Any]]:
        summaries = []
        for conversation_id in await self.store.agent_conversations(principal.agent_id):
            record = await self.store.get_conversation(conversation_id)
            if record is not None:
                summaries.append(await self.summary(record))
        return summaries
