"""What clients see of a conversation: summaries for the console, queue status for the customer."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from handoff.adapters.store.base import ConversationRecord
from handoff.core.model import State
from handoff.core.queue import estimate_wait
from handoff.service.base import QUEUE_CHANNEL, ServiceBase


def iso(seconds: float | None) -> str | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC).isoformat()


class Views(ServiceBase):
    async def queued(self) -> list[ConversationRecord]:
        """The conversations in the hold queue, in no particular order."""
        return [record for record in [await self.store.get_conversation(cid) for cid in await self.store.queue()]
                if record is not None and record.state is State.QUEUED]

    async def ordered_queue(self) -> list[ConversationRecord]:
        """The queued conversations in service order: priority aged by waiting time (``queue`` in routing.yml),
        so a stream of urgent conversations cannot starve the others."""
        return self.queue_order.sort(await self.queued(), self.now())

    async def queue_status(self, record: ConversationRecord) -> dict[str, Any] | None:
        """``{"position", "wait_seconds"}`` while queued (``wait_seconds`` None when nobody is online to
        estimate from), else None."""
        if record.state is not State.QUEUED:
            return None
        queue = await self.queued()
        position = self.queue_order.position_of(record.conversation_id, queue, self.now()) or len(queue) + 1
        agents = await self.store.agents()
        handle = await self.store.average_handle_time(self.settings.default_handle_time)
        wait = estimate_wait(position, agents, handle)  # infinite when nobody is online: unknown
        return {"position": position, "wait_seconds": round(wait) if math.isfinite(wait) else None}

    async def state_frame(self, record: ConversationRecord) -> dict[str, Any]:
        agent_name = None
        if record.state is State.ASSIGNED and record.agent_id:
            account = await self.log.get_agent(record.agent_id)
            agent_name = account.name if account else None
        return {"type": "state", "state": record.state.value, "queue": await self.queue_status(record),
                "agent_name": agent_name}

    async def summary(self, record: ConversationRecord, position: int | None = None) -> dict[str, Any]:
        """The console's one-line view of a conversation (docs/handoff-protocol.md)."""
        customer, ticket, last = await self.log.summary_facts(record.customer_id, record.ticket_id,
                                                              record.conversation_id)
        deadline = (record.assigned_at + self.settings.accept_timeout
                    if record.state is State.ASSIGNED and record.assigned_at and not record.answered else None)
        return {
            "conversation_id": record.conversation_id,
            "state": record.state.value,
            "customer": {"id": record.customer_id, "name": customer.name if customer else None,
                         "email": customer.email if customer else None,
                         "value_tier": customer.value_tier if customer else "standard",
                         "language": record.language},
            "priority": record.priority.name.lower(),
            "tier": record.tier,
            "category": record.category,
            "queued_at": iso(record.queued_at),
            "assigned_at": iso(record.assigned_at),
            "accept_deadline": iso(deadline),
            "agent_id": record.agent_id,
            "ticket_id": record.ticket_id,
            "reasons": [r.get("code") for r in (ticket.reasons if ticket else [])],
            "last_message": last.to_json() if last else None,
            "position": position,
        }

    async def queue_summaries(self) -> list[dict[str, Any]]:
        return [await self.summary(record, position)
                for position, record in enumerate(await self.ordered_queue(), start=1)]

    async def publish_queue(self) -> None:
        await self.store.publish(QUEUE_CHANNEL, {"type": "queue", "queue": await self.queue_summaries()})
