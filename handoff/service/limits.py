"""Abuse limits: how often one client may start conversations and send messages, and how often a typing
indicator is relayed.

Counters live in the store (:meth:`handoff.service.ports.Store.hit`), so every instance behind a load balancer
counts in the same one. A client is the address the web layer names (the connection's, or the one a trusted
proxy put in ``HANDOFF_CLIENT_IP_HEADER``); callers that name none (in-process channels, tests) are not
limited. Windows are fixed minutes of the service's clock: a burst at a window's end and the next one's start
can reach twice the limit for a moment, the price of one counter per client and window.
"""

from __future__ import annotations

import math

from handoff.core.errors import RateLimited
from handoff.service.ports import Clock, Store
from handoff.settings import HandoffSettings

WINDOW = 60.0
TOO_MANY_CONVERSATIONS = "Too many new conversations from your network; please try again in a minute."
TOO_MANY_MESSAGES = "You are sending messages faster than we can read them; please wait a moment and send it again."


class Limits:
    """Per-client rate limits and the typing throttle, counted in the store."""

    def __init__(self, settings: HandoffSettings, store: Store, clock: Clock) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock

    async def _check(self, key: str, limit: int, refusal: str) -> None:
        now = self._clock()
        if await self._store.hit(key, WINDOW, now) > limit:
            raise RateLimited(refusal, retry_after=max(1.0, math.ceil(WINDOW - now % WINDOW)))

    async def new_conversation(self, client: str | None) -> None:
        """Raises ``RateLimited`` when ``client`` has started too many conversations this minute."""
        if client is not None:
            await self._check(f"open:{client}", self._settings.conversations_per_minute, TOO_MANY_CONVERSATIONS)

    async def message(self, client: str | None) -> None:
        """Raises ``RateLimited`` when ``client`` has sent too many messages this minute."""
        if client is not None:
            await self._check(f"message:{client}", self._settings.messages_per_minute, TOO_MANY_MESSAGES)

    async def typing(self, conversation_id: str, side: str) -> bool:
        """Whether to relay this typing indicator: the first of each ``HANDOFF_TYPING_INTERVAL`` per
        conversation and side (``customer`` or ``agent``); the rest are dropped, silently."""
        hits = await self._store.hit(f"typing:{side}:{conversation_id}", self._settings.typing_interval, self._clock())
        return hits == 1
