"""Tracker and lock stores for endpoints.yml: in memory or Redis, with a bounded window.

``endpoints.yml`` names these classes. With ``REDIS_URL`` unset (the embedded
profile) they keep trackers and locks in memory; with ``REDIS_URL`` set
(``redis://[user:password@]host:port/db``, ``rediss://`` for TLS) they use
Redis, so several Rasa instances share conversations and locks. Trackers go to
the URL's database, locks to the next one.

Why a window: Rasa rebuilds, featurizes and re-serialises the whole tracker on
every message, so a 300-turn conversation answers several times slower than
a new one. The dialogue only needs the recent turns (rules look a few turns
back), the slots and the active form, so once a tracker holds more than
``max_events`` events the stores keep the newest half and replace the rest
with a prefix that restores the slots and the active loop as they were. The
full transcript is the handoff service's to keep, not Rasa's.

Importing this module also installs :mod:`bot.rasa_speedups` (cached
equivalents of two Rasa hot spots, and native thread pools of one thread):
endpoints.yml is what every Rasa server of ours loads at start-up.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional
from urllib.parse import urlparse

from rasa.core.lock_store import InMemoryLockStore, LockStore, RedisLockStore
from rasa.core.tracker_store import InMemoryTrackerStore, RedisTrackerStore, TrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot import rasa_speedups

rasa_speedups.install()

KEY_PREFIX = "brightwood"
DEFAULT_MAX_EVENTS = 100


def redis_settings(url: str) -> Dict[str, Any]:
    """Host, port, database and credentials of a ``redis://`` URL."""
    parsed = urlparse(url)
    if parsed.scheme not in ("redis", "rediss") or not parsed.hostname:
        raise ValueError(f"REDIS_URL must look like redis://host:6379/0, not {url!r}")
    path = parsed.path.lstrip("/")
    return {"host": parsed.hostname, "port": parsed.port or 6379, "db": int(path) if path else 0,
            "username": parsed.username or None, "password": parsed.password or None,
            "use_ssl": parsed.scheme == "rediss"}


def windowed(tracker: DialogueStateTracker, domain: Domain, max_events: int) -> DialogueStateTracker:
    """``tracker`` itself if it is short enough, else its newest turns after a state-restoring prefix."""
    events: List[Event] = list(tracker.events)
    if len(events) <= max_events:
        return tracker
    start = _turn_start(events, len(events) - max_events // 2)
    if start is None:
        return tracker
    before = DialogueStateTracker.from_events(tracker.sender_id, events[:start], slots=domain.slots)
    stamp = events[start].timestamp
    prefix: List[Event] = [ActionExecuted(ACTION_SESSION_START_NAME, timestamp=stamp),
                           SessionStarted(timestamp=stamp)]
    prefix += [SlotSet(name, slot.value, timestamp=stamp) for name, slot in before.slots.items()
               if slot.value != slot.initial_value]
    if before.active_loop_name:
        prefix.append(ActiveLoop(before.active_loop_name, timestamp=stamp))
    return DialogueStateTracker.from_events(tracker.sender_id, prefix + events[start:], slots=domain.slots,
                                            max_event_history=tracker._max_event_history)


def _turn_start(events: List[Event], at_least: int) -> Optional[int]:
    """Index of the first ``action_listen`` followed by a user message, at or after ``at_least``."""
    for index in range(max(at_least, 0), len(events) - 1):
        event = events[index]
        if isinstance(event, ActionExecuted) and event.action_name == ACTION_LISTEN_NAME \
                and isinstance(events[index + 1], UserUttered):
            return index
    return None


# The in-memory trackers of this process, shared by every store built in it. Rasa's model replacement
# (`PUT /model`, bot/registry.py) builds a new agent, and with it a new tracker store from endpoints.yml: with a
# store of its own each, a conversation in progress (mid-form) would start again from nothing after the swap.
_TRACKERS: Dict[str, Any] = {}


class WindowedInMemoryTrackerStore(InMemoryTrackerStore):
    """Rasa's in-memory store, keeping at most about ``max_events`` events a conversation; the trackers are the
    process's (:data:`_TRACKERS`), so they outlive a model replacement."""

    def __init__(self, domain: Domain, event_broker: Any = None, max_events: int = DEFAULT_MAX_EVENTS,
                 **kwargs: Any) -> None:
        super().__init__(domain, event_broker, **kwargs)
        self.store = _TRACKERS
        self.max_events = max_events

    async def save(self, tracker: DialogueStateTracker) -> None:
        await super().save(windowed(tracker, self.domain, self.max_events))


class WindowedRedisTrackerStore(RedisTrackerStore):
    """Rasa's Redis store, keeping at most about ``max_events`` events a conversation.

    Unlike Rasa's, ``save`` does not merge with earlier sessions already stored:
    the window replaces them by design.
    """

    def __init__(self, domain: Domain, max_events: int = DEFAULT_MAX_EVENTS, **kwargs: Any) -> None:
        super().__init__(domain, **kwargs)
        self.max_events = max_events

    async def save(self, tracker: DialogueStateTracker, timeout: Optional[float] = None) -> None:
        await self.stream_events(tracker)
        serialised = self.serialise_tracker(windowed(tracker, self.domain, self.max_events))
        self.red.set(self.key_prefix + tracker.sender_id, serialised, ex=timeout or self.record_exp)


def check_single_worker() -> None:
    """Refuse several Sanic workers on in-memory stores.

    Rasa allows ``SANIC_WORKERS`` > 1 with any lock store it does not know to be
    in memory, ours included; but each worker would then keep its own trackers
    and locks, and a conversation's messages would land on whichever worker
    took the request.
    """
    workers = os.environ.get("SANIC_WORKERS", "1").strip()
    if workers.isdigit() and int(workers) > 1:  # Rasa itself runs one worker for anything else
        raise ValueError(f"SANIC_WORKERS={workers} needs REDIS_URL: without it trackers and conversation locks "
                         "live in each worker's memory and cannot be shared. Set REDIS_URL, or SANIC_WORKERS=1.")


class EnvironmentTrackerStore:
    """Builds the in-memory or the Redis tracker store, by ``REDIS_URL``."""

    def __new__(cls, domain: Domain, host: Optional[str] = None, event_broker: Any = None,
                max_events: int = DEFAULT_MAX_EVENTS, **kwargs: Any) -> TrackerStore:  # type: ignore[misc]
        url = os.environ.get("REDIS_URL")
        if not url:
            check_single_worker()
            return WindowedInMemoryTrackerStore(domain, event_broker=event_broker, max_events=int(max_events))
        return WindowedRedisTrackerStore(domain, max_events=int(max_events), event_broker=event_broker,
                                         key_prefix=KEY_PREFIX, **redis_settings(url))


class EnvironmentLockStore:
    """Builds the in-memory or the Redis lock store, by ``REDIS_URL``."""

    def __new__(cls, host: Optional[str] = None, **kwargs: Any) -> LockStore:  # type: ignore[misc]
        url = os.environ.get("REDIS_URL")
        if not url:
            check_single_worker()
            return InMemoryLockStore()
        settings = redis_settings(url)
        settings["db"] += 1
        return RedisLockStore(key_prefix=KEY_PREFIX, **settings)
