"""The production live-state store: several service instances sharing one Redis.

Keys (all under a configurable prefix, default ``handoff:``):

- ``conv:<id>``: a hash per conversation (fields encoded by :mod:`handoff.adapters.store.codec`);
- ``queue``: the hold queue, a sorted set scored by each record's ``rank`` (``queued_at`` if it
  has none): the service order, with equal scores in Redis' order by id, as in the memory
  store; a position is a ``ZRANK``, a page a ``ZRANGE``;
- ``left``: queued conversations whose customer has disconnected, scored by when, so the
  sweeper finds the abandoned ones without reading the queue;
- ``agents``: the set of agent ids; ``agent:<id>``: a hash of static fields, presence, idle_since;
- ``agent-convs:<id>``: the agent's assignments scored by ``assigned_at``; the agent's load is
  its size, so load and assignments cannot disagree;
- ``unanswered``: assigned, unanswered conversations scored by ``assigned_at``;
- ``ttl``: a hash from state to the milliseconds a record in it lives idle (``expire_after``; a state
  without one never expires): every write sets its record's TTL from it (``PEXPIRE``/``PERSIST``);
- ``hits:<key>:<window>``: a rate-limit counter, expiring after its window;
- ``agent-seen``: agents whose consoles are watched, scored by their last sign of life;
- ``session:<token>``: JSON with a TTL; ``sessions-of:<owner>``: the set of an owner's session keys (for
  ending them all at once), expiring with the newest; ``failures:<key>``: failures in a row and the last
  one's time (sign-in throttling), expiring once forgotten; ``handle-times``: a capped list;
- ``claim:<name>``: work done once across instances (:meth:`RedisStore.claim`);
- ``lease:<name>``: the holder of work one instance does for all, expiring unless renewed (:meth:`RedisStore.lease`);
- pub/sub channels ``bus:<channel>`` (see :mod:`handoff.adapters.store.redis_bus`).

Every write to a conversation is a Lua script from ``scripts.lua`` (registered once),
which applies the change and updates the indexes in the same atomic step, so capacity
and single ownership hold when instances race. redis-py retries a command after a dropped
connection; ``assign`` is idempotent for the same (agent, now), so a retried call cannot
report a race it actually won (a retried ``release`` returns None: already released).
Commands that still fail raise :class:`handoff.core.errors.UpstreamUnavailable`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
from collections.abc import Callable, Collection, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from redis.asyncio import BlockingConnectionPool, Redis
from redis.commands.core import AsyncScript

from handoff.adapters.store.base import Event, Handler, Subscription
from handoff.adapters.store.codec import (
    CONVERSATION_FIELDS,
    decode_agent,
    decode_conversation,
    dump_json,
    encode_agent,
    encode_changes,
    load_json,
)
from handoff.adapters.store.memory import HANDLE_TIME_WINDOW
from handoff.adapters.store.redis_bus import RECOVERABLE_ERRORS, RedisBus
from handoff.adapters.store.release import release_changes, release_target
from handoff.core.errors import Conflict, StateConflict, UnknownConversation, UpstreamUnavailable
from handoff.core.model import (
    AgentId,
    AgentSnapshot,
    ConversationId,
    ConversationRecord,
    Presence,
    Priority,
    State,
)

P = ParamSpec("P")
R = TypeVar("R")


def _load_scripts() -> dict[str, str]:
    """Split ``scripts.lua`` at its ``-- @prelude`` / ``-- @script <name>`` lines into ``{name: prelude + body}``."""
    sections: dict[str, str] = {}
    for section in (Path(__file__).parent / "scripts.lua").read_text().split("\n-- @")[1:]:
        title, body = section.split("\n", 1)
        sections[title.removeprefix("script ").strip()] = body
    prelude = sections.pop("prelude")
    return {name: prelude + body for name, body in sections.items()}


SCRIPTS = _load_scripts()


def _pairs(changes: Mapping[str, Any]) -> list[str]:
    """Conversation changes in the scripts' ``n, field, value..., m, deleted...`` form."""
    sets, deletes = encode_changes(CONVERSATION_FIELDS, changes)
    return [str(len(sets)), *(x for item in sets.items() for x in item), str(len(deletes)), *deletes]


def _hash(flat: list[str]) -> dict[str, str]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _upstream(method: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R]]:
    """Turn a lost Redis connection into :class:`UpstreamUnavailable`."""
    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(*args, **kwargs)
        except RECOVERABLE_ERRORS as exc:
            raise UpstreamUnavailable("The live-state store (Redis) does not answer; try again shortly.") from exc
    return wrapper


class RedisStore:
    """The :class:`~handoff.service.ports.Store` on Redis; see the module docstring for the key layout."""

    def __init__(self, url: str, prefix: str = "handoff:", handle_time_window: int = HANDLE_TIME_WINDOW,
                 max_connections: int = 50, expire_after: Mapping[State, float] | None = None) -> None:
        self.prefix = prefix
        # milliseconds to live by state, for the scripts (kept in Redis: one policy for every instance)
        self._ttls = {State(state).value: str(max(int(ttl * 1000), 1)) for state, ttl in (expire_after or {}).items()}
        self._ttls_written = False
        # a blocking pool: a burst of calls waits for a free connection instead of failing
        pool = BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=20,
                                               decode_responses=True, socket_connect_timeout=5.0)
        self._redis: Redis = Redis.from_pool(pool)
        self._scripts: dict[str, AsyncScript] = {name: self._redis.register_script(source)
                                                 for name, source in SCRIPTS.items()}
        self._window = handle_time_window
        self._bus = RedisBus(url, prefix, self._redis)

    async def ping(self) -> None:
        """Raise a ``redis`` connection error if Redis does not answer."""
        await self._redis.ping()

    @_upstream
    async def adopt_earlier_keys(self, rank: Callable[[Priority, float], float], now: float) -> int:
        """Put the conversations an earlier version queued into this version's queue; return how many.

        Before the queue was one sorted set by rank it was one per priority (``queue:<0|1|2>``, scored by
        ``queued_at``). Each conversation still queued there gets its rank (``rank(priority, queued_at)``)
        through an ordinary write, which files it in the queue and, if its customer left, in ``left``; then
        the old sets go. Safe to run on several instances at once (they write the same rank). Upgrade with
        every instance stopped: an instance of the earlier version still running keeps writing the old keys.
        """
        adopted = 0
        for priority in Priority:
            old = self._key("queue", str(int(priority)))
            members: list[str] = await self._redis.zrange(old, 0, -1)  # type: ignore[assignment]
            for conversation_id in members:
                record = await self.get_conversation(ConversationId(conversation_id))
                if record is None or record.state is not State.QUEUED:
                    continue
                with contextlib.suppress(StateConflict):
                    await self.update_conversation(record.conversation_id, [State.QUEUED], {
                        "rank": rank(record.priority, record.queued_at if record.queued_at is not None else now)})
                    adopted += 1
            await self._redis.delete(old)
        return adopted

    def _key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    async def _run(self, script: str, keys: list[str], *args: str) -> Any:
        if not self._ttls_written:  # once per process, before its first write: the scripts read it
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(self._key("ttl"))
                if self._ttls:
                    pipe.hset(self._key("ttl"), mapping=self._ttls)  # type: ignore[arg-type]
                await pipe.execute()
            self._ttls_written = True
        return await self._scripts[script](keys=keys, args=[self.prefix, *args])

    # conversations -------------------------------------------------------------------------
    @_upstream
    async def create_conversation(self, record: ConversationRecord) -> None:
        cid = record.conversation_id
        values = {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
        if not await self._run("create", [self._key("conv", cid)], cid, *_pairs(values)):
            raise Conflict(f"A conversation with the id {cid} already exists.")

    @_upstream
    async def get_conversation(self, conversation_id: ConversationId) -> ConversationRecord | None:
        data: dict[str, str] = await self._redis.hgetall(self._key("conv", conversation_id))  # type: ignore[assignment]
        return decode_conversation(data) if data else None

    def _outcome(self, conversation_id: ConversationId, reply: list[Any]) -> ConversationRecord:
        if reply[0] == "missing":
            raise UnknownConversation(f"No conversation has the id {conversation_id}.")
        if reply[0] == "conflict":
            current = State(reply[1])
            raise StateConflict(f"Conversation {conversation_id} is {current.value}.", current)
        return decode_conversation(_hash(reply[1]))

    @_upstream
    async def update_conversation(self, conversation_id: ConversationId, expected: Collection[State],
                                  changes: Mapping[str, Any]) -> ConversationRecord:
        states = [State(s).value for s in expected]
        reply = await self._run("update", [self._key("conv", conversation_id)], conversation_id,
                                str(len(states)), *states, *_pairs(changes))
        return self._outcome(conversation_id, reply)

    @_upstream
    async def touch(self, conversation_id: ConversationId) -> None:
        await self._run("touch", [self._key("conv", conversation_id)], conversation_id)

    @_upstream
    async def delete_conversation(self, conversation_id: ConversationId) -> ConversationRecord | None:
        flat = await self._run("delete", [self._key("conv", conversation_id)], conversation_id)
        return decode_conversation(_hash(flat)) if flat else None

    # agents --------------------------------------------------------------------------------
    @_upstream
    async def upsert_agent(self, agent: AgentSnapshot) -> None:
        static, live = encode_agent(agent)
        key = self._key("agent", agent.agent_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=dict(static))  # type: ignore[arg-type]
            for name, value in live.items():
                pipe.hsetnx(key, name, value)
            pipe.sadd(self._key("agents"), agent.agent_id)
            await pipe.execute()

    @_upstream
    async def set_presence(self, agent_id: AgentId, presence: Presence, now: float) -> None:
        static, live = encode_agent(AgentSnapshot(agent_id, presence=Presence.OFFLINE, idle_since=now))
        defaults = {**static, **live}
        await self._run("presence", [self._key("agent", agent_id)], agent_id, Presence(presence).value,
                        repr(float(now)), str(len(defaults)), *(x for item in defaults.items() for x in item))

    async def _agents(self, agent_ids: list[str]) -> list[AgentSnapshot]:
        async with self._redis.pipeline(transaction=True) as pipe:
            for agent_id in agent_ids:
                pipe.hgetall(self._key("agent", agent_id))
                pipe.zcard(self._key("agent-convs", agent_id))
            replies = await pipe.execute()
        return [decode_agent(AgentId(agent_id), data, load)
                for agent_id, data, load in zip(agent_ids, replies[::2], replies[1::2], strict=True) if data]

    @_upstream
    async def get_agent(self, agent_id: AgentId) -> AgentSnapshot | None:
        found = await self._agents([agent_id])
        return found[0] if found else None

    @_upstream
    async def agents(self) -> list[AgentSnapshot]:
        ids: set[str] = await self._redis.smembers(self._key("agents"))  # type: ignore[assignment]
        return await self._agents(sorted(ids))

    @_upstream
    async def agent_conversations(self, agent_id: AgentId) -> list[ConversationId]:
        ids: list[str] = await self._redis.zrange(self._key("agent-convs", agent_id), 0, -1)  # type: ignore[assignment]
        return [ConversationId(c) for c in ids]

    @_upstream
    async def agent_seen(self, agent_id: AgentId, now: float | None) -> None:
        if now is None:
            await self._redis.zrem(self._key("agent-seen"), agent_id)
        else:
            await self._redis.zadd(self._key("agent-seen"), {agent_id: float(now)})

    @_upstream
    async def agents_unseen(self, seen_before: float) -> list[AgentId]:
        ids: list[str] = await self._redis.zrangebyscore(  # type: ignore[assignment]
            self._key("agent-seen"), "-inf", f"({float(seen_before)!r}")
        return [AgentId(agent) for agent in ids]

    # the hold queue and assignment -----------------------------------------------------------
    @_upstream
    async def enqueue(self, conversation_id: ConversationId, changes: Mapping[str, Any]) -> ConversationRecord:
        reply = await self._run("enqueue", [self._key("conv", conversation_id)], conversation_id,
                                *_pairs({**changes, "state": State.QUEUED}))
        return self._outcome(conversation_id, reply)

    @_upstream
    async def queue(self) -> list[ConversationId]:
        ids: list[str] = await self._redis.zrange(self._key("queue"), 0, -1)  # type: ignore[assignment]
        return [ConversationId(c) for c in ids]

    @_upstream
    async def queued(self, offset: int = 0, limit: int | None = None,
                     from_rank: float | None = None) -> list[ConversationRecord]:
        if limit is not None and limit <= 0:
            return []
        lowest = "-inf" if from_rank is None else repr(float(from_rank))
        rows = await self._scripts["queued"](keys=[self._key("queue")], args=[
            self.prefix, str(offset), str(-1 if limit is None else limit), lowest])
        return [decode_conversation(_hash(row)) for row in rows if row]

    @_upstream
    async def queue_position(self, conversation_id: ConversationId) -> int | None:
        rank: int | None = await self._redis.zrank(self._key("queue"), conversation_id)  # type: ignore[assignment]
        return None if rank is None else rank + 1

    @_upstream
    async def assign(self, conversation_id: ConversationId, agent_id: AgentId, now: float) -> bool:
        keys = [self._key("conv", conversation_id), self._key("agent", agent_id)]
        return bool(await self._run("assign", keys, conversation_id, agent_id, repr(float(now))))

    @_upstream
    async def mark_answered(self, conversation_id: ConversationId, agent_id: AgentId) -> None:
        await self._run("answered", [self._key("conv", conversation_id)], conversation_id, agent_id)

    @_upstream
    async def release(self, conversation_id: ConversationId, agent_id: AgentId, to: State, now: float,
                      changes: Mapping[str, Any]) -> ConversationRecord | None:
        keys = [self._key("conv", conversation_id), self._key("agent", agent_id)]
        reply = await self._run("release", keys, conversation_id, agent_id, repr(float(now)),
                                *_pairs(release_changes(release_target(to), changes)))
        return decode_conversation(_hash(reply)) if reply else None

    async def _fields(self, ids: list[str], *names: str) -> list[list[str | None]]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for cid in ids:
                pipe.hmget(self._key("conv", cid), list(names))
            replies: list[list[str | None]] = await pipe.execute()
        return replies

    @_upstream
    async def expired_assignments(self, assigned_before: float) -> list[tuple[ConversationId, AgentId]]:
        ids: list[str] = await self._redis.zrangebyscore(  # type: ignore[assignment]
            self._key("unanswered"), "-inf", f"({float(assigned_before)!r}")
        rows = await self._fields(ids, "state", "agent_id", "answered")
        return [(ConversationId(cid), AgentId(agent)) for cid, (state, agent, answered) in zip(ids, rows, strict=True)
                if state == State.ASSIGNED.value and agent is not None and answered != "1"]

    @_upstream
    async def left_while_queued(self, left_before: float) -> list[ConversationId]:
        ids: list[str] = await self._redis.zrangebyscore(  # type: ignore[assignment]
            self._key("left"), "-inf", f"({float(left_before)!r}")
        return [ConversationId(cid) for cid in ids]

    # handle-time statistics ------------------------------------------------------------------
    @_upstream
    async def record_handle_time(self, seconds: float) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.lpush(self._key("handle-times"), repr(float(seconds)))
            pipe.ltrim(self._key("handle-times"), 0, self._window - 1)
            await pipe.execute()

    @_upstream
    async def average_handle_time(self, default: float) -> float:
        values = [float(v) for v in await self._redis.lrange(self._key("handle-times"), 0, -1)]
        return sum(values) / len(values) if values else default

    # abuse limits ----------------------------------------------------------------------------
    @_upstream
    async def hit(self, key: str, window: float, now: float) -> int:
        number = math.floor(now / window)
        counter = self._key("hits", key, str(number))
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(counter)
            pipe.pexpire(counter, max(int(window * 2000), 1000))  # Redis forgets it once the window has passed
            count, _ = await pipe.execute()
        return int(count)

    # sessions --------------------------------------------------------------------------------
    @_upstream
    async def put_session(self, token: str, data: Mapping[str, Any], ttl: float, owner: str | None = None) -> None:
        key, milliseconds = self._key("session", token), int(ttl * 1000)
        if milliseconds <= 0:
            await self._redis.delete(key)
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(key, dump_json(data), px=milliseconds)
            if owner is not None:  # sessions share one time to live: the set lives as long as the newest
                pipe.sadd(self._key("sessions-of", owner), key)
                pipe.pexpire(self._key("sessions-of", owner), milliseconds)
            await pipe.execute()

    @_upstream
    async def get_session(self, token: str) -> dict[str, Any] | None:
        text: str | None = await self._redis.get(self._key("session", token))  # type: ignore[assignment]
        return None if text is None else load_json(text)

    @_upstream
    async def delete_session(self, token: str) -> None:
        await self._redis.delete(self._key("session", token))

    @_upstream
    async def end_sessions(self, owner: str) -> int:
        return int(await self._run("end_sessions", [self._key("sessions-of", owner)]))

    # failures in a row -----------------------------------------------------------------------
    @_upstream
    async def add_failure(self, key: str, now: float, forget_after: float) -> int:
        return int(await self._run("failure", [self._key("failures", key)], repr(float(now)),
                                   repr(float(forget_after))))

    @_upstream
    async def failures(self, key: str) -> tuple[int, float]:
        count, last = await self._redis.hmget(self._key("failures", key), ["n", "last"])
        return (int(count), float(last)) if count is not None and last is not None else (0, 0.0)

    @_upstream
    async def clear_failures(self, key: str) -> None:
        await self._redis.delete(self._key("failures", key))
    # claims ------------------------------------------------------------------------------------
    @_upstream
    async def claim(self, name: str, ttl: float) -> bool:
        milliseconds = int(ttl * 1000)
        return bool(await self._redis.set(self._key("claim", name), "1", nx=True,
                                          px=milliseconds if milliseconds > 0 else None))

    @_upstream
    async def lease(self, name: str, holder: str, ttl: float) -> bool:
        return bool(await self._run("lease", [self._key("lease", name)], holder, str(max(1, int(ttl * 1000)))))

    # the bus -------------------------------------------------------------------------------
    @_upstream
    async def publish(self, channel: str, event: Event) -> None:
        await self._bus.publish(channel, event)

    @_upstream
    async def publish_all(self, events: Sequence[tuple[str, Event]]) -> None:
        await self._bus.publish_all(events)

    @_upstream
    async def subscribe(self, channel: str, handler: Handler) -> Subscription:
        return await self._bus.subscribe(channel, handler)

    async def close(self) -> None:
        await self._bus.close()
        await self._redis.aclose()

