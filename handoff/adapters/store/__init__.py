"""The live-state store: :func:`open_store` picks the backend for the deployment profile.

``None`` (the embedded profile) gives a :class:`~handoff.adapters.store.memory.MemoryStore`;
a ``redis://`` URL gives a :class:`~handoff.adapters.store.redis.RedisStore` once Redis
answers a PING.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from handoff.adapters.store.base import Event, Handler, Subscription
from handoff.adapters.store.memory import MemoryStore
from handoff.adapters.store.redis import RedisStore
from handoff.adapters.store.redis_bus import RECOVERABLE_ERRORS
from handoff.core.errors import UpstreamUnavailable
from handoff.core.model import State

__all__ = ["Event", "Handler", "MemoryStore", "RedisStore", "Subscription", "open_store", "redact_url"]


def redact_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (for logs and error messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


async def open_store(redis_url: str | None, prefix: str = "handoff:",
                     expire_after: Mapping[State, float] | None = None) -> MemoryStore | RedisStore:
    """The store for the deployment: in-process without a URL, Redis with one; ``expire_after``: how long a
    record idles in each state before it is forgotten (states without one never expire).

    Raises:
        UpstreamUnavailable: Redis does not answer at ``redis_url``.
    """
    if redis_url is None:
        return MemoryStore(expire_after=expire_after)
    store = RedisStore(redis_url, prefix, expire_after=expire_after)
    try:
        await store.ping()
    except RECOVERABLE_ERRORS as exc:
        await store.close()
        raise UpstreamUnavailable(f"Redis is not reachable at {redact_url(redis_url)} ({exc}).") from exc
    return store
