"""Customers, agents' accounts and canned responses."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from handoff.adapters.tickets.database import Repository, changed_rows, utc
from handoff.adapters.tickets.models import Agent, AgentSession, CannedResponse, Customer, Ticket, TicketAssignment
from handoff.adapters.tickets.ticketing import ticket_view, tickets_with_names
from handoff.adapters.tickets.views import (
    AgentAccount,
    CannedView,
    CustomerView,
    TicketView,
    shift_from_json,
    shift_to_json,
)
from handoff.core.errors import BadRequest, Conflict
from handoff.core.model import AgentId, CustomerId, CustomerProfile, Role, ShiftWindow

# Assignments that ended this way never reached the customer: no reason to route them to that agent again.
UNANSWERED_CAUSES = frozenset({"accept_timeout"})
_AGENT_FIELDS = frozenset({"username", "name", "password_hash", "role", "capacity", "tiers", "languages",
                           "skills", "shift", "timezone", "active"})


def customer_view(row: Customer) -> CustomerView:
    return CustomerView(customer_id=CustomerId(row.id), external_id=row.external_id, name=row.name, email=row.email,
                        language=row.language, value_tier=row.value_tier, lifetime_value=row.lifetime_value,
                        created_at=row.created_at)


def agent_account(row: Agent) -> AgentAccount:
    return AgentAccount(agent_id=AgentId(row.id), username=row.username, name=row.name, password_hash=row.password_hash,
                        role=Role(row.role), capacity=row.capacity, tiers=frozenset(int(t) for t in row.tiers),
                        languages=frozenset(row.languages), skills=frozenset(row.skills),
                        shift=shift_from_json(row.shift), timezone=row.timezone, active=row.active,
                        created_at=row.created_at)


def _agent_column(field: str, value: Any) -> Any:
    """An update_agent value as the column stores it."""
    if field == "role":
        return Role(value).value
    if field == "tiers":
        return sorted({int(t) for t in value})
    if field in ("languages", "skills"):
        return sorted(set(value))
    if field == "shift":
        return shift_to_json([w if isinstance(w, ShiftWindow) else shift_from_json([w])[0] for w in value])
    return value


class PeopleBook(Repository):
    """Customers, agents and canned responses (a repository of :class:`~handoff.adapters.tickets.TicketLog`)."""

    # customers -----------------------------------------------------------------------------------
    async def upsert_customer(self, customer_id: CustomerId, *, external_id: str | None = None,
                              name: str | None = None, email: str | None = None, language: str | None = None,
                              value_tier: str | None = None, lifetime_value: float | None = None,
                              now: datetime | float) -> CustomerView:
        """Create the customer, or update the fields given (a None leaves a field as it is).

        A new customer gets language ``en``, tier ``standard`` and lifetime value 0 unless given.

        Raises:
            Conflict: another customer has this ``external_id``.
        """
        given = {"external_id": external_id, "name": name, "email": email, "language": language,
                 "value_tier": value_tier, "lifetime_value": lifetime_value}
        changes = {key: value for key, value in given.items() if value is not None}
        for attempt in (1, 2):  # a second try when a concurrent call inserted the same customer first
            try:
                async with self._sessions.begin() as session:
                    row = await session.get(Customer, customer_id, with_for_update=True)
                    if row is None:
                        row = Customer(id=customer_id, **{"language": "en", "value_tier": "standard",
                                                          "lifetime_value": 0.0, **changes}, created_at=utc(now))
                        session.add(row)
                    else:
                        for key, value in changes.items():
                            setattr(row, key, value)
                    await session.flush()
                    return customer_view(row)
            except IntegrityError as error:
                if external_id is not None:
                    other = await self.customer_by_external_id(external_id)
                    if other is not None and other.customer_id != customer_id:
                        raise Conflict(f"Another customer has the external id {external_id!r}.") from error
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def get_customer(self, customer_id: str) -> CustomerView | None:
        async with self._sessions() as session:
            row = await session.get(Customer, customer_id)
        return None if row is None else customer_view(row)

    async def customer_by_external_id(self, external_id: str) -> CustomerView | None:
        async with self._sessions() as session:
            row = await session.scalar(select(Customer).where(Customer.external_id == external_id))
        return None if row is None else customer_view(row)

    async def customer_tickets(self, customer_id: str, limit: int = 10) -> list[TicketView]:
        """The customer's tickets, newest first."""
        query = (tickets_with_names().where(Ticket.customer_id == customer_id)
                 .order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(limit))
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [ticket_view(row[0], row[1]) for row in rows]

    async def customer_profile(self, customer_id: CustomerId) -> CustomerProfile:
        """The customer as routing sees them, in one transaction: their record (a bare profile if the log does
        not know them), how many tickets they have had, and the agent of their most recent assignment (for
        sticky routing), ignoring assignments that timed out unanswered (:data:`UNANSWERED_CAUSES`)."""
        answered = TicketAssignment.end_cause.is_(None) | TicketAssignment.end_cause.not_in(UNANSWERED_CAUSES)
        last_agent = (select(TicketAssignment.agent_id).join(Ticket, TicketAssignment.ticket_id == Ticket.id)
                      .where(Ticket.customer_id == customer_id, answered)
                      .order_by(TicketAssignment.assigned_at.desc(), TicketAssignment.id.desc()).limit(1))
        past = select(func.count()).select_from(Ticket).where(Ticket.customer_id == customer_id)
        async with self._sessions() as session:
            row = (await session.execute(select(last_agent.scalar_subquery(), past.scalar_subquery()))).one()
            customer = await session.get(Customer, customer_id)
        agent_id = AgentId(row[0]) if row[0] else None
        if customer is None:
            return CustomerProfile(customer_id, last_agent_id=agent_id, past_tickets=int(row[1] or 0))
        return customer_view(customer).profile(agent_id, int(row[1] or 0))

    # agents --------------------------------------------------------------------------------------
    async def create_agent(self, username: str, name: str, password_hash: str, *, role: Role | str = Role.AGENT,
                           capacity: int = 3, tiers: Iterable[int] = (1,), languages: Iterable[str] = ("en",),
                           skills: Iterable[str] = (), shift: Iterable[ShiftWindow | Mapping[str, Any]] = (),
                           timezone: str = "UTC", active: bool = True, agent_id: AgentId | None = None,
                           now: datetime | float | None = None) -> AgentAccount:
        """Create a user account (the id is ``a_`` and 16 hex digits unless given).

        Raises:
            Conflict: the username (or the id) is taken.
        """
        fields = {"role": role, "tiers": tiers, "languages": languages, "skills": skills, "shift": shift}
        row = Agent(id=agent_id or f"a_{secrets.token_hex(8)}", username=username, name=name,
                    password_hash=password_hash, capacity=capacity, timezone=timezone, active=active,
                    created_at=utc(now) if now is not None else datetime.now(UTC),
                    **{key: _agent_column(key, value) for key, value in fields.items()})
        try:
            async with self._sessions.begin() as session:
                if await session.scalar(select(Agent.id).where(Agent.username == username)) is not None:
                    raise Conflict(f"The username {username!r} is taken.")
                session.add(row)
                await session.flush()
                return agent_account(row)
        except IntegrityError as error:
            raise Conflict(f"The username {username!r} is taken.") from error

    async def agent_by_username(self, username: str) -> AgentAccount | None:
        async with self._sessions() as session:
            row = await session.scalar(select(Agent).where(Agent.username == username))
        return None if row is None else agent_account(row)

    async def get_agent(self, agent_id: str) -> AgentAccount | None:
        async with self._sessions() as session:
            row = await session.get(Agent, agent_id)
        return None if row is None else agent_account(row)

    async def list_agents(self, *, active_only: bool = False) -> list[AgentAccount]:
        """Every account (or only active ones), by username."""
        query = select(Agent).order_by(Agent.username)
        if active_only:
            query = query.where(Agent.active.is_(True))
        async with self._sessions() as session:
            return [agent_account(row) for row in await session.scalars(query)]

    async def update_agent(self, agent_id: str, **fields: Any) -> AgentAccount | None:
        """Change an account's fields (any of ``username``, ``name``, ``password_hash``, ``role``, ``capacity``,
        ``tiers``, ``languages``, ``skills``, ``shift``, ``timezone``, ``active``). Returns the account, or
        None if there is none with that id.

        Raises:
            BadRequest: an unknown field.
            Conflict: the new username is taken.
        """
        unknown = set(fields) - _AGENT_FIELDS
        if unknown:
            raise BadRequest(f"Agents have no field {', '.join(sorted(unknown))}.")
        try:
            async with self._sessions.begin() as session:
                row = await session.get(Agent, agent_id, with_for_update=True)
                if row is None:
                    return None
                for key, value in fields.items():
                    setattr(row, key, _agent_column(key, value))
                await session.flush()
                return agent_account(row)
        except IntegrityError as error:
            raise Conflict(f"The username {fields.get('username')!r} is taken.") from error

    async def count_agents(self) -> int:
        async with self._sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(Agent)) or 0)

    # agents' sessions ----------------------------------------------------------------------------
    async def add_session(self, session_id: str, agent_id: AgentId, *, created_at: datetime | float,
                          expires_at: datetime | float) -> None:
        """Keep a session: ``session_id`` is the SHA-256 hex of its token (never the token itself)."""
        async with self._sessions.begin() as session:
            session.add(AgentSession(id=session_id, agent_id=agent_id, created_at=utc(created_at),
                                     expires_at=utc(expires_at)))

    async def get_session(self, session_id: str) -> tuple[AgentId, datetime] | None:
        """The session's agent and when it expires, or None if there is no such session."""
        async with self._sessions() as session:
            row = await session.get(AgentSession, session_id)
        return None if row is None else (AgentId(row.agent_id), row.expires_at)

    async def delete_session(self, session_id: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(delete(AgentSession).where(AgentSession.id == session_id))

    async def delete_sessions(self, agent_id: str) -> int:
        """Delete every session of the agent; how many there were."""
        async with self._sessions.begin() as session:
            return await changed_rows(session, delete(AgentSession).where(AgentSession.agent_id == agent_id))

    async def delete_expired_sessions(self, now: datetime | float) -> int:
        """Delete the sessions expired by ``now``; how many there were."""
        async with self._sessions.begin() as session:
            return await changed_rows(session, delete(AgentSession).where(AgentSession.expires_at <= utc(now)))

    # canned responses ----------------------------------------------------------------------------
    async def list_canned(self) -> list[CannedView]:
        """Every canned response, by shortcut."""
        async with self._sessions() as session:
            rows = await session.scalars(select(CannedResponse).order_by(CannedResponse.shortcut))
            return [CannedView(id=r.id, shortcut=r.shortcut, title=r.title, text=r.text) for r in rows]

    async def upsert_canned(self, shortcut: str, title: str, text: str) -> CannedView:
        """Create the canned response with this shortcut, or replace its title and text."""
        for attempt in (1, 2):  # a second try when a concurrent call inserted the same shortcut first
            try:
                async with self._sessions.begin() as session:
                    row = await session.scalar(select(CannedResponse).where(CannedResponse.shortcut == shortcut)
                                               .with_for_update())
                    if row is None:
                        row = CannedResponse(shortcut=shortcut, title=title, text=text)
                        session.add(row)
                    else:
                        row.title, row.text = title, text
                    await session.flush()
                    return CannedView(id=row.id, shortcut=row.shortcut, title=row.title, text=row.text)
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")
