"""Who is calling: agents by password and session, customers by a per-conversation token.

Agents sign in with a password and get a random session token kept in the store with a time to live, and in
the ticket log so that it outlives a restart of the store; the console carries it in an HttpOnly cookie,
scripts as a bearer token. Both keep each session under the SHA-256 of its token (:func:`session_id`), never
the token itself, so a dump of Redis or of the database opens no console.
Customers never sign in: the service gives each conversation a token (:mod:`handoff.service.tokens`), and
only that token opens the conversation.

Passwords are hashed with Argon2id (argon2-cffi) at RFC 9106's second recommended setting ("low memory"):
3 passes over 64 MiB with 4 lanes, a 16-byte random salt and a 32-byte hash (:data:`ARGON2`). Fixed here,
not left to the library's defaults, so an upgrade cannot change them unnoticed; a hash made with other
parameters is made again at the next sign-in. One hash costs tens of milliseconds of CPU and 64 MiB, so
hashing runs on its own two threads (:class:`Passwords`), never on the event loop: a burst of sign-ins
stalls no socket, and at most two hashes' memory is in use at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

from handoff.core.errors import BadRequest, NotAuthenticated, RateLimited
from handoff.core.identity import signed_text
from handoff.core.model import AgentId, Role
from handoff.service.ports import Clock, Store, TicketLog

ARGON2 = profiles.RFC_9106_LOW_MEMORY
"""Argon2id, time cost 3, memory 65536 KiB, parallelism 4, salt 16 bytes, hash 32 bytes."""
_hasher = PasswordHasher.from_parameters(ARGON2)
SESSION_PREFIX = "agent-session:"
SIGNED_OUT = "signed_out"
"""The event on an agent's channel that ends sockets: of one session (``session``: its id) or all (None)."""
BAD_CREDENTIALS = "The username or password is not right."
MIN_PASSWORD = 8
HASHING_THREADS = 2
MAX_WAITING_HASHES = 64
"""Sign-ins waiting for a hashing thread beyond which more are refused at once (429)."""


@dataclass(frozen=True)
class Principal:
    """A signed-in agent; ``session`` is the :func:`session_id` of the token they came with."""

    agent_id: AgentId
    username: str
    name: str
    role: Role
    session: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.agent_id, "username": self.username, "name": self.name, "role": self.role.value}


def check_new_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise BadRequest(f"A password needs at least {MIN_PASSWORD} characters.")
    return password


def hash_password(password: str) -> str:
    """The Argon2id hash of a new password (blocking: on the event loop, use :class:`Passwords`)."""
    return _hasher.hash(check_new_password(password))


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# One hash to verify against when the username is unknown, so timing does not tell which usernames exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def check_password(password_hash: str | None, password: str) -> bool:
    return verify_password(password_hash or _DUMMY_HASH, password) and password_hash is not None


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with other parameters than :data:`ARGON2`."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


class Passwords:
    """Argon2 off the event loop: verifying and hashing on :data:`HASHING_THREADS` threads of their own."""

    def __init__(self, threads: int = HASHING_THREADS, max_waiting: int = MAX_WAITING_HASHES) -> None:
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="argon2")
        self._max_waiting = max_waiting
        self._waiting = 0

    async def _run(self, work: Any, *args: Any) -> Any:
        if self._waiting >= self._max_waiting:
            raise RateLimited("Too many sign-ins at once; try again in a moment.", 1.0)
        self._waiting += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, work, *args)
        finally:
            self._waiting -= 1

    async def check(self, password_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches ``password_hash`` (None: an unknown user; takes as long, and fails)."""
        return bool(await self._run(check_password, password_hash, password))

    async def hash(self, password: str) -> str:
        """The hash of a new password; raises ``BadRequest`` if it is too short."""
        return str(await self._run(hash_password, check_new_password(password)))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def session_id(token: str) -> str:
    """What the store keeps a session under: the SHA-256 of its token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class Sessions:
    """Agent sessions in the live-state store (shared by every instance), filed under their agent so that
    all of them can be ended at once, and in the ticket log too, so that a restart of the store (the embedded
    profile's memory, a Redis that kept nothing) signs nobody out. Both keep a session under its
    :func:`session_id`; the store is read first, and a session found only in the log is cached in the store
    again for the rest of its time if the agent is still active. Ending a session deletes it from both."""

    PURGE_EVERY = 3600.0
    """Seconds between deletions of the log's expired sessions (at a sign-in), so its table stays bounded."""

    def __init__(self, store: Store, log: TicketLog, ttl: float, clock: Clock) -> None:
        self._store = store
        self._log = log
        self._ttl = ttl
        self._clock = clock
        self._purged = float("-inf")

    async def open(self, principal: Principal) -> tuple[str, Principal]:
        """A new session: its token (given to the agent, kept nowhere) and the principal it stands for."""
        token = secrets.token_urlsafe(32)
        key = session_id(token)
        now = self._clock()
        if now - self._purged >= self.PURGE_EVERY:
            self._purged = now
            await self._log.people.delete_expired_sessions(now)
        await self._log.people.add_session(key, principal.agent_id, created_at=now, expires_at=now + self._ttl)
        await self._cache(key, principal, self._ttl)
        return token, Principal(principal.agent_id, principal.username, principal.name, principal.role, key)

    async def principal(self, token: str | None) -> Principal:
        """The agent behind ``token``; raises NotAuthenticated if there is none (expired, signed out, forged)."""
        key = session_id(token) if token else None
        if key is None:
            raise NotAuthenticated("Please sign in.")
        data = await self._store.get_session(SESSION_PREFIX + key)
        if data:
            return Principal(AgentId(data["agent_id"]), data["username"], data["name"], Role(data["role"]), key)
        return await self._from_log(key)

    async def _from_log(self, key: str) -> Principal:
        """The session as the ticket log keeps it (the store forgot it), cached in the store again."""
        kept = await self._log.people.get_session(key)
        if kept is None:
            raise NotAuthenticated("Please sign in.")
        agent_id, expires_at = kept
        remaining = expires_at.timestamp() - self._clock()
        account = await self._log.people.get_agent(agent_id) if remaining > 0 else None
        if account is None or not account.active:
            await self._log.people.delete_session(key)
            raise NotAuthenticated("Please sign in.")
        principal = Principal(account.agent_id, account.username, account.name, Role(account.role), key)
        await self._cache(key, principal, remaining)
        if await self._log.people.get_session(key) is None:  # ended meanwhile: do not bring it back
            await self._store.delete_session(SESSION_PREFIX + key)
            raise NotAuthenticated("Please sign in.")
        return principal

    async def _cache(self, key: str, principal: Principal, ttl: float) -> None:
        await self._store.put_session(SESSION_PREFIX + key, {
            "agent_id": principal.agent_id, "username": principal.username, "name": principal.name,
            "role": principal.role.value}, ttl, owner=principal.agent_id)

    async def close(self, token: str) -> str:
        """End the session; its id."""
        key = session_id(token)
        await self._store.delete_session(SESSION_PREFIX + key)
        await self._log.people.delete_session(key)
        return key

    async def end_all(self, agent_id: AgentId) -> int:
        """End every session of the agent; how many there were."""
        live = await self._store.end_sessions(agent_id)
        return max(live, await self._log.people.delete_sessions(agent_id))


MAX_SIGNATURE_LIFETIME = 24 * 3600.0  # seconds: a shop's signature expiring later than this is refused


def widget_signature(widget_secret: str, external_id: str, expires: int, identities: str | None = None) -> str:
    """What the shop signs for a signed-in visitor: hex HMAC-SHA256, under ``HANDOFF_WIDGET_SECRET``, of the
    UTF-8 text ``"<external_id>.<expires>"`` (``expires``: seconds since the epoch, a whole number), followed by
    ``".<identities>"`` when the shop also vouches for the customer's channel identities
    (``"email:jo@example.com xmpp:jo@im.example"``: :func:`handoff.core.identity.parse_claims`)."""
    return hmac.new(widget_secret.encode(), signed_text(external_id, expires, identities).encode(),
                    hashlib.sha256).hexdigest()


def verified_external_id(widget_secret: str | None, external_id: str | None, expires: int | None,
                         signature: str | None, now: float, identities: str | None = None) -> str | None:
    """The shop's customer id if the shop signed it (:func:`widget_signature`, with ``identities`` when given)
    and the signature is in date: not expired, and not expiring more than :data:`MAX_SIGNATURE_LIFETIME` from
    ``now`` (a signature cannot be made to last for ever). Anything else is None: the visitor is anonymous."""
    if not (widget_secret and external_id and signature and expires is not None):
        return None
    if not now < expires <= now + MAX_SIGNATURE_LIFETIME:
        return None
    expected = widget_signature(widget_secret, external_id, expires, identities)
    return external_id if hmac.compare_digest(expected.encode(), signature.lower().encode()) else None
