from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import redis
from rasa.core.lock_store import InMemoryLockStore, RedisLockStore
from rasa.core.tracker_store import InMemoryTrackerStore, RedisTrackerStore, TrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import read_endpoint_config

from bot.stores import EnvironmentLockStore, EnvironmentTrackerStore, redis_settings, windowed

REDIS_URL = "redis://127.0.0.1:6379/12"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def redis_db() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail("Redis is not running on 127.0.0.1:6379 (make test starts it)")
    client.flushdb()
    yield client
    client.flushdb()
    redis.Redis.from_url("redis://127.0.0.1:6379/13").flushdb()


def test_without_redis_url_the_stores_are_in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert isinstance(EnvironmentTrackerStore(domain=Domain.empty()), InMemoryTrackerStore)
    assert isinstance(EnvironmentLockStore(), InMemoryLockStore)


def test_with_redis_url_trackers_and_locks_live_in_redis(monkeypatch: pytest.MonkeyPatch,
                                                         redis_db: redis.Redis) -> None:
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    store = EnvironmentTrackerStore(domain=Domain.empty())
    assert isinstance(store, RedisTrackerStore)
    tracker = DialogueStateTracker.from_events("conv-7", [UserUttered("where is my order 12345")])
    asyncio.run(store.save(tracker))
    assert redis_db.keys("brightwood*") == [b"brightwood:tracker:conv-7"]
    again = asyncio.run(EnvironmentTrackerStore(domain=Domain.empty()).retrieve("conv-7"))
    assert again.latest_message.text == "where is my order 12345"
    lock_store = EnvironmentLockStore()
    assert isinstance(lock_store, RedisLockStore)
    assert lock_store.red.connection_pool.connection_kwargs["db"] == 13


@pytest.mark.parametrize(("url", "expected"), [
    ("redis://localhost", {"host": "localhost", "port": 6379, "db": 0, "username": None, "password": None,
                           "use_ssl": False}),
    ("rediss://u:s3cret@cache:6380/2", {"host": "cache", "port": 6380, "db": 2, "username": "u",
                                        "password": "s3cret", "use_ssl": True}),
])
def test_redis_urls_are_parsed(url: str, expected: dict) -> None:
    assert redis_settings(url) == expected


def test_a_malformed_redis_url_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="REDIS_URL"):
        redis_settings("localhost:6379")


DOMAIN = Domain.from_dict({
    "intents": ["inform"],
    "slots": {"order_number": {"type": "text", "mappings": [{"type": "custom"}]},
              "fallback_count": {"type": "float", "initial_value": 0, "mappings": [{"type": "custom"}]}},
    "forms": {"return_form": {"required_slots": ["order_number"]}},
})


def long_conversation(turns: int) -> DialogueStateTracker:
    events = [ActionExecuted(ACTION_LISTEN_NAME)]
    for turn in range(turns):
        events += [UserUttered(f"message {turn}", {"name": "inform", "confidence": 1.0}),
                   BotUttered(f"reply {turn}"), ActionExecuted(ACTION_LISTEN_NAME)]
        if turn == 3:
            events += [SlotSet("order_number", "12345"), ActiveLoop("return_form")]
        if turn == 5:
            events.append(SlotSet("fallback_count", 2.0))
    return DialogueStateTracker.from_events("long", events, slots=DOMAIN.slots)


def test_a_short_tracker_is_kept_whole() -> None:
    tracker = long_conversation(10)
    assert windowed(tracker, DOMAIN, max_events=400) is tracker


def test_a_long_tracker_keeps_its_newest_turns_slots_and_form() -> None:
    tracker = long_conversation(300)
    window = windowed(tracker, DOMAIN, max_events=100)
    assert len(window.events) <= 60
    assert window.latest_message.text == "message 299"
    assert window.get_slot("order_number") == "12345"
    assert window.get_slot("fallback_count") == 2.0
    assert window.active_loop_name == "return_form"
    texts = [e.text for e in window.events if isinstance(e, UserUttered)]
    assert texts == [f"message {t}" for t in range(300 - len(texts), 300)]


def test_the_in_memory_store_bounds_what_it_keeps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    store = EnvironmentTrackerStore(domain=DOMAIN, max_events=100)
    asyncio.run(store.save(long_conversation(300)))
    again = asyncio.run(store.retrieve("long"))
    assert len(again.events) <= 100 and again.get_slot("order_number") == "12345"


def test_in_memory_trackers_outlive_a_model_replacement(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rasa's ``PUT /model`` builds a new agent and, from endpoints.yml, a new tracker store: the conversations
    of the process are still there (bot/registry.py promotes models so, mid-form conversations continue)."""
    monkeypatch.delenv("REDIS_URL", raising=False)
    before = EnvironmentTrackerStore(domain=DOMAIN, max_events=100)
    asyncio.run(before.save(long_conversation(10)))
    after = EnvironmentTrackerStore(domain=DOMAIN, max_events=100)
    tracker = asyncio.run(after.retrieve("long"))
    assert tracker is not None and tracker.active_loop_name == "return_form"


@pytest.mark.parametrize("profile", ["embedded", "production"])
def test_endpoints_yml_window_reaches_both_stores(profile: str, monkeypatch: pytest.MonkeyPatch,
                                                  redis_db: redis.Redis) -> None:
    if profile == "production":
        monkeypatch.setenv("REDIS_URL", REDIS_URL)
    else:
        monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("ACTION_SERVER_URL", "http://127.0.0.1:5055/webhook")  # endpoints.yml needs them set
    monkeypatch.setenv("ACTIONS_TOKEN", "test-actions-token")
    config = read_endpoint_config(str(ROOT / "endpoints.yml"), "tracker_store")
    configured = int(config.kwargs["max_events"])
    store = TrackerStore.create(config, DOMAIN)
    inner = getattr(store, "_tracker_store", store)  # Rasa wraps it to fail safe / await
    inner = getattr(inner, "_tracker_store", inner)
    assert isinstance(inner, RedisTrackerStore if profile == "production" else InMemoryTrackerStore)
    assert inner.max_events == configured
    asyncio.run(store.save(long_conversation(300)))
    again = asyncio.run(store.retrieve("long"))
    assert configured // 2 <= len(again.events) <= configured
    assert again.get_slot("order_number") == "12345" and again.get_slot("fallback_count") == 2.0
    assert again.active_loop_name == "return_form" and again.latest_message.text == "message 299"


def test_several_workers_need_redis(monkeypatch: pytest.MonkeyPatch, redis_db: redis.Redis) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("SANIC_WORKERS", "2")
    with pytest.raises(ValueError, match="SANIC_WORKERS=2 needs REDIS_URL"):
        EnvironmentLockStore()
    with pytest.raises(ValueError, match="SANIC_WORKERS=2 needs REDIS_URL"):
        EnvironmentTrackerStore(domain=Domain.empty())
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    assert isinstance(EnvironmentLockStore(), RedisLockStore)
    assert isinstance(EnvironmentTrackerStore(domain=Domain.empty()), RedisTrackerStore)


@pytest.mark.parametrize("workers", ["1", "", "auto", "0"])
def test_one_worker_or_what_rasa_reads_as_one_keeps_the_memory_stores(monkeypatch: pytest.MonkeyPatch,
                                                                       workers: str) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("SANIC_WORKERS", workers)
    assert isinstance(EnvironmentLockStore(), InMemoryLockStore)


def test_endpoints_yml_sends_the_action_servers_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rasa shows the action server ACTIONS_TOKEN (actions/server.py refuses calls without it)."""
    monkeypatch.setenv("ACTION_SERVER_URL", "http://127.0.0.1:5055/webhook")
    monkeypatch.setenv("ACTIONS_TOKEN", "s3cret-token")
    config = read_endpoint_config(str(ROOT / "endpoints.yml"), "action_endpoint")
    assert config.url == "http://127.0.0.1:5055/webhook"
    assert config.headers == {"Authorization": "Bearer s3cret-token"}
