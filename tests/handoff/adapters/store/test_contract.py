"""The Store contract, run against MemoryStore and RedisStore alike (the ``store`` fixture)."""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import replace
from datetime import time

import pytest

from handoff.adapters.store import Event
from handoff.adapters.store.base import Handler
from handoff.core.errors import Conflict, StateConflict, UnknownConversation
from handoff.core.model import (
    AgentId,
    AgentSnapshot,
    ConversationId,
    ConversationRecord,
    CustomerId,
    CustomerProfile,
    Presence,
    Priority,
    ShiftWindow,
    State,
)
from handoff.core.queue import QueueOrder
from handoff.service.ports import Store
from tests.handoff.adapters.store.conftest import EXPIRY, wait_until

A, B = AgentId("ann"), AgentId("bob")


def cid(n: int) -> ConversationId:
    return ConversationId(f"c{n}")


async def new(store: Store, n: int, **fields: object) -> ConversationRecord:
    record = ConversationRecord(cid(n), CustomerId(f"u{n}"), created_at=1000.0 + n, **fields)  # type: ignore[arg-type]
    await store.create_conversation(record)
    return record


STRICT = QueueOrder(aging_seconds=math.inf)  # priority first, then age


async def queued(store: Store, n: int, queued_at: float, priority: Priority = Priority.NORMAL,
                 order: QueueOrder = STRICT) -> None:
    await new(store, n)
    await store.enqueue(cid(n), {"queued_at": queued_at, "priority": priority,
                                 "rank": order.rank(priority, queued_at)})


async def online(store: Store, agent_id: AgentId, capacity: int = 2, now: float = 500.0) -> None:
    await store.upsert_agent(AgentSnapshot(agent_id, presence=Presence.OFFLINE, capacity=capacity))
    await store.set_presence(agent_id, Presence.ONLINE, now)


class TestStoreContract:
    # conversations ---------------------------------------------------------------------------
    async def test_create_conversation_round_trips_every_field(self, store: Store) -> None:
        record = ConversationRecord(cid(1), CustomerId("u1"), channel="email", created_at=1.5, language="fr",
                                    priority=Priority.URGENT, tier=3, category="returns", excluded=frozenset({A, B}),
                                    requested_agent=B, customer_left_at=9.25, customer_name="Jo", customer_email="jo@x",
                                    profile=CustomerProfile(CustomerId("u1"), "fr", "vip", 12.5, B, 3),
                                    reasons=("complaint", "explicit_request"), rank=-598.5)
        await store.create_conversation(record)
        assert await store.get_conversation(cid(1)) == replace(record, version=1)
        assert await store.get_conversation(cid(2)) is None

    async def test_create_conversation_rejects_an_existing_id(self, store: Store) -> None:
        await new(store, 1)
        with pytest.raises(Conflict):
            await store.create_conversation(ConversationRecord(cid(1), CustomerId("other")))
        assert (await store.get_conversation(cid(1))) == ConversationRecord(cid(1), CustomerId("u1"), created_at=1001.0,
                                                                            version=1)

    async def test_update_conversation_applies_changes_when_state_expected(self, store: Store) -> None:
        await new(store, 1, category="orders")
        updated = await store.update_conversation(cid(1), [State.BOT], {"state": State.OFFLINE, "category": None,
                                                                        "ticket_id": 7, "excluded": {A}})
        assert (updated.state, updated.category, updated.ticket_id, updated.excluded) == (
            State.OFFLINE, None, 7, frozenset({A}))
        assert await store.get_conversation(cid(1)) == updated

    async def test_update_conversation_conflict_carries_current_state(self, store: Store) -> None:
        await new(store, 1)
        with pytest.raises(StateConflict) as caught:
            await store.update_conversation(cid(1), [State.QUEUED, State.ASSIGNED], {"state": State.RESOLVED})
        assert caught.value.current is State.BOT
        assert (await store.get_conversation(cid(1))).state is State.BOT  # type: ignore[union-attr]

    async def test_update_conversation_unknown_id_or_field(self, store: Store) -> None:
        with pytest.raises(UnknownConversation):
            await store.update_conversation(cid(9), [State.BOT], {"tier": 2})
        await new(store, 1)
        with pytest.raises(TypeError, match="colour"):
            await store.update_conversation(cid(1), [State.BOT], {"colour": "red"})

    async def test_update_conversation_out_of_queued_leaves_the_queue(self, store: Store) -> None:
        await queued(store, 1, 10.0)
        await queued(store, 2, 20.0)
        await store.update_conversation(cid(1), [State.QUEUED], {"state": State.ABANDONED})
        assert await store.queue() == [cid(2)]

    async def test_delete_conversation_forgets_it_and_its_indexes(self, store: Store) -> None:
        await online(store, A, capacity=1)
        await queued(store, 1, 10.0)
        await queued(store, 2, 20.0)
        await queued(store, 3, 30.0)
        assert await store.assign(cid(3), A, 40.0)
        await store.update_conversation(cid(2), [State.QUEUED], {"customer_left_at": 50.0})
        gone = await store.delete_conversation(cid(2))
        assert gone is not None and gone.conversation_id == cid(2)
        assert (await store.delete_conversation(cid(3)), await store.delete_conversation(cid(9))) != (None, None)
        assert await store.get_conversation(cid(2)) is None and await store.get_conversation(cid(3)) is None
        assert await store.queue() == [cid(1)] and await store.left_while_queued(100.0) == []
        assert (await store.get_agent(A)).load == 0  # type: ignore[union-attr]
        assert await store.expired_assignments(100.0) == [] and await store.agent_conversations(A) == []
        assert await store.delete_conversation(cid(9)) is None

    async def test_ended_and_idle_bot_records_expire_queued_and_assigned_never(self, expiring_store: Store) -> None:
        store = expiring_store
        await online(store, A)
        await new(store, 1)  # with the bot, nobody touches it
        await new(store, 2)  # with the bot, talking
        await queued(store, 3, 10.0)
        await queued(store, 4, 20.0)
        assert await store.assign(cid(4), A, 30.0)
        await new(store, 5)
        await store.update_conversation(cid(5), [State.BOT], {"state": State.RESOLVED})
        await new(store, 6)
        await store.update_conversation(cid(6), [State.BOT], {"state": State.RESOLVED})
        for step in range(3):
            await asyncio.sleep(EXPIRY / 2)
            await store.touch(cid(2))
            if step == 0:  # the customer came back to the resolved conversation: a write, so its TTL restarts
                await store.update_conversation(cid(6), [State.RESOLVED], {"state": State.BOT})
            else:
                await store.touch(cid(6))
        assert await store.get_conversation(cid(1)) is None and await store.get_conversation(cid(5)) is None
        for n in (2, 3, 4, 6):
            assert await store.get_conversation(cid(n)) is not None, n
        assert await store.queue() == [cid(3)] and await store.agent_conversations(A) == [cid(4)]
        with pytest.raises(UnknownConversation):
            await store.update_conversation(cid(1), [State.BOT], {"tier": 2})
        await store.create_conversation(ConversationRecord(cid(1), CustomerId("u1")))  # its id is free again

    async def test_every_write_raises_the_version(self, store: Store) -> None:
        await online(store, A)
        await new(store, 1)
        versions = [(await store.get_conversation(cid(1))).version]  # type: ignore[union-attr]
        for write in (store.update_conversation(cid(1), [State.BOT], {"tier": 2}),
                      store.enqueue(cid(1), {"queued_at": 5.0}), store.assign(cid(1), A, 6.0),
                      store.mark_answered(cid(1), A), store.release(cid(1), A, State.RESOLVED, 7.0, {})):
            await write
            versions.append((await store.get_conversation(cid(1))).version)  # type: ignore[union-attr]
        assert versions == [1, 2, 3, 4, 5, 6]

    # the hold queue ----------------------------------------------------------------------------
    async def test_enqueue_orders_by_priority_then_age(self, store: Store) -> None:
        await queued(store, 1, 30.0)
        await queued(store, 2, 10.0)
        await queued(store, 3, 40.0, Priority.URGENT)
        await queued(store, 4, 20.0, Priority.HIGH)
        await queued(store, 5, 5.0, Priority.HIGH)
        assert await store.queue() == [cid(3), cid(5), cid(4), cid(2), cid(1)]

    async def test_queue_orders_by_rank_with_aging_then_id(self, store: Store) -> None:
        aging = QueueOrder(aging_seconds=300.0)
        await queued(store, 1, 1000.0, order=aging)  # waited 10 minutes more: ranks with an urgent newcomer
        await queued(store, 2, 1600.0, Priority.URGENT, order=aging)
        await queued(store, 3, 1500.0, Priority.HIGH, order=aging)
        await queued(store, 4, 1700.0, order=aging)
        assert await store.queue() == [cid(1), cid(2), cid(3), cid(4)]  # c1 and c2 tie: the older first
        records = await store.queued()
        assert [r.conversation_id for r in records] == await store.queue()
        assert aging.sort(records, now=2000.0) == records
        assert [await store.queue_position(cid(n)) for n in (1, 2, 3, 4)] == [1, 2, 3, 4]

    async def test_a_queued_record_always_has_a_rank(self, store: Store) -> None:
        await new(store, 1)
        record = await store.enqueue(cid(1), {"queued_at": 42.5})  # the caller gave none: its queued_at
        assert record.rank == 42.5 and (await store.queued())[0].rank == 42.5

    async def test_queued_from_a_rank(self, store: Store) -> None:
        for n in range(1, 6):
            await queued(store, n, 10.0 * n)
        assert [r.conversation_id for r in await store.queued(from_rank=30.0)] == [cid(3), cid(4), cid(5)]
        assert [r.conversation_id for r in await store.queued(1, 1, from_rank=25.0)] == [cid(4)]
        assert await store.queued(from_rank=99.0) == []

    async def test_queued_pages_and_positions(self, store: Store) -> None:
        for n in range(1, 8):
            await queued(store, n, 100.0 - n)  # the later n, the older
        page = await store.queued(2, 3)
        assert [r.conversation_id for r in page] == [cid(5), cid(4), cid(3)]
        assert all(r.state is State.QUEUED for r in page)
        assert await store.queued(7, 5) == [] and await store.queued(0, 0) == []
        assert [r.conversation_id for r in await store.queued(5)] == [cid(2), cid(1)]
        assert await store.queue_position(cid(7)) == 1 and await store.queue_position(cid(1)) == 7
        await store.update_conversation(cid(7), [State.QUEUED], {"state": State.ABANDONED})
        assert await store.queue_position(cid(7)) is None and await store.queue_position(cid(1)) == 6
        await new(store, 8)
        assert await store.queue_position(cid(8)) is None and await store.queue_position(cid(9)) is None

    async def test_left_while_queued_finds_only_the_long_gone(self, store: Store) -> None:
        for n in (1, 2, 3):
            await queued(store, n, 10.0 * n)
        await store.update_conversation(cid(1), list(State), {"customer_left_at": 50.0})
        await store.update_conversation(cid(2), list(State), {"customer_left_at": 80.0})
        assert await store.left_while_queued(60.0) == [cid(1)]
        await store.update_conversation(cid(1), list(State), {"customer_left_at": None})  # came back
        assert await store.left_while_queued(90.0) == [cid(2)]
        await store.update_conversation(cid(2), [State.QUEUED], {"state": State.ABANDONED})
        assert await store.left_while_queued(90.0) == []

    async def test_enqueue_refuses_a_conversation_already_queued(self, store: Store) -> None:
        # two escalations of one conversation: the second loses, and the queue keeps the first's place
        await queued(store, 1, 10.0)
        await queued(store, 2, 20.0)
        with pytest.raises(StateConflict) as caught:
            await store.enqueue(cid(2), {"priority": Priority.HIGH, "queued_at": 5.0})
        assert caught.value.current is State.QUEUED
        record = await store.get_conversation(cid(2))
        assert (record.queued_at, record.priority) == (20.0, Priority.NORMAL)
        assert await store.queue() == [cid(1), cid(2)]

    async def test_enqueue_without_queued_at_stamps_the_time(self, store: Store) -> None:
        await new(store, 1)
        record = await store.enqueue(cid(1), {})
        assert record.queued_at is not None and record.queued_at > 1.7e9

    async def test_enqueue_refuses_assigned_and_unknown(self, store: Store) -> None:
        await online(store, A)
        await queued(store, 1, 10.0)
        assert await store.assign(cid(1), A, 50.0)
        with pytest.raises(StateConflict) as caught:
            await store.enqueue(cid(1), {"queued_at": 60.0})
        assert caught.value.current is State.ASSIGNED
        with pytest.raises(UnknownConversation):
            await store.enqueue(cid(9), {})

    # assignment ----------------------------------------------------------------------------------
    async def test_assign_respects_capacity(self, store: Store) -> None:
        await online(store, A, capacity=2)
        for n in (1, 2, 3):
            await queued(store, n, 10.0 * n)
        assert await store.assign(cid(1), A, 100.0)
        assert await store.assign(cid(2), A, 101.0)
        assert not await store.assign(cid(3), A, 102.0)
        assert (await store.get_agent(A)).load == 2  # type: ignore[union-attr]
        assert await store.agent_conversations(A) == [cid(1), cid(2)]
        assert await store.queue() == [cid(3)]
        record = await store.get_conversation(cid(2))
        assert record is not None
        assert (record.state, record.agent_id, record.assigned_at, record.answered) == (State.ASSIGNED, A, 101.0, False)

    async def test_assign_requires_online_agent_and_queued_conversation(self, store: Store) -> None:
        await store.upsert_agent(AgentSnapshot(A, presence=Presence.AWAY))
        await online(store, B)
        await queued(store, 1, 10.0)
        await new(store, 2)
        assert not await store.assign(cid(1), A, 100.0)
        assert not await store.assign(cid(1), AgentId("nobody"), 100.0)
        assert not await store.assign(cid(2), B, 100.0)
        assert not await store.assign(cid(9), B, 100.0)
        assert await store.assign(cid(1), B, 100.0)
        assert not await store.assign(cid(1), B, 101.0)  # already taken
        assert (await store.get_agent(A)).load == 0  # type: ignore[union-attr]

    async def test_agent_conversations_oldest_assignment_first(self, store: Store) -> None:
        await online(store, A, capacity=3)
        for n in (1, 2, 3):
            await queued(store, n, 10.0)
        for n, at in ((2, 100.0), (3, 101.0), (1, 102.0)):
            assert await store.assign(cid(n), A, at)
        assert await store.agent_conversations(A) == [cid(2), cid(3), cid(1)]

    async def test_release_back_to_queue_keeps_queued_at(self, store: Store) -> None:
        await online(store, A)
        await queued(store, 1, 10.0)
        await queued(store, 2, 20.0)
        assert await store.assign(cid(1), A, 100.0)
        record = await store.release(cid(1), A, State.QUEUED, 150.0, {"excluded": frozenset({A})})
        assert record is not None
        assert (record.state, record.queued_at, record.agent_id, record.excluded) == (
            State.QUEUED, 10.0, None, frozenset({A}))
        assert await store.queue() == [cid(1), cid(2)]
        agent = await store.get_agent(A)
        assert agent is not None and (agent.load, agent.idle_since) == (0, 150.0)
        assert await store.agent_conversations(A) == []

    async def test_release_only_by_the_assigned_agent(self, store: Store) -> None:
        await online(store, A)
        await online(store, B)
        await queued(store, 1, 10.0)
        assert await store.assign(cid(1), A, 100.0)
        assert await store.release(cid(1), B, State.BOT, 110.0, {}) is None
        resolved = await store.release(cid(1), A, State.RESOLVED, 120.0, {})
        assert resolved is not None and resolved.state is State.RESOLVED
        assert await store.release(cid(1), A, State.RESOLVED, 121.0, {}) is None
        assert await store.queue() == []
        with pytest.raises(ValueError, match="assigned"):
            await store.release(cid(1), A, State.ASSIGNED, 122.0, {})

    async def test_release_keeps_idle_since_while_agent_still_busy(self, store: Store) -> None:
        await online(store, A, now=5.0)
        for n in (1, 2):
            await queued(store, n, 10.0)
            assert await store.assign(cid(n), A, 100.0 + n)
        await store.release(cid(1), A, State.BOT, 200.0, {})
        agent = await store.get_agent(A)
        assert agent is not None and (agent.load, agent.idle_since) == (1, 5.0)

    async def test_expired_assignments_are_unanswered_and_old(self, store: Store) -> None:
        await online(store, A, capacity=3)
        for n, at in ((1, 100.0), (2, 200.0), (3, 300.0)):
            await queued(store, n, 10.0)
            assert await store.assign(cid(n), A, at)
        await store.mark_answered(cid(1), A)
        await store.mark_answered(cid(2), B)  # not B's: ignored
        assert await store.expired_assignments(300.0) == [(cid(2), A)]
        assert await store.expired_assignments(301.0) == [(cid(2), A), (cid(3), A)]
        assert (await store.get_conversation(cid(1))).answered  # type: ignore[union-attr]

    async def test_left_while_queued_only_queued_and_before(self, store: Store) -> None:
        await online(store, A)
        for n in (1, 2, 3, 4):
            await queued(store, n, 10.0 * n)
        await store.update_conversation(cid(1), [State.QUEUED], {"customer_left_at": 50.0})
        await store.update_conversation(cid(2), [State.QUEUED], {"customer_left_at": 80.0})
        await store.update_conversation(cid(3), [State.QUEUED], {"customer_left_at": 40.0})
        assert await store.assign(cid(3), A, 60.0)
        assert await store.left_while_queued(60.0) == [cid(1)]

    # agents --------------------------------------------------------------------------------
    async def test_upsert_agent_keeps_presence_and_idle_since(self, store: Store) -> None:
        shift = (ShiftWindow(0, time(9), time(17, 30)), ShiftWindow(4, time(8, 15, 5), time(12)))
        await store.upsert_agent(AgentSnapshot(A, presence=Presence.AWAY, idle_since=3.0))
        await store.upsert_agent(AgentSnapshot(A, presence=Presence.ONLINE, capacity=5, tiers=frozenset({1, 3}),
                                               languages=frozenset({"en", "de"}), skills=frozenset({"orders"}),
                                               idle_since=99.0, shift=shift, timezone="Europe/Berlin", load=4))
        assert await store.get_agent(A) == AgentSnapshot(
            A, presence=Presence.AWAY, capacity=5, tiers=frozenset({1, 3}), languages=frozenset({"en", "de"}),
            skills=frozenset({"orders"}), idle_since=3.0, shift=shift, timezone="Europe/Berlin", load=0)
        assert await store.get_agent(B) is None

    async def test_set_presence_online_sets_idle_since(self, store: Store) -> None:
        await store.upsert_agent(AgentSnapshot(A, presence=Presence.OFFLINE, capacity=4))
        await store.set_presence(A, Presence.ONLINE, 42.0)
        await store.set_presence(A, Presence.ONLINE, 50.0)  # already online: unchanged
        agent = await store.get_agent(A)
        assert agent is not None and (agent.presence, agent.idle_since, agent.capacity) == (Presence.ONLINE, 42.0, 4)
        await store.set_presence(B, Presence.AWAY, 7.0)  # unknown agent: recorded with defaults
        assert await store.agents() == [agent, AgentSnapshot(B, presence=Presence.AWAY, idle_since=7.0)]

    # handle times ----------------------------------------------------------------------------
    async def test_average_handle_time_over_a_bounded_window(self, store: Store) -> None:
        assert await store.average_handle_time(60.0) == 60.0
        await store.record_handle_time(100.0)
        await store.record_handle_time(200.5)
        assert await store.average_handle_time(60.0) == 150.25
        for _ in range(100):
            await store.record_handle_time(10.0)
        assert await store.average_handle_time(60.0) == 10.0

    # abuse limits ------------------------------------------------------------------------------
    async def test_hit_counts_per_key_within_a_window(self, store: Store) -> None:
        assert [await store.hit("open:10.0.0.1", 60.0, 120.0 + t) for t in (0, 1, 59.5)] == [1, 2, 3]
        assert await store.hit("open:10.0.0.2", 60.0, 130.0) == 1  # another key, its own counter
        assert await store.hit("open:10.0.0.1", 60.0, 180.0) == 1  # the next window starts again
        assert await store.hit("open:10.0.0.1", 60.0, 181.0) == 2

    async def test_hit_counters_of_different_windows_do_not_disturb_each_other(self, store: Store) -> None:
        assert await store.hit("message:a", 60.0, 600.0) == 1
        for second in range(600, 700, 7):  # typing throttles count by the second meanwhile
            await store.hit(f"typing:{second}", 1.0, float(second))
            if second < 660:
                assert await store.hit("message:a", 60.0, float(second) + 0.5) == 2 + (second - 600) // 7

    async def test_hit_is_one_counter_for_every_caller(self, store: Store) -> None:
        counts = await asyncio.gather(*(store.hit("message:k", 10.0, 5.0) for _ in range(20)))
        assert sorted(counts) == list(range(1, 21))

    # sessions ----------------------------------------------------------------------------------
    async def test_sessions_put_get_delete(self, store: Store) -> None:
        data = {"customer_id": "u1", "scopes": ["chat"], "n": 3}
        await store.put_session("t1", data, 60.0)
        assert await store.get_session("t1") == data
        assert await store.get_session("t2") is None
        await store.delete_session("t1")
        assert await store.get_session("t1") is None

    async def test_agents_unseen_since_their_last_sign_of_life(self, store: Store) -> None:
        await store.agent_seen(AgentId("a1"), 100.0)
        await store.agent_seen(AgentId("a2"), 100.0)
        await store.agent_seen(AgentId("a2"), 150.0)  # a ping renews it
        assert await store.agents_unseen(120.0) == ["a1"]
        assert await store.agents_unseen(100.0) == []
        await store.agent_seen(AgentId("a1"), None)  # forgotten: nobody waits for them
        assert await store.agents_unseen(1000.0) == ["a2"]

    # claims ------------------------------------------------------------------------------------
    async def test_a_claim_goes_to_the_first_caller_until_it_lapses(self, store: Store) -> None:
        assert await store.claim("replay:1", 0.2) and await store.claim("forever", 0)
        assert not await store.claim("replay:1", 0.2) and not await store.claim("forever", 0)
        assert await store.claim("replay:2", 0.2)
        await asyncio.sleep(0.3)
        assert await store.claim("replay:1", 0.2)
        assert not await store.claim("forever", 0)

    async def test_a_lease_is_its_holders_while_renewed_then_anyones(self, store: Store) -> None:
        assert await store.lease("alerts", "one", 0.3)
        assert not await store.lease("alerts", "two", 0.3)
        await asyncio.sleep(0.2)
        assert await store.lease("alerts", "one", 0.3)  # renewed: from now
        await asyncio.sleep(0.2)
        assert not await store.lease("alerts", "two", 0.3)
        assert await store.lease("other", "two", 0.3)  # leases are independent
        await asyncio.sleep(0.4)
        assert await store.lease("alerts", "two", 0.3)  # lapsed: the next taker has it
        assert not await store.lease("alerts", "one", 0.3)

    async def test_racing_instances_one_takes_a_free_lease(self, store: Store) -> None:
        won = await asyncio.gather(*(store.lease("alerts", f"instance-{n}", 5.0) for n in range(8)))
        assert sum(won) == 1

    async def test_sessions_expire(self, store: Store) -> None:
        await store.put_session("short", {"a": 1}, 0.2)
        await store.put_session("long", {"a": 2}, 60.0)
        await store.put_session("none", {"a": 3}, 0)
        await asyncio.sleep(0.4)
        assert await store.get_session("short") is None
        assert await store.get_session("none") is None
        assert await store.get_session("long") == {"a": 2}

    async def test_end_sessions_deletes_every_session_of_one_owner(self, store: Store) -> None:
        await store.put_session("a1", {"n": 1}, 60.0, owner="ann")
        await store.put_session("a2", {"n": 2}, 60.0, owner="ann")
        await store.put_session("b1", {"n": 3}, 60.0, owner="bob")
        await store.put_session("x", {"n": 4}, 60.0)
        await store.delete_session("a2")
        assert await store.end_sessions("ann") == 1
        assert (await store.get_session("a1"), await store.get_session("a2")) == (None, None)
        assert (await store.get_session("b1"), await store.get_session("x")) == ({"n": 3}, {"n": 4})
        assert await store.end_sessions("ann") == 0
        assert await store.end_sessions("nobody") == 0
        await store.put_session("a3", {"n": 5}, 60.0, owner="ann")  # a new session after the end works
        assert await store.get_session("a3") == {"n": 5}

    # failures in a row ---------------------------------------------------------------------------
    async def test_failures_count_in_a_row_until_they_lapse_or_are_cleared(self, store: Store) -> None:
        assert await store.failures("k") == (0, 0.0)
        assert [await store.add_failure("k", 100.0 + i, 60.0) for i in range(3)] == [1, 2, 3]
        assert await store.failures("k") == (3, 102.0)
        assert await store.add_failure("other", 102.5, 60.0) == 1
        assert await store.add_failure("k", 162.0, 60.0) == 4  # 60 s after the last: still in a row
        assert await store.add_failure("k", 222.5, 60.0) == 1  # more than 60 s after: starts again
        await store.clear_failures("k")
        assert await store.failures("k") == (0, 0.0)
        assert await store.failures("other") == (1, 102.5)

    async def test_failures_count_every_one_when_they_come_at_once(self, store: Store) -> None:
        counts = await asyncio.gather(*(store.add_failure("k", 100.0, 60.0) for _ in range(20)))
        assert sorted(counts) == list(range(1, 21))

    # the bus -------------------------------------------------------------------------------
    async def test_bus_delivers_in_publication_order(self, store: Store) -> None:
        seen: list[Event] = []

        async def handler(event: Event) -> None:
            seen.append(event)

        subscription = await store.subscribe("conv.c1", handler)
        for n in range(20):
            await store.publish("conv.c1", {"seq": n, "text": "hé"})
        await store.publish("conv.c2", {"seq": -1})
        await wait_until(lambda: len(seen) == 20)
        assert [e["seq"] for e in seen] == list(range(20)) and seen[0]["text"] == "hé"
        await subscription.close()

    async def test_bus_publish_all_delivers_each_in_order(self, store: Store) -> None:
        seen: list[tuple[str, Event]] = []

        async def on(channel: str) -> Handler:
            async def handler(event: Event) -> None:
                seen.append((channel, event))
            return handler

        subscriptions = [await store.subscribe(channel, await on(channel)) for channel in ("conv.c1", "agent.a1")]
        await store.publish_all([("conv.c1", {"n": 1}), ("agent.a1", {"n": 2}), ("conv.c1", {"n": 3})])
        await wait_until(lambda: len(seen) == 3)
        assert [event["n"] for channel, event in seen if channel == "conv.c1"] == [1, 3]
        assert ("agent.a1", {"n": 2}) in seen
        for subscription in subscriptions:
            await subscription.close()

    async def test_bus_unsubscribe_stops_delivery(self, store: Store) -> None:
        first: list[Event] = []
        second: list[Event] = []

        async def one(event: Event) -> None:
            first.append(event)

        async def two(event: Event) -> None:
            second.append(event)

        sub_one = await store.subscribe("agents", one)
        sub_two = await store.subscribe("agents", two)
        await store.publish("agents", {"n": 1})
        await wait_until(lambda: len(first) == len(second) == 1)
        await sub_one.close()
        await sub_one.close()
        await store.publish("agents", {"n": 2})
        await wait_until(lambda: len(second) == 2)
        await sub_two.close()
        await store.publish("agents", {"n": 3})
        await asyncio.sleep(0.1)
        assert (first, second) == ([{"n": 1}], [{"n": 1}, {"n": 2}])

    async def test_bus_failing_or_slow_handler_does_not_block_others(
            self, store: Store, caplog: pytest.LogCaptureFixture) -> None:
        gate = asyncio.Event()
        fine: list[int] = []

        async def slow(event: Event) -> None:
            await gate.wait()

        async def failing(event: Event) -> None:
            event["mutated"] = True
            raise RuntimeError("handler bug")

        async def good(event: Event) -> None:
            fine.append(event["n"])
            assert "mutated" not in event

        subscriptions = [await store.subscribe("ch", h) for h in (slow, failing, good)]
        with caplog.at_level(logging.ERROR, logger="handoff.adapters.store.fanout"):
            for n in range(3):
                await store.publish("ch", {"n": n})
            await wait_until(lambda: fine == [0, 1, 2])
        assert "ch failed" in caplog.text
        gate.set()
        for subscription in subscriptions:
            await subscription.close()

    async def test_bus_idle_subscriptions_hold_no_task(self, store: Store) -> None:
        seen: list[Event] = []

        async def handler(event: Event) -> None:
            seen.append(event)

        first = await store.subscribe("idle.0", handler)  # the Redis bus starts its one reader here
        tasks = len(asyncio.all_tasks())
        subscriptions = [first] + [await store.subscribe(f"idle.{n}", handler) for n in range(1, 100)]
        assert len(asyncio.all_tasks()) == tasks  # ten thousand idle sockets must not mean ten thousand tasks
        await store.publish("idle.7", {"n": 7})
        await wait_until(lambda: seen == [{"n": 7}])
        await wait_until(lambda: len(asyncio.all_tasks()) == tasks)  # the delivery task ends with its work
        await store.publish("idle.7", {"n": 8})
        await wait_until(lambda: seen == [{"n": 7}, {"n": 8}])
        for subscription in subscriptions:
            await subscription.close()

    async def test_bus_rejects_events_json_cannot_carry(self, store: Store) -> None:
        with pytest.raises(TypeError):
            await store.publish("ch", {"when": object()})
