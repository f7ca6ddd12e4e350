"""The cross-instance bus of :class:`~handoff.adapters.store.redis.RedisStore`: Redis pub/sub.

Pub/sub is at-most-once: an event published while an instance is
disconnected, or one its handler falls too far behind on, is lost for that
instance. That is by design: durable history lives in the SQL ticket log, and
clients catch up by message id after a reconnect.

Each store instance has ONE subscriber connection (its own client, named
``<prefix>bus`` so operators can find it in ``CLIENT LIST``) with ONE pattern
subscription, ``<prefix>bus:*``. A reader task reads it and hands each event
whose channel has a local handler (JSON text) to the local
:class:`~handoff.adapters.store.fanout.Fanout`; the rest are dropped unread. When the
connection drops, the reader logs a WARNING, retries with exponential backoff,
and subscribes again.

Why one pattern rather than a SUBSCRIBE per conversation and agent: sockets
come and go by the thousand, and per-channel subscribe/unsubscribe raced on the
shared connection (a subscription sometimes went unconfirmed under load). The
price is that every instance receives every event, which is fine for the
handful of instances a helpdesk runs; past that, shard the prefix.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import redis.exceptions
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from handoff.adapters.store.base import Event, Handler, Subscription
from handoff.adapters.store.codec import dump_json
from handoff.adapters.store.fanout import Fanout
from handoff.core.errors import UpstreamUnavailable

logger = logging.getLogger(__name__)

RECOVERABLE_ERRORS: tuple[type[BaseException], ...] = (redis.exceptions.ConnectionError,
                                                        redis.exceptions.TimeoutError, OSError)
"""Errors after which a reconnect may help (kombu's ``recoverable_connection_errors``)."""

BACKOFF_FIRST, BACKOFF_MAX = 0.1, 5.0
CONFIRM_TIMEOUT = 10.0  # seconds to wait for Redis to confirm the PSUBSCRIBE


def glob_escape(text: str) -> str:
    """``text`` matched literally in a Redis glob pattern."""
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


class RedisBus:
    """Publish through the store's client; receive on one dedicated pub/sub connection."""

    def __init__(self, url: str, prefix: str, publisher: Redis) -> None:
        self._channel_prefix = prefix + "bus:"
        self._publisher = publisher
        self._client = Redis.from_url(url, decode_responses=True, client_name=f"{prefix}bus",
                                      retry=Retry(NoBackoff(), 0), health_check_interval=30,
                                      socket_connect_timeout=5.0)
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[None] | None = None  # set once Redis confirmed the PSUBSCRIBE
        self._fanout = Fanout()

    async def publish(self, channel: str, event: Event) -> None:
        await self._publisher.publish(self._channel_prefix + channel, dump_json(event))

    async def publish_all(self, events: Sequence[tuple[str, Event]]) -> None:
        """One round trip (a pipeline, not a transaction) for several events."""
        async with self._publisher.pipeline(transaction=False) as pipe:
            for channel, event in events:
                pipe.publish(self._channel_prefix + channel, dump_json(event))
            await pipe.execute()

    async def subscribe(self, channel: str, handler: Handler) -> Subscription:
        delivery = self._fanout.add(channel, handler)
        if self._ready is None:
            self._ready = asyncio.get_running_loop().create_future()
        if self._reader is None:
            self._reader = asyncio.create_task(self._read(), name=f"{self._channel_prefix} reader")
        try:  # only the first subscription waits: later ones ride on the same pattern subscription
            await asyncio.wait_for(asyncio.shield(self._ready), CONFIRM_TIMEOUT)
        except TimeoutError:
            await delivery.close()
            raise UpstreamUnavailable("Redis did not confirm the bus subscription; live updates are unavailable."
                                      ) from None
        return delivery

    async def _connect(self) -> PubSub:
        pubsub = self._client.pubsub()
        await pubsub.psubscribe(glob_escape(self._channel_prefix) + "*")
        self._pubsub = pubsub
        return pubsub

    async def _read(self) -> None:
        backoff = BACKOFF_FIRST
        while True:
            try:
                pubsub = self._pubsub or await self._connect()
                message = await pubsub.get_message(timeout=1.0)
            except RECOVERABLE_ERRORS as exc:
                logger.warning("Lost the Redis pub/sub connection (%s); reconnecting in %.1f s", exc, backoff)
                await self._reconnect_after(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
                continue
            except Exception:  # a bug or a client library surprise: the reader must outlive it, or the bus is dead
                logger.exception("The Redis pub/sub reader failed; reconnecting in %.1f s", backoff)
                await self._reconnect_after(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
                continue
            backoff = BACKOFF_FIRST
            if message is not None:
                self._dispatch(message)

    async def _reconnect_after(self, delay: float) -> None:
        await self._drop()
        await asyncio.sleep(delay)

    def _dispatch(self, message: dict[str, Any]) -> None:
        name = message.get("channel")
        if not isinstance(name, str):
            return
        if message["type"] == "psubscribe":
            if self._ready is not None and not self._ready.done():
                self._ready.set_result(None)
            logger.debug("Subscribed to the bus (%s*)", self._channel_prefix)
        elif message["type"] == "pmessage" and name.startswith(self._channel_prefix):
            channel = name[len(self._channel_prefix):]
            if self._fanout.has(channel):  # every instance hears every event; most are for someone else
                self._fanout.deliver(channel, str(message["data"]))

    async def _drop(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(*RECOVERABLE_ERRORS):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.wait([self._reader])
        await self._fanout.close()
        await self._drop()
        await self._client.aclose()
