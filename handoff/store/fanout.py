"""Local delivery of bus events to this process's handlers, shared by both stores.

Each subscription delivers its events in publication order through a task of
its own, so a slow handler delays only itself and a failing one is logged and
keeps receiving. The task exists only while events are pending: an idle
subscription (a customer socket waiting for someone to write) holds no task
and no queue, which is most of them. Events travel as JSON text and every
handler decodes its own copy: a handler that mutates its event cannot affect
another, and the embedded profile rejects events Redis could not carry.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque

from handoff.store.base import Handler

logger = logging.getLogger(__name__)

BACKLOG = 1000
"""Events a subscription may fall behind before new ones are dropped (the bus is at-most-once)."""


class Delivery:
    """One handler subscribed to one channel; the :class:`~handoff.store.base.Subscription` callers get."""

    __slots__ = ("_closed", "_fanout", "_handler", "_pending", "_task", "channel")

    def __init__(self, fanout: Fanout, channel: str, handler: Handler) -> None:
        self.channel = channel
        self._fanout = fanout
        self._handler = handler
        self._pending: deque[str] | None = None  # events not yet handled; None while there are none
        self._task: asyncio.Task[None] | None = None  # the task handling them; None while there are none
        self._closed = False

    def offer(self, payload: str) -> None:
        """Queue an event for the handler without waiting."""
        if self._closed:
            return
        if self._pending is None:
            self._pending = deque()
        if len(self._pending) >= BACKLOG:
            logger.warning("A handler on bus channel %s is %d events behind; dropping an event", self.channel,
                           BACKLOG)
            return
        self._pending.append(payload)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"bus handler for {self.channel}")

    async def _run(self) -> None:
        try:
            while self._pending and not self._closed:
                payload = self._pending.popleft()
                try:
                    await self._handler(json.loads(payload))
                except Exception:
                    logger.exception("A handler on bus channel %s failed; it keeps its subscription", self.channel)
        finally:  # nothing left (no await since the check), or closed: an offer from now on starts a new task
            self._task = None
            if not self._pending:
                self._pending = None

    async def close(self) -> None:
        """Stop delivering events to the handler (safe to call from inside the handler, and twice)."""
        if self._closed:
            return
        self._closed = True
        task = self._task
        if task is not None and asyncio.current_task() is not task:
            task.cancel()
            await asyncio.wait([task])
        self._pending = None
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
