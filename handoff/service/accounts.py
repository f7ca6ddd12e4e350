"""Agents' accounts: signing in and out, sessions, who is calling, the team."""

from __future__ import annotations

from typing import Any

from handoff.core.errors import NotAuthenticated
from handoff.core.model import Presence, Role
from handoff.service.auth import BAD_CREDENTIALS, Principal, Sessions, check_password
from handoff.service.desk import Desk
from handoff.service.ports import Store, TicketLog


class Accounts:
    """Sign-in with a password; a session token in the live store, valid on every instance."""

    def __init__(self, store: Store, log: TicketLog, desk: Desk, session_ttl: float) -> None:
        self._store = store
        self._log = log
        self._desk = desk
        self._sessions = Sessions(store, session_ttl)

    async def sign_in(self, username: str, password: str) -> tuple[str, Principal]:
        """A new session for the agent, who comes online.

        Raises:
            NotAuthenticated: unknown username, wrong password, or a deactivated account (one message for
                all three, so the answer does not tell which usernames exist).
        """
        account = await self._log.people.agent_by_username(username)
        if not check_password(account.password_hash if account else None, password) or account is None \
                or not account.active:
            raise NotAuthenticated(BAD_CREDENTIALS)
        principal = Principal(account.agent_id, account.username, account.name, Role(account.role))
        token = await self._sessions.open(principal)
        await self._desk.set_presence(principal, Presence.ONLINE)
        return token, principal

    async def sign_out(self, token: str) -> None:
        await self._sessions.close(token)

    async def principal(self, token: str | None) -> Principal:
        """The agent behind a session token; raises ``NotAuthenticated`` if there is none."""
        return await self._sessions.principal(token)

    async def me(self, principal: Principal) -> dict[str, Any]:
        return {**principal.to_json(), "presence": (await self._desk.presence_of(principal)).value}

    async def team(self) -> list[dict[str, Any]]:
        """Every agent with their presence and load (for transfers)."""
        live = {snapshot.agent_id: snapshot for snapshot in await self._store.agents()}
        team = []
        for account in await self._log.people.list_agents():
            snapshot = live.get(account.agent_id)
            team.append({"id": account.agent_id, "name": account.name, "role": account.role,
                         "tiers": sorted(account.tiers),
                         "presence": snapshot.presence.value if snapshot else "offline",
                         "load": snapshot.load if snapshot else 0, "capacity": account.capacity})
        return team
