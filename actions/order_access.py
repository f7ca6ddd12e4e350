"""Whose order is it: the order actions act only on orders the customer is shown to own.

Two ways to show it:

- the shop signed the customer in: the handoff service verified the widget's signature and tells the bot the
  shop's customer id with every message (message metadata ``customer_external_id``). Their own orders are
  theirs; any other number is refused without a word about that order.
- an anonymous visitor answers, for one order number, with the order's e-mail address or postcode (the proof);
  a right answer is remembered in the ``order_verified`` slot (the number), which only this code sets.

Proof guessing is limited across conversations: after ``ACTIONS_PROOF_ATTEMPTS`` wrong proofs for one order
number within ``ACTIONS_PROOF_WINDOW`` seconds, that order refuses every proof (the right one too) until the
oldest of them is out of the window, so a script opening conversation after conversation cannot run through
postcodes. The count is kept in Redis when ``REDIS_URL`` is set (shared by every action server), else in the
action server's process.

The metadata is trusted because only the handoff service reaches Rasa (loopback by default, docs/security.md);
the ``order_verified`` slot because no customer can set a slot with a custom mapping.
"""

from __future__ import annotations

import logging
import math
import re
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Protocol

import redis
import redis.asyncio
from rasa_sdk import Tracker

from actions.order_service import Order
from actions.settings import ActionSettings

logger = logging.getLogger(__name__)

VERIFIED_SLOT = "order_verified"
CUSTOMER_METADATA = "customer_external_id"
EMAIL = re.compile(r"[^\s@<>(),;:]+@[^\s@<>(),;:]+\.[A-Za-z]{2,}")


def verified_customer(tracker: Tracker) -> str | None:
    """The shop's id of the customer, if the handoff service verified the shop's signature: from the metadata of
    the customer's latest message (each message carries it; Rasa keeps it on the ``user`` event)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            value = (event.get("metadata") or {}).get(CUSTOMER_METADATA)
            return value if isinstance(value, str) and value else None
    return None


def owns(tracker: Tracker, order: Order) -> bool:
    """Whether the customer is shown to own ``order`` (signed in as its customer, or proved it)."""
    customer = verified_customer(tracker)
    if customer is not None:
        return bool(order.customer_id) and order.customer_id == customer
    return bool(tracker.get_slot(VERIFIED_SLOT) == order.number)


def _postcode(text: str) -> str:
    return re.sub(r"[\s-]", "", text).upper()


def proof_matches(order: Order, answer: str) -> bool:
    """Whether ``answer`` is the order's e-mail address (the one address in it, any case) or its postcode (the
    whole answer, ignoring case, spaces and hyphens). One guess per answer: a list of postcodes matches none."""
    addresses = EMAIL.findall(answer)
    if addresses:
        return len(addresses) == 1 and bool(order.email) and addresses[0].lower() == order.email.lower()
    return bool(order.postcode) and _postcode(answer) == _postcode(order.postcode)


class ProofGuard(Protocol):
    """Wrong proofs per order number, across conversations, in a sliding window."""

    async def locked(self, number: str) -> bool:
        """Whether ``number`` refuses proofs now."""

    async def failed(self, number: str) -> None:
        """Count a wrong proof for ``number``."""


class MemoryProofGuard:
    """The count in this process (the embedded profile: one action server)."""

    def __init__(self, attempts: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._attempts = attempts
        self._window = window
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, number: str) -> deque[float]:
        failures = self._failures.pop(number, deque())
        while failures and failures[0] <= self._clock() - self._window:
            failures.popleft()
        if failures:
            self._failures[number] = failures  # nothing kept for numbers nobody is guessing
        return failures

    async def locked(self, number: str) -> bool:
        return len(self._recent(number)) >= self._attempts

    async def failed(self, number: str) -> None:
        self._failures[number] = self._recent(number)
        self._failures[number].append(self._clock())


class RedisProofGuard:
    """The count in Redis (``REDIS_URL``), shared by every action server: one sorted set of failure times per
    order number, expiring with the window. If Redis does not answer, every proof is refused (the customer is
    handed to a person) rather than guessing left unlimited."""

    PREFIX = "brightwood:proofs:"

    def __init__(self, url: str, attempts: int, window: float, clock: Callable[[], float] = time.time) -> None:
        self._redis = redis.asyncio.Redis.from_url(url, socket_timeout=5)
        self._attempts = attempts
        self._window = window
        self._clock = clock

    async def _count(self, number: str, add: bool) -> int:
        key, now = self.PREFIX + number, self._clock()
        pipe = self._redis.pipeline(transaction=True)
        pipe.zremrangebyscore(key, "-inf", now - self._window)
        if add:
            pipe.zadd(key, {f"{now!r}:{uuid.uuid4().hex}": now})
            pipe.expire(key, max(1, math.ceil(self._window)))
        pipe.zcard(key)
        replies = await pipe.execute()
        return int(replies[-1])

    async def locked(self, number: str) -> bool:
        try:
            return await self._count(number, add=False) >= self._attempts
        except redis.RedisError as exc:
            logger.warning("proof guard: Redis did not answer (%s); refusing proofs", type(exc).__name__)
            return True

    async def failed(self, number: str) -> None:
        try:
            await self._count(number, add=True)
        except redis.RedisError as exc:
            logger.warning("proof guard: Redis did not answer (%s)", type(exc).__name__)

    async def close(self) -> None:
        await self._redis.aclose()


def proof_guard_for(settings: ActionSettings, redis_url: str | None) -> ProofGuard:
    """Redis when ``REDIS_URL`` is set (several action servers share the count), else this process."""
    if redis_url:
        return RedisProofGuard(redis_url, settings.proof_attempts, settings.proof_window)
    return MemoryProofGuard(settings.proof_attempts, settings.proof_window)
