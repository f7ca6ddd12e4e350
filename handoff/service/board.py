"""What clients see of conversations: the console's queue and summaries, the waiting customer's place.

A read model kept in the live store, not rebuilt from SQL: every record carries what its summary shows
(customer, reasons, tier...), and the store keeps the queue sorted by rank. So a summary renders from one
record, a customer's position is one lookup, and a change to the queue reaches the consoles as one frame
about one conversation (``queue_entry`` / ``queue_exit``, each with the record's version, so a console
applies only news) whatever the queue's length. Only a console's first view of the queue (its ``hello``,
``GET /api/queue``) reads the whole queue, in one round trip.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from handoff.core.errors import UnknownConversation
from handoff.core.model import ConversationId, ConversationRecord, State
from handoff.core.queue import estimate_wait
from handoff.service.ports import MessageView, Store, TicketLog
from handoff.service.recovery import Recovery
from handoff.service.relay import Relay
from handoff.settings import HandoffSettings


def iso(seconds: float | None) -> str | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC).isoformat()


def summary(record: ConversationRecord, accept_timeout: float, *, position: int | None = None,
            last_message: MessageView | None = None) -> dict[str, Any]:
    """The console's one-line view of a conversation (docs/handoff-protocol.md), from its record alone."""
    deadline = (record.assigned_at + accept_timeout
                if record.state is State.ASSIGNED and record.assigned_at and not record.answered else None)
    return {
        "conversation_id": record.conversation_id,
        "version": record.version,
        "state": record.state.value,
        "channel": record.channel,
        "customer": {"id": record.customer_id, "name": record.customer_name, "email": record.customer_email,
                     "value_tier": record.profile.value_tier if record.profile else "standard",
                     "language": record.language},
        "priority": record.priority.name.lower(),
        "tier": record.tier,
        "category": record.category,
        "queued_at": iso(record.queued_at),
        "assigned_at": iso(record.assigned_at),
        "accept_deadline": iso(deadline),
        "agent_id": record.agent_id,
        "ticket_id": record.ticket_id,
        "reasons": list(record.reasons),
        "rank": record.rank,
        "position": position,
        "last_message": last_message.to_json() if last_message else None,
    }


class Board:
    """The read model's queries and the queue's change frames."""

    def __init__(self, settings: HandoffSettings, store: Store, log: TicketLog, relay: Relay,
                 recovery: Recovery) -> None:
        self._settings = settings
        self._store = store
        self._log = log
        self._relay = relay
        self._recovery = recovery

    async def conversation(self, conversation_id: str) -> ConversationRecord:
        """The conversation's live record; raises ``UnknownConversation``. One the store has forgotten (a
        restart) is filed again from the ticket log."""
        record = await self._store.get_conversation(ConversationId(conversation_id))
        if record is None:
            record = await self._recovery.conversation(conversation_id)
        if record is None:
            raise UnknownConversation("There is no conversation with this id.")
        return record

    async def queue(self) -> list[dict[str, Any]]:
        """Every queued conversation's summary in service order, with its position (one round trip)."""
        return [summary(record, self._settings.accept_timeout, position=position)
                for position, record in enumerate(await self._store.queued(), start=1)]

    async def summary(self, record: ConversationRecord) -> dict[str, Any]:
        """A summary with the conversation's newest message (what an agent's own list shows)."""
        last = await self._log.conversations.last_message(record.conversation_id)
        return summary(record, self._settings.accept_timeout, last_message=last)

    async def queue_status(self, record: ConversationRecord) -> dict[str, Any] | None:
        """``{"position", "wait_seconds"}`` while queued (``wait_seconds`` None when nobody is online to
        estimate from), else None."""
        if record.state is not State.QUEUED:
            return None
        position = await self._store.queue_position(record.conversation_id)
        if position is None:  # it left the queue meanwhile; the next state frame says where to
            return None
        agents = await self._store.agents()
        handle = await self._store.average_handle_time(self._settings.default_handle_time)
        wait = estimate_wait(position, agents, handle)  # infinite when nobody is online: unknown
        return {"position": position, "wait_seconds": round(wait) if math.isfinite(wait) else None}

    async def state_frame(self, record: ConversationRecord) -> dict[str, Any]:
        """What a customer's widget shows of the conversation: its state, place in the queue, agent."""
        agent_name = None
        if record.state is State.ASSIGNED and record.agent_id:
            account = await self._log.people.get_agent(record.agent_id)
            agent_name = account.name if account else None
        return {"type": "state", "state": record.state.value, "queue": await self.queue_status(record),
                "agent_name": agent_name}

    async def tell_agent(self, agent_id: str, record: ConversationRecord) -> None:
        """One of the agent's conversations changed (resolved, handed back, transferred, timed out)."""
        await self._relay.to_agent(agent_id, {"type": "conversation", "conversation": await self.summary(record)})

    async def moved(self, before: State, after: ConversationRecord) -> None:
        """Tell the consoles when a conversation entered or left the queue."""
        if after.state is State.QUEUED:
            await self._relay.to_consoles({"type": "queue_entry", "conversation": summary(
                after, self._settings.accept_timeout)})
        elif before is State.QUEUED:
            await self._relay.to_consoles({"type": "queue_exit", "conversation_id": after.conversation_id,
                                           "version": after.version})
