"""The bus vocabulary both stores speak: events, handlers and subscriptions.

The store's contract itself, :class:`~handoff.service.ports.Store`, is the service's port: what the service
needs of its live state. :class:`~handoff.adapters.store.memory.MemoryStore` (the embedded profile, one
process) and :class:`~handoff.adapters.store.redis.RedisStore` (production, several service instances on
one Redis) implement it and pass one contract test suite (tests/handoff/adapters/store/).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

Event = dict[str, Any]
Handler = Callable[[Event], Awaitable[None]]


class Subscription(Protocol):
    async def close(self) -> None:
        """Stop delivering events to the handler."""
