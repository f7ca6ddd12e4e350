"""Local delivery of bus events to this process's handlers, shared by both stores.

Each subscription delivers its events in publication order through a
:class:`~handoff.drain.Drain` of its own, so a slow handler delays only itself
and a failing one is logged and keeps receiving; an idle subscription (a
customer socket waiting for someone to write), which is most of them, holds no
task and no queue. Events travel as JSON text and every
handler decodes its own copy: a handler that mutates its event cannot affect
another, and the embedded profile rejects events Redis could not carry.
"""

from __future__ import annotations

import json
import logging

from handoff.adapters.store.base import Handler
from handoff.drain import Drain

logger = logging.getLogger(__name__)

BACKLOG = 1000
"""Events a subscription may fall behind before new ones are dropped (the bus is at-most-once)."""


class Delivery:
    """One handler subscribed to one channel; the :class:`~handoff.adapters.store.base.Subscription` callers get."""

    __slots__ = ("_drain", "_fanout", "_handler", "channel")

    def __init__(self, fanout: Fanout, channel: str, handler: Handler) -> None:
        self.channel = channel
        self._fanout = fanout
        self._handler = handler
        self._drain: Drain[str] = Drain(self._handle, BACKLOG, f"bus handler for {channel}")

    def offer(self, payload: str) -> None:
        """Queue an event for the handler without waiting."""
        if not self._drain.put(payload) and not self._drain.stopped:
            logger.warning("A handler on bus channel %s is %d events behind; dropping an event", self.channel,
                           BACKLOG)

    async def _handle(self, payload: str) -> None:
        try:
            await self._handler(json.loads(payload))
        except Exception:
            logger.exception("A handler on bus channel %s failed; it keeps its subscription", self.channel)

    async def close(self) -> None:
        """Stop delivering events to the handler (safe to call from inside the handler, and twice)."""
        if self._drain.stopped:
            return
        await self._drain.stop()
        await self._fanout.remove(self)


class Fanout:
    """Per channel, the local deliveries."""

    def __init__(self) -> None:
        self._deliveries: dict[str, list[Delivery]] = {}

    def add(self, channel: str, handler: Handler) -> Delivery:
        delivery = Delivery(self, channel, handler)
        self._deliveries.setdefault(channel, []).append(delivery)
        return delivery

    def has(self, channel: str) -> bool:
        return bool(self._deliveries.get(channel))

    def deliver(self, channel: str, payload: str) -> None:
        """Hand a JSON-encoded event to every local handler of ``channel``."""
        for delivery in self._deliveries.get(channel, ()):
            delivery.offer(payload)

    async def remove(self, delivery: Delivery) -> None:
        deliveries = self._deliveries.get(delivery.channel, [])
        if delivery in deliveries:
            deliveries.remove(delivery)
        if not deliveries:
            self._deliveries.pop(delivery.channel, None)

    async def close(self) -> None:
        """Close every delivery (the store is shutting down)."""
        for deliveries in list(self._deliveries.values()):
            for delivery in list(deliveries):
                await delivery.close()
