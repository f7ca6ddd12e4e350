"""Agents' accounts: signing in and out, sessions, who is calling, the team, and the admins' management.

Sign-in is throttled by username and address (:mod:`handoff.service.throttle`) and checks the password on
hashing threads (:class:`~handoff.service.auth.Passwords`). Ending a session, by signing out or by an admin
deactivating the account, changing its role or resetting its password, also closes the sockets opened with
it: the ``signed_out`` frame on the agent's channel reaches them on every instance, and the gateway closes
them with 4401. A deactivated agent's conversations go back to the queue at once.
"""

from __future__ import annotations

import logging
from typing import Any

from handoff.core.conversation import Cause
from handoff.core.errors import BadRequest, Conflict, NotAuthenticated, UnknownConversation
from handoff.core.model import AgentId, Presence, Role
from handoff.service import policy
from handoff.service.auth import BAD_CREDENTIALS, SIGNED_OUT, Passwords, Principal, Sessions, needs_rehash
from handoff.service.desk import Desk
from handoff.service.dispatch import Dispatch
from handoff.service.policy import Action
from handoff.service.ports import AgentAccount, Clock, Store, TicketLog
from handoff.service.relay import Relay
from handoff.service.throttle import SignInThrottle

logger = logging.getLogger(__name__)
CHANGEABLE = frozenset({"name", "role", "capacity", "tiers", "languages", "skills", "timezone", "shift", "active"})
ENDS_SESSIONS = frozenset({"role", "active"})
"""Changes after which the agent signs in again (their sessions carry their role)."""


class Accounts:
    """Sign-in with a password; a session token in the live store (and the ticket log), valid on every instance."""

    def __init__(self, store: Store, log: TicketLog, desk: Desk, dispatch: Dispatch, relay: Relay,
                 session_ttl: float, clock: Clock) -> None:
        self._store = store
        self._log = log
        self._desk = desk
        self._dispatch = dispatch
        self._relay = relay
        self._sessions = Sessions(store, log, session_ttl, clock)
        self._passwords = Passwords()
        self._throttle = SignInThrottle(store, clock)
        self._clock = clock

    # ---- signing in and out -------------------------------------------------------------------

    async def sign_in(self, username: str, password: str, address: str | None = None) -> tuple[str, Principal]:
        """A new session for the agent, who comes online.

        Raises:
            RateLimited: too many failures in a row for this username or from this address (``retry_after``).
            NotAuthenticated: unknown username, wrong password, or a deactivated account (one message for
                all three, so the answer does not tell which usernames exist).
        """
        await self._throttle.check(username, address)
        account = await self._log.people.agent_by_username(username)
        if not await self._passwords.check(account.password_hash if account else None, password) \
                or account is None or not account.active:
            await self._throttle.failed(username, address)
            raise NotAuthenticated(BAD_CREDENTIALS)
        await self._throttle.succeeded(username)
        if needs_rehash(account.password_hash):
            await self._log.people.update_agent(account.agent_id, password_hash=await self._passwords.hash(password))
        token, principal = await self._sessions.open(
            Principal(account.agent_id, account.username, account.name, Role(account.role)))
        if policy.allowed(principal.role, Action.TAKE):  # a trainer signs in without joining the routing
            await self._desk.set_presence(principal, Presence.ONLINE)
        return token, principal

    async def sign_out(self, token: str) -> None:
        """End the session and close the sockets opened with it (the agent's other sessions stay)."""
        try:
            principal = await self._sessions.principal(token)
        except NotAuthenticated:
            return
        await self._sessions.close(token)
        await self._relay.to_agent(principal.agent_id, {"type": SIGNED_OUT, "session": principal.session})

    async def principal(self, token: str | None) -> Principal:
        """The agent behind a session token; raises ``NotAuthenticated`` if there is none."""
        return await self._sessions.principal(token)

    async def me(self, principal: Principal) -> dict[str, Any]:
        policy.check(principal.role, Action.SELF)
        return {**principal.to_json(), "presence": (await self._desk.presence_of(principal)).value}

    async def team(self, principal: Principal) -> list[dict[str, Any]]:
        """Every active agent with their presence and load (for transfers): those who take conversations (not
        trainers)."""
        policy.check(principal.role, Action.TEAM)
        live = {snapshot.agent_id: snapshot for snapshot in await self._store.agents()}
        team = []
        for account in await self._log.people.list_agents(active_only=True):
            if not policy.allowed(Role(account.role), Action.TAKE):
                continue
            snapshot = live.get(account.agent_id)
            team.append({"id": account.agent_id, "name": account.name, "role": account.role,
                         "tiers": sorted(account.tiers),
                         "presence": snapshot.presence.value if snapshot else "offline",
                         "load": snapshot.load if snapshot else 0, "capacity": account.capacity})
        return team

    # ---- the admins' management of accounts ----------------------------------------------------

    async def accounts(self, principal: Principal) -> list[dict[str, Any]]:
        """Every account, active or not, by username (never a password hash)."""
        policy.check(principal.role, Action.MANAGE_ACCOUNTS)
        return [account.to_json() for account in await self._log.people.list_agents()]

    async def create(self, principal: Principal, *, username: str, name: str, password: str,
                     role: Role = Role.AGENT, capacity: int = 3, tiers: list[int] | None = None,
                     languages: list[str] | None = None, skills: list[str] | None = None,
                     timezone: str = "UTC") -> dict[str, Any]:
        """A new account, ready for routing once its agent signs in.

        Raises:
            Conflict: the username is taken.
            BadRequest: a password shorter than 8 characters, a tier other than 1, 2 or 3.
        """
        policy.check(principal.role, Action.MANAGE_ACCOUNTS)
        tiers = _tiers(tiers or [1])
        account = await self._log.people.create_agent(
            username=username, name=name, password_hash=await self._passwords.hash(password), role=Role(role),
            capacity=capacity, tiers=tiers, languages=languages or ["en"], skills=skills or [], timezone=timezone)
        await self._store.upsert_agent(account.snapshot())
        logger.info("agent %s created by %s", account.agent_id, principal.agent_id)
        return account.to_json()

    async def change(self, principal: Principal, agent_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Change an account's ``name``, ``role``, ``capacity``, ``tiers``, ``languages``, ``skills``,
        ``timezone``, ``shift`` (working windows: routing and the capacity roster read them) or ``active``.
        A new role or deactivation ends the agent's sessions and closes their sockets; deactivation also puts
        their conversations back in the queue.

        Raises:
            UnknownConversation: no account has this id (404).
            Conflict: it would leave no active admin.
        """
        policy.check(principal.role, Action.MANAGE_ACCOUNTS)
        if set(changes) - CHANGEABLE:
            raise BadRequest(f"Accounts have no field {', '.join(sorted(set(changes) - CHANGEABLE))} to change.")
        before = await self._account(agent_id)
        if "tiers" in changes:
            changes = {**changes, "tiers": _tiers(changes["tiers"])}
        stays_admin = changes.get("role", before.role) == Role.ADMIN and changes.get("active", before.active)
        if before.role == Role.ADMIN and before.active and not stays_admin and await self._admins() <= 1:
            raise Conflict("This is the only active admin: make another admin first.")
        after = await self._log.people.update_agent(before.agent_id, **changes)
        if after is None:
            raise UnknownConversation("There is no account with this id.")
        await self._store.upsert_agent(after.snapshot())
        if any(name in changes and changes[name] != getattr(before, name) for name in ENDS_SESSIONS):
            await self.end_sessions(after.agent_id)
        took = policy.allowed(Role(before.role), Action.TAKE) and before.active
        if took and not (after.active and policy.allowed(Role(after.role), Action.TAKE)):
            # deactivated, or now a role that takes no conversations (a trainer): off the routing, theirs requeued
            await self._store.set_presence(after.agent_id, Presence.OFFLINE, self._clock())
            taken = await self._dispatch.take_back(after.agent_id, Cause.AGENT_OFFLINE)
            logger.info("agent %s %s by %s; %d conversations back in the queue", after.agent_id,
                        "deactivated" if not after.active else f"made {after.role}", principal.agent_id, taken)
        return after.to_json()

    async def reset_password(self, principal: Principal, agent_id: str, password: str) -> None:
        """Give the account a new password and end its sessions (it signs in again with the new one)."""
        policy.check(principal.role, Action.MANAGE_ACCOUNTS)
        account = await self._account(agent_id)
        await self._log.people.update_agent(account.agent_id, password_hash=await self._passwords.hash(password))
        await self.end_sessions(account.agent_id)
        logger.info("agent %s: password reset by %s", account.agent_id, principal.agent_id)

    async def end_sessions(self, agent_id: AgentId) -> None:
        """End every session of the agent and close their sockets, on every instance."""
        await self._sessions.end_all(agent_id)
        await self._relay.to_agent(agent_id, {"type": SIGNED_OUT, "session": None})

    async def _account(self, agent_id: str) -> AgentAccount:
        account = await self._log.people.get_agent(agent_id)
        if account is None:
            raise UnknownConversation("There is no account with this id.")
        return account

    async def _admins(self) -> int:
        return sum(1 for a in await self._log.people.list_agents(active_only=True) if a.role == Role.ADMIN)

    def close(self) -> None:
        self._passwords.close()


def _tiers(tiers: list[int]) -> list[int]:
    if not tiers or any(tier not in (1, 2, 3) for tier in tiers):
        raise BadRequest("Tiers are 1, 2 or 3, at least one.")
    return tiers
