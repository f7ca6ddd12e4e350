"""What only the Redis store has to prove: atomicity across instances, the shared bus, reconnects."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

import pytest
from redis.asyncio import Redis

from handoff.adapters.store import Event, MemoryStore, RedisStore, open_store
from handoff.core.errors import UpstreamUnavailable
from handoff.core.model import (
    AgentId,
    AgentSnapshot,
    ConversationId,
    ConversationRecord,
    CustomerId,
    Presence,
    Priority,
    State,
)
from tests.handoff.adapters.store.conftest import REDIS_URL, delete_keys, wait_until

Factory = Callable[[], Awaitable[RedisStore]]


async def test_redis_store_assign_race_between_two_instances(redis_stores: Factory) -> None:
    first, second = await redis_stores(), await redis_stores()
    conversations = [ConversationId(f"c{n}") for n in range(50)]
    agents = [AgentId(f"a{n}") for n in range(10)]
    for n, conversation_id in enumerate(conversations):
        await first.create_conversation(ConversationRecord(conversation_id, CustomerId(f"u{n}")))
        await first.enqueue(conversation_id, {"queued_at": 1000.0 + n})
    for agent_id in agents:
        await second.upsert_agent(AgentSnapshot(agent_id, capacity=2))
    attempts = [(store, c, a) for c in conversations for a in agents for store in (first, second)]
    random.Random(7).shuffle(attempts)

    won = await asyncio.gather(*(store.assign(c, a, 2000.0 + i) for i, (store, c, a) in enumerate(attempts)))

    winners = [(c, a) for (_, c, a), ok in zip(attempts, won, strict=True) if ok]
    assert len(winners) == 20  # 10 agents x capacity 2, every one filled
    assert len({c for c, _ in winners}) == len(winners)  # no conversation twice
    for agent in await first.agents():
        owned = await second.agent_conversations(agent.agent_id)
        assert agent.load == len(owned) == 2
        for conversation_id in owned:
            record = await first.get_conversation(conversation_id)
            assert record is not None and (record.state, record.agent_id) == (State.ASSIGNED, agent.agent_id)
    assert len(await second.queue()) == 30


async def test_redis_store_rate_counters_are_shared_and_expire(redis_stores: Factory, redis_prefix: str) -> None:
    one, other = await redis_stores(), await redis_stores()
    assert [await one.hit("open:1.2.3.4", 60.0, 30.0), await other.hit("open:1.2.3.4", 60.0, 31.0)] == [1, 2]
    client = Redis.from_url(REDIS_URL)
    try:
        ttl = await client.pttl(f"{redis_prefix}hits:open:1.2.3.4:0")
    finally:
        await client.aclose()
    assert 60_000 < ttl <= 120_000  # gone from Redis once its window has passed


async def test_redis_store_bus_crosses_instances(redis_stores: Factory) -> None:
    sender, receiver = await redis_stores(), await redis_stores()
    seen: list[Event] = []

    async def handler(event: Event) -> None:
        seen.append(event)

    subscription = await receiver.subscribe("conv.c1", handler)
    for n in range(5):
        await sender.publish("conv.c1", {"seq": n})
    await wait_until(lambda: len(seen) == 5)
    assert [e["seq"] for e in seen] == list(range(5))
    await subscription.close()
    await sender.publish("conv.c1", {"seq": 99})
    await asyncio.sleep(0.2)
    assert len(seen) == 5


async def test_redis_store_bus_resubscribes_after_connection_drop(
        redis_stores: Factory, redis_prefix: str, caplog: pytest.LogCaptureFixture) -> None:
    sender, receiver = await redis_stores(), await redis_stores()
    seen: list[Event] = []

    async def handler(event: Event) -> None:
        seen.append(event)

    subscription = await receiver.subscribe("agents", handler)
    admin = Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        with caplog.at_level(logging.WARNING, logger="handoff.adapters.store.redis_bus"):
            killed = 0
            for client in await admin.client_list(_type="pubsub"):
                if client["name"] == f"{redis_prefix}bus":
                    killed += await admin.execute_command("CLIENT", "KILL", "ID", client["id"])
            assert killed == 1
            # pub/sub is at-most-once: publish until the resubscribed reader sees one
            deadline = asyncio.get_running_loop().time() + 30
            while not seen and asyncio.get_running_loop().time() < deadline:
                await sender.publish("agents", {"after": "reconnect"})
                await asyncio.sleep(0.05)
        assert seen and seen[0] == {"after": "reconnect"}
        assert "Lost the Redis pub/sub connection" in caplog.text
    finally:
        await subscription.close()
        await admin.aclose()


async def test_open_store_picks_the_backend(redis_prefix: str) -> None:
    memory = await open_store(None)
    assert isinstance(memory, MemoryStore)
    await memory.close()
    store = await open_store(REDIS_URL, prefix=redis_prefix)
    try:
        assert isinstance(store, RedisStore)
        await store.upsert_agent(AgentSnapshot(AgentId("a1"), presence=Presence.AWAY))
        assert [a.agent_id for a in await store.agents()] == ["a1"]
        connection = await store._redis.connection_pool.get_connection()
        try:  # replies are parsed by hiredis (in C), as requirements/app.in asks
            assert "Hiredis" in type(connection._parser).__name__, type(connection._parser)
        finally:
            await store._redis.connection_pool.release(connection)
    finally:
        await store.close()
        await delete_keys(redis_prefix)


async def test_open_store_unreachable_redis_names_url_without_password() -> None:
    with pytest.raises(UpstreamUnavailable) as caught:
        await open_store("redis://:s3cret-pw@127.0.0.1:1/0")
    message = str(caught.value)
    assert "redis://:***@127.0.0.1:1/0" in message and "s3cret" not in message


async def test_redis_store_adopts_an_earlier_versions_queue(redis_prefix: str) -> None:
    """Conversations waiting in the per-priority queues of an earlier version are routed after an upgrade, in
    this version's order, and abandoned if their customer is gone."""
    from handoff.core.queue import QueueOrder

    client = Redis.from_url(REDIS_URL, decode_responses=True)
    order = QueueOrder(aging_seconds=300.0)
    try:
        for cid, priority, queued_at, extra in (("c_old_normal", 0, 100.0, {"customer_left_at": "150.0"}),
                                                ("c_old_urgent", 2, 300.0, {}), ("c_old_gone", 0, 50.0, {})):
            await client.hset(f"{redis_prefix}conv:{cid}", mapping={
                "conversation_id": cid, "customer_id": "u1", "priority": str(priority), "queued_at": repr(queued_at),
                "state": "resolved" if cid == "c_old_gone" else "queued", **extra})
            await client.zadd(f"{redis_prefix}queue:{priority}", {cid: queued_at})
        store = await open_store(REDIS_URL, redis_prefix)
        assert isinstance(store, RedisStore)
        try:
            assert await store.adopt_earlier_keys(order.rank, 400.0) == 2
            assert await store.queue() == [ConversationId("c_old_urgent"), ConversationId("c_old_normal")]
            assert (await store.queued())[0].rank == order.rank(Priority.URGENT, 300.0)
            assert await store.left_while_queued(200.0) == [ConversationId("c_old_normal")]
            assert not await client.exists(f"{redis_prefix}queue:0", f"{redis_prefix}queue:2")
            assert await store.adopt_earlier_keys(order.rank, 400.0) == 0  # a second instance: nothing left
        finally:
            await store.close()
    finally:
        await client.aclose()
        await delete_keys(redis_prefix)


async def test_the_service_gives_both_stores_its_live_record_ttls(redis_prefix: str) -> None:
    from handoff.service.wiring import live_ttls
    from handoff.settings import HandoffSettings

    ttls = live_ttls(HandoffSettings.from_env({"HANDOFF_ENDED_TTL": "600", "HANDOFF_IDLE_TTL": "60"}))
    assert ttls == {State.RESOLVED: 600.0, State.ABANDONED: 600.0, State.OFFLINE: 600.0, State.BOT: 60.0}
    store = await open_store(REDIS_URL, prefix=redis_prefix, expire_after=ttls)
    client = Redis.from_url(REDIS_URL)
    try:
        await store.create_conversation(ConversationRecord(ConversationId("c1"), CustomerId("u1")))
        assert 0 < await client.pttl(f"{redis_prefix}conv:c1") <= 60_000
        await store.update_conversation(ConversationId("c1"), [State.BOT], {"state": State.QUEUED, "queued_at": 1.0})
        assert await client.pttl(f"{redis_prefix}conv:c1") == -1  # queued: kept until it moves on
        await store.update_conversation(ConversationId("c1"), [State.QUEUED], {"state": State.ABANDONED})
        assert 60_000 < await client.pttl(f"{redis_prefix}conv:c1") <= 600_000
    finally:
        await client.aclose()
        await store.close()
        await delete_keys(redis_prefix)
