"""What every channel with an outbox (e-mail, the IM channels) does around a try: the first try in the
background (a message is acknowledged once it is kept, not once the provider answered) and the assigned
agent's ``delivery`` frame after each try (``sent``, or ``retrying`` with the error and the next try's time)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from handoff.core.model import ConversationRecord
from handoff.service.conversations import Conversations
from handoff.service.relay import Relay

logger = logging.getLogger(__name__)


class Deliveries:
    """The tries under way and the delivery frames of one channel part."""

    def __init__(self, relay: Relay, customers: Conversations) -> None:
        self._relay = relay
        self._customers = customers
        self._tries: set[asyncio.Task[bool]] = set()

    def start(self, attempt: Coroutine[Any, Any, bool]) -> None:
        """Run a first try in the background (the outbox holds the message either way)."""
        task = asyncio.create_task(attempt)
        self._tries.add(task)
        task.add_done_callback(self._tries.discard)

    async def settle(self) -> None:
        """Wait for the tries under way (tests; and closing)."""
        while self._tries:
            await asyncio.gather(*list(self._tries), return_exceptions=True)

    async def close(self) -> None:
        """Give the tries under way a few seconds; what is left is tried again by the next sweep (any instance)."""
        if self._tries:
            await asyncio.wait(list(self._tries), timeout=5.0)

    async def tell_agent(self, channel: str, conversation_id: str, record: ConversationRecord | None,
                         message_id: int | None, status: str, error: str | None, next_try: float | None) -> None:
        """The assigned agent's console hears how a message's delivery went (``delivery`` frames)."""
        if record is None:
            try:
                record = await self._customers.get(conversation_id)
            except Exception:
                return
        if record.agent_id is None:
            return
        frame: dict[str, Any] = {"type": "delivery", "conversation_id": conversation_id, "message_id": message_id,
                                 "channel": channel, "status": status, "error": error, "next_try": next_try}
        try:
            await self._relay.to_agent(record.agent_id, frame)
        except Exception:
            logger.warning("conversation %s: the delivery notice did not reach the agent's console", conversation_id)
