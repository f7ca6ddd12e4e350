"""Who is calling: agents by password and session, customers by a per-conversation token.

Agents sign in with a password (Argon2id hashes, via argon2-cffi) and get a random session token kept in the
store with a time to live; the console carries it in an HttpOnly cookie, scripts as a bearer token.
Customers never sign in: the service gives each conversation a token (:mod:`handoff.service.tokens`), and
only that token opens the conversation.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from handoff.core.errors import BadRequest, NotAuthenticated
from handoff.core.model import AgentId, Role
from handoff.service.ports import Store

_hasher = PasswordHasher()
SESSION_PREFIX = "agent-session:"
BAD_CREDENTIALS = "The username or password is not right."


@dataclass(frozen=True)
class Principal:
    """A signed-in agent."""

    agent_id: AgentId
    username: str
    name: str
    role: Role

    def to_json(self) -> dict[str, Any]:
        return {"id": self.agent_id, "username": self.username, "name": self.name, "role": self.role.value}


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise BadRequest("A password needs at least 8 characters.")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# One hash to verify against when the username is unknown, so timing does not tell which usernames exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def check_password(password_hash: str | None, password: str) -> bool:
    return verify_password(password_hash or _DUMMY_HASH, password) and password_hash is not None


class Sessions:
    """Agent sessions in the live-state store (shared by every instance)."""

    def __init__(self, store: Store, ttl: float) -> None:
        self._store = store
        self._ttl = ttl

    async def open(self, principal: Principal) -> str:
        token = secrets.token_urlsafe(32)
        await self._store.put_session(SESSION_PREFIX + token, {
            "agent_id": principal.agent_id, "username": principal.username, "name": principal.name,
            "role": principal.role.value}, self._ttl)
        return token

    async def principal(self, token: str | None) -> Principal:
        """The agent behind ``token``; raises NotAllowed if there is none (expired, signed out, forged)."""
        data = await self._store.get_session(SESSION_PREFIX + token) if token else None
        if not data:
            raise NotAuthenticated("Please sign in.")
        return Principal(AgentId(data["agent_id"]), data["username"], data["name"], Role(data["role"]))

    async def close(self, token: str) -> None:
        await self._store.delete_session(SESSION_PREFIX + token)


def verified_external_id(widget_secret: str | None, external_id: str | None, signature: str | None) -> str | None:
    """The shop's customer id if the shop signed it (HMAC-SHA256 under ``HANDOFF_WIDGET_SECRET``), else None."""
    if not (widget_secret and external_id and signature):
        return None
    expected = hmac.new(widget_secret.encode(), external_id.encode(), hashlib.sha256).hexdigest()
    return external_id if hmac.compare_digest(expected, signature.lower()) else None
