"""Sign-in throttling: failures in a row by username and by client address, with a growing lock-out.

Each failed sign-in counts against the username (case folded) and against the client's address, in the live
store, so every instance sees the same counts. The first failures in a row cost nothing; from then on each
locks the key out for twice as long as the one before (1 s, 2 s, 4 s... up to 15 minutes), and while a key is
locked out a sign-in is refused before any password is checked (429 with ``Retry-After``). A count is
forgotten an hour after its last failure; a successful sign-in clears the username's count (not the
address's: an attacker's own account must not wash their address clean).

What it costs whom: a guesser gets 5 free tries per username and 20 per address, then fewer than ten an
hour; the agent whose username is attacked waits out the same lock-out, which starts at a second and never
exceeds 15 minutes (an administrator can also reset their password). Behind a proxy the address is the one
the proxy reports (uvicorn's ``--forwarded-allow-ips``); without that, every agent shares the proxy's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from handoff.core.errors import RateLimited
from handoff.service.ports import Clock, Store

FORGET_AFTER = 3600.0
"""Seconds without a failure after which a key's count starts again."""


@dataclass(frozen=True)
class Backoff:
    """How long ``failures`` in a row lock a key out: nothing for the first ``free``, then ``base`` seconds
    doubling with each further failure, at most ``cap``."""

    free: int
    base: float = 1.0
    cap: float = 900.0

    def lockout(self, failures: int) -> float:
        extra = failures - self.free
        return 0.0 if extra <= 0 else min(self.base * 2.0 ** min(extra - 1, 32), self.cap)


BY_USERNAME = Backoff(free=5)
BY_ADDRESS = Backoff(free=20)


class SignInThrottle:
    """The lock-outs of usernames and addresses, kept in the store."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    @staticmethod
    def _keys(username: str, address: str | None) -> list[tuple[str, Backoff]]:
        keys = [("sign-in:user:" + username.casefold(), BY_USERNAME)]
        if address:
            keys.append(("sign-in:address:" + address, BY_ADDRESS))
        return keys

    async def check(self, username: str, address: str | None) -> None:
        """Raise :class:`RateLimited` (with the seconds left) while the username or the address is locked out."""
        now, wait = self._clock(), 0.0
        for key, backoff in self._keys(username, address):
            failures, last = await self._store.failures(key)
            if failures and now - last <= FORGET_AFTER:
                wait = max(wait, last + backoff.lockout(failures) - now)
        if wait > 0:
            raise RateLimited(f"Too many failed sign-ins. Try again in {math.ceil(wait)} seconds.", wait)

    async def failed(self, username: str, address: str | None) -> None:
        for key, _ in self._keys(username, address):
            await self._store.add_failure(key, self._clock(), FORGET_AFTER)

    async def succeeded(self, username: str) -> None:
        await self._store.clear_failures(self._keys(username, None)[0][0])
