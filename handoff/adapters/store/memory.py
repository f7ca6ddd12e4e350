"""The in-process live-state store of the embedded profile (one service process).

Plain dicts, held to the same contract as :class:`~handoff.adapters.store.redis.RedisStore`
(the same test class runs against both). Every read-modify-write runs without
an ``await`` in the middle, so on one event loop it is atomic by construction.
Changes go through :mod:`handoff.adapters.store.codec` as they would to Redis, so both
backends accept and return the same values. The indexes mirror the Redis
keys: the hold queue (conversations in state ``queued``, a list kept sorted by
``(rank, id)``, so a position is a binary search) and each agent's assignments
(conversations ``assigned`` to them); an agent's load is the size of its
assignments. Memory stays bounded for the handle-time window and for
expired sessions and lapsed failure counts (swept at most once a minute) and for conversations: a record
whose state has a time to live (``expire_after``: ended and bot-only ones) is forgotten once idle that long,
as Redis expires its key.
"""

from __future__ import annotations

import bisect
import math
import time
from collections import deque
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any

from handoff.adapters.store.base import Event, Handler, Subscription
from handoff.adapters.store.codec import (
    CONVERSATION_FIELDS,
    decode_agent,
    decode_conversation,
    dump_json,
    encode_agent,
    encode_changes,
    encode_conversation,
    load_json,
)
from handoff.adapters.store.fanout import Fanout
from handoff.adapters.store.release import release_changes, release_target
from handoff.core.errors import Conflict, StateConflict, UnknownConversation
from handoff.core.model import AgentId, AgentSnapshot, ConversationId, ConversationRecord, Presence, State

HANDLE_TIME_WINDOW = 100
"""How many recent handle times the average covers (both stores)."""


def queue_key(record: ConversationRecord) -> tuple[float, str]:
    """Where a queued record sorts: its rank, then its id, as Redis orders a sorted set."""
    return (record.rank or 0.0, record.conversation_id)


def _apply(record: ConversationRecord, changes: Mapping[str, Any]) -> ConversationRecord:
    """The record with ``changes`` applied through the codec, exactly as Redis would store them."""
    sets, deletes = encode_changes(CONVERSATION_FIELDS, changes)
    data = {**encode_conversation(record), **sets}
    for name in deletes:
        data.pop(name, None)
    return decode_conversation(data)


class MemoryStore:
    """The :class:`~handoff.adapters.store.base.Store` of one process; see the module docstring."""

    def __init__(self, handle_time_window: int = HANDLE_TIME_WINDOW,
                 expire_after: Mapping[State, float] | None = None) -> None:
        self._conversations: dict[ConversationId, ConversationRecord] = {}
        self._expire_after = {State(state): float(ttl) for state, ttl in (expire_after or {}).items()}
        self._expires: dict[ConversationId, float] = {}  # monotonic deadline of each record with a TTL
        self._next_expiry_sweep = 0.0
        self._queue: list[tuple[float, str]] = []  # queue_key of every queued conversation, sorted
        self._assigned: dict[AgentId, set[ConversationId]] = {}
        self._agents: dict[AgentId, AgentSnapshot] = {}
        self._seen: dict[AgentId, float] = {}
        self._handle_times: deque[float] = deque(maxlen=handle_time_window)
        self._sessions: dict[str, tuple[float, str, str | None]] = {}  # token -> (expires, data, owner)
        self._owners: dict[str, set[str]] = {}  # owner -> their sessions' tokens
        self._failures: dict[str, tuple[int, float, float]] = {}  # key -> (in a row, last, forget_after)
        self._hits: dict[str, tuple[int, float, int]] = {}  # key -> (window number, its end, hits in it)
        self._next_hits_sweep = 0.0
        self._claims: dict[str, float] = {}  # name -> when it lapses (monotonic; inf: never)
        self._leases: dict[str, tuple[str, float]] = {}  # name -> (holder, when it lapses: monotonic)
        self._next_sweep = 0.0
        self._next_failure_sweep = 0.0
        self._bus = Fanout()

    # conversations -------------------------------------------------------------------------
    def _write(self, new: ConversationRecord) -> ConversationRecord:
        """Store ``new`` (one version up) and keep the queue and assignment indexes in step with it."""
        cid = new.conversation_id
        old = self._conversations.get(cid)
        new = replace(new, version=(old.version if old is not None else 0) + 1)
        if new.state is State.QUEUED and new.rank is None:  # as in Redis: a queued record always has a rank
            new = replace(new, rank=new.queued_at or 0.0)
        if old is not None and old.state is State.QUEUED:
            del self._queue[bisect.bisect_left(self._queue, queue_key(old))]
        if old is not None and old.agent_id is not None:
            self._assigned.get(old.agent_id, set()).discard(cid)
        self._conversations[cid] = new
        if new.state is State.QUEUED:
            bisect.insort(self._queue, queue_key(new))
        if new.state is State.ASSIGNED and new.agent_id is not None:
            self._assigned.setdefault(new.agent_id, set()).add(cid)
        self._restart_ttl(new)
        return new

    def _restart_ttl(self, record: ConversationRecord) -> None:
        now = time.monotonic()
        ttl = self._expire_after.get(record.state)
        if ttl is None:
            self._expires.pop(record.conversation_id, None)
        else:
            self._expires[record.conversation_id] = now + ttl
        if now >= self._next_expiry_sweep:  # forget expired records, at most once a minute (bounded memory)
            self._next_expiry_sweep = now + 60.0
            for stale in [c for c, deadline in self._expires.items() if deadline <= now]:
                self._forget(stale)

    def _live(self, conversation_id: ConversationId) -> ConversationRecord | None:
        """The record, unless its time to live has passed (then it is forgotten now)."""
        deadline = self._expires.get(conversation_id)
        if deadline is not None and deadline <= time.monotonic():
            self._forget(conversation_id)
        return self._conversations.get(conversation_id)

    def _forget(self, conversation_id: ConversationId) -> ConversationRecord | None:
        old = self._conversations.pop(conversation_id, None)
        self._expires.pop(conversation_id, None)
        if old is not None and old.state is State.QUEUED:
            del self._queue[bisect.bisect_left(self._queue, queue_key(old))]
        if old is not None and old.agent_id is not None:
            self._assigned.get(old.agent_id, set()).discard(conversation_id)
        return old

    def _current(self, conversation_id: ConversationId) -> ConversationRecord:
        record = self._live(conversation_id)
        if record is None:
            raise UnknownConversation(f"No conversation has the id {conversation_id}.")
        return record

    async def create_conversation(self, record: ConversationRecord) -> None:
        if self._live(record.conversation_id) is not None:
            raise Conflict(f"A conversation with the id {record.conversation_id} already exists.")
        self._write(_apply(record, {}))

    async def get_conversation(self, conversation_id: ConversationId) -> ConversationRecord | None:
        return self._live(conversation_id)

    async def update_conversation(self, conversation_id: ConversationId, expected: Collection[State],
                                  changes: Mapping[str, Any]) -> ConversationRecord:
        record = self._current(conversation_id)
        if record.state not in {State(s) for s in expected}:
            raise StateConflict(f"Conversation {conversation_id} is {record.state.value}.", record.state)
        return self._write(_apply(record, changes))

    async def touch(self, conversation_id: ConversationId) -> None:
        record = self._live(conversation_id)
        if record is not None:
            self._restart_ttl(record)

    async def delete_conversation(self, conversation_id: ConversationId) -> ConversationRecord | None:
        self._live(conversation_id)
        return self._forget(conversation_id)

    # agents --------------------------------------------------------------------------------
    def _load(self, agent_id: AgentId) -> int:
        return len(self._assigned.get(agent_id, ()))

    async def upsert_agent(self, agent: AgentSnapshot) -> None:
        static, live = encode_agent(agent)
        known = self._agents.get(agent.agent_id)
        if known is not None:
            live = encode_agent(known)[1]
        self._agents[agent.agent_id] = decode_agent(agent.agent_id, {**static, **live}, 0)

    async def set_presence(self, agent_id: AgentId, presence: Presence, now: float) -> None:
        agent = self._agents.get(agent_id) or AgentSnapshot(agent_id, presence=Presence.OFFLINE, idle_since=now)
        presence = Presence(presence)
        idle_since = agent.idle_since
        if presence is Presence.ONLINE and agent.presence is not Presence.ONLINE and not self._load(agent_id):
            idle_since = now
        self._agents[agent_id] = replace(agent, presence=presence, idle_since=float(idle_since))

    async def get_agent(self, agent_id: AgentId) -> AgentSnapshot | None:
        agent = self._agents.get(agent_id)
        return None if agent is None else replace(agent, load=self._load(agent_id))

    async def agents(self) -> list[AgentSnapshot]:
        return [replace(self._agents[a], load=self._load(a)) for a in sorted(self._agents)]

    async def agent_conversations(self, agent_id: AgentId) -> list[ConversationId]:
        owned = [self._conversations[cid] for cid in self._assigned.get(agent_id, ())]
        return [r.conversation_id for r in sorted(owned, key=lambda r: (r.assigned_at or 0.0, r.conversation_id))]

    async def agent_seen(self, agent_id: AgentId, now: float | None) -> None:
        if now is None:
            self._seen.pop(agent_id, None)
        else:
            self._seen[agent_id] = float(now)

    async def agents_unseen(self, seen_before: float) -> list[AgentId]:
        return sorted(agent for agent, seen in self._seen.items() if seen < seen_before)

    # the hold queue and assignment -----------------------------------------------------------
    async def enqueue(self, conversation_id: ConversationId, changes: Mapping[str, Any]) -> ConversationRecord:
        record = self._current(conversation_id)
        if record.state is not State.BOT:
            raise StateConflict(f"Conversation {conversation_id} is {record.state.value}.", record.state)
        new = _apply(record, {**changes, "state": State.QUEUED})
        if new.queued_at is None:
            new = _apply(new, {"queued_at": time.time()})
        return self._write(new)

    async def queue(self) -> list[ConversationId]:
        return [ConversationId(cid) for _, cid in self._queue]

    async def queued(self, offset: int = 0, limit: int | None = None,
                     from_rank: float | None = None) -> list[ConversationRecord]:
        start = offset + (0 if from_rank is None else bisect.bisect_left(self._queue, (from_rank, "")))
        stop = None if limit is None else start + max(limit, 0)
        return [self._conversations[ConversationId(cid)] for _, cid in self._queue[start:stop]]

    async def queue_position(self, conversation_id: ConversationId) -> int | None:
        record = self._live(conversation_id)
        if record is None or record.state is not State.QUEUED:
            return None
        return bisect.bisect_left(self._queue, queue_key(record)) + 1

    async def assign(self, conversation_id: ConversationId, agent_id: AgentId, now: float) -> bool:
        record = self._live(conversation_id)
        agent = self._agents.get(agent_id)
        if record is None or agent is None:
            return False
        if record.state is State.ASSIGNED and record.agent_id == agent_id and record.assigned_at == now:
            return True  # the same call again: idempotent, as in Redis
        if record.state is not State.QUEUED or agent.presence is not Presence.ONLINE:
            return False
        if self._load(agent_id) >= agent.capacity:
            return False
        self._write(_apply(record, {"state": State.ASSIGNED, "agent_id": agent_id, "assigned_at": now,
                                    "answered": False}))
        return True

    async def mark_answered(self, conversation_id: ConversationId, agent_id: AgentId) -> None:
        record = self._live(conversation_id)
        if record is not None and record.state is State.ASSIGNED and record.agent_id == agent_id:
            self._write(_apply(record, {"answered": True}))

    async def release(self, conversation_id: ConversationId, agent_id: AgentId, to: State, now: float,
                      changes: Mapping[str, Any]) -> ConversationRecord | None:
        to = release_target(to)
        record = self._live(conversation_id)
        if record is None or record.state is not State.ASSIGNED or record.agent_id != agent_id:
            return None
        new = _apply(record, release_changes(to, changes))
        if to is State.QUEUED and new.queued_at is None:
            new = _apply(new, {"queued_at": now})
        new = self._write(new)
        agent = self._agents.get(agent_id)
        if agent is not None and not self._load(agent_id):
            self._agents[agent_id] = replace(agent, idle_since=float(now))
        return new

    async def expired_assignments(self, assigned_before: float) -> list[tuple[ConversationId, AgentId]]:
        found = [r for owned in self._assigned.values() for r in map(self._conversations.__getitem__, owned)
                 if not r.answered and r.agent_id is not None and (r.assigned_at or 0.0) < assigned_before]
        found.sort(key=lambda r: (r.assigned_at or 0.0, r.conversation_id))
        return [(r.conversation_id, r.agent_id) for r in found if r.agent_id is not None]

    async def left_while_queued(self, left_before: float) -> list[ConversationId]:
        return [r.conversation_id for r in await self.queued()
                if r.customer_left_at is not None and r.customer_left_at < left_before]

    # handle-time statistics ------------------------------------------------------------------
    async def record_handle_time(self, seconds: float) -> None:
        self._handle_times.append(float(seconds))

    async def average_handle_time(self, default: float) -> float:
        if not self._handle_times:
            return default
        return sum(self._handle_times) / len(self._handle_times)

    # abuse limits ----------------------------------------------------------------------------
    async def hit(self, key: str, window: float, now: float) -> int:
        if now >= self._next_hits_sweep:  # forget the counters of windows that have passed, at most once a minute
            self._next_hits_sweep = now + 60.0
            self._hits = {k: entry for k, entry in self._hits.items() if entry[1] > now}
        number = math.floor(now / window)
        seen, _, count = self._hits.get(key, (number, 0.0, 0))
        count = count + 1 if seen == number else 1
        self._hits[key] = (number, (number + 1) * window, count)
        return count

    # sessions --------------------------------------------------------------------------------
    def _forget_stale(self, now: float) -> None:
        """Drop expired sessions, at most once a minute (bounded memory)."""
        if now < self._next_sweep:
            return
        self._next_sweep = now + 60.0
        for stale in [t for t, (expires, _, _) in self._sessions.items() if expires <= now]:
            self._drop_session(stale)

    def _drop_session(self, token: str) -> None:
        entry = self._sessions.pop(token, None)
        if entry is not None and entry[2] is not None:
            owned = self._owners.get(entry[2], set())
            owned.discard(token)
            if not owned:
                self._owners.pop(entry[2], None)

    async def put_session(self, token: str, data: Mapping[str, Any], ttl: float, owner: str | None = None) -> None:
        now = time.monotonic()
        self._forget_stale(now)
        self._drop_session(token)
        if ttl <= 0:
            return
        self._sessions[token] = (now + ttl, dump_json(data), owner)
        if owner is not None:
            self._owners.setdefault(owner, set()).add(token)

    async def get_session(self, token: str) -> dict[str, Any] | None:
        entry = self._sessions.get(token)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            self._drop_session(token)
            return None
        return load_json(entry[1])

    async def delete_session(self, token: str) -> None:
        self._drop_session(token)

    async def end_sessions(self, owner: str) -> int:
        tokens = self._owners.pop(owner, set())
        for token in tokens:
            self._sessions.pop(token, None)
        return len(tokens)

    # failures in a row -----------------------------------------------------------------------
    async def add_failure(self, key: str, now: float, forget_after: float) -> int:
        if time.monotonic() >= self._next_failure_sweep:  # forget lapsed counts, at most once a minute
            self._next_failure_sweep = time.monotonic() + 60.0
            for lapsed in [k for k, (_, last, forget) in self._failures.items() if now - last > forget]:
                del self._failures[lapsed]
        count, last, _ = self._failures.get(key, (0, 0.0, 0.0))
        count = count + 1 if count and now - last <= forget_after else 1
        self._failures[key] = (count, now, forget_after)
        return count

    async def failures(self, key: str) -> tuple[int, float]:
        count, last, _ = self._failures.get(key, (0, 0.0, 0.0))
        return count, last

    async def clear_failures(self, key: str) -> None:
        self._failures.pop(key, None)

    # claims ------------------------------------------------------------------------------------
    async def claim(self, name: str, ttl: float) -> bool:
        now = time.monotonic()
        if self._claims.get(name, now) > now:
            return False
        self._claims[name] = now + ttl if ttl > 0 else float("inf")
        return True

    async def lease(self, name: str, holder: str, ttl: float) -> bool:
        now = time.monotonic()
        current, until = self._leases.get(name, (holder, now))
        if current != holder and until > now:
            return False
        self._leases[name] = (holder, now + ttl)
        return True

    # the bus -------------------------------------------------------------------------------
    async def publish(self, channel: str, event: Event) -> None:
        await self.publish_all([(channel, event)])

    async def publish_all(self, events: Sequence[tuple[str, Event]]) -> None:
        for channel, event in events:
            self._bus.deliver(channel, dump_json(event))

    async def subscribe(self, channel: str, handler: Handler) -> Subscription:
        return self._bus.add(channel, handler)

    async def close(self) -> None:
        await self._bus.close()

