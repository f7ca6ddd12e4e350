"""Store fixtures: a MemoryStore, or a RedisStore on database 15 under a unique key prefix."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from handoff.adapters.store import MemoryStore, RedisStore
from handoff.adapters.store.redis_bus import RECOVERABLE_ERRORS
from handoff.core.model import State
from handoff.service.ports import Store
from tests.conftest import TIMEOUT

REDIS_URL = "redis://127.0.0.1:6379/11"  # databases 12-15 are the bot tests' (trackers, and locks one up)


async def wait_until(condition: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"condition still false after {timeout} s")
        await asyncio.sleep(0.01)


async def delete_keys(prefix: str) -> None:
    client = Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
def redis_prefix() -> str:
    return f"test-{uuid.uuid4().hex[:12]}:"


@pytest.fixture
async def redis_stores(redis_prefix: str) -> AsyncIterator[Callable[..., Awaitable[RedisStore]]]:
    """A factory of RedisStores sharing one prefix (each with its own connection pool, as service
    instances have; keyword arguments go to the store); all are closed and the prefix's keys deleted
    afterwards."""
    opened: list[RedisStore] = []

    async def open_one(**options: Any) -> RedisStore:
        store = RedisStore(REDIS_URL, redis_prefix, **options)
        opened.append(store)
        try:
            await store.ping()
        except RECOVERABLE_ERRORS as exc:
            pytest.fail(f"Redis is not reachable at {REDIS_URL} ({exc}); make test starts it")
        return store

    yield open_one
    for store in opened:
        await store.close()
    await delete_keys(redis_prefix)


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest,
                redis_stores: Callable[..., Awaitable[RedisStore]]) -> AsyncIterator[Store]:
    if request.param == "memory":
        memory = MemoryStore()
        yield memory
        await memory.close()
    else:
        yield await redis_stores()


EXPIRY = 0.3  # seconds the expiring stores keep an ended or bot-only record that nothing touches


@pytest.fixture(params=["memory", "redis"])
async def expiring_store(request: pytest.FixtureRequest,
                         redis_stores: Callable[..., Awaitable[RedisStore]]) -> AsyncIterator[Store]:
    """A store whose ended and bot-only records live :data:`EXPIRY` seconds idle (queued, assigned: forever)."""
    ttls = {State.BOT: EXPIRY, State.RESOLVED: EXPIRY, State.ABANDONED: EXPIRY}
    if request.param == "memory":
        memory = MemoryStore(expire_after=ttls)
        yield memory
        await memory.close()
    else:
        yield await redis_stores(expire_after=ttls)
