"""Ticket-log fixtures: every test runs on SQLite (a file in tmp_path) and on PostgreSQL (a database of its own).

The PostgreSQL database is created on the server at ``POSTGRES_ADMIN`` (``TEST_POSTGRES_URL`` overrides it),
migrated, and dropped after the test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from handoff.adapters.tickets import TicketLog, migrate
from handoff.adapters.tickets.views import AgentAccount
from handoff.core.model import AgentId, ConversationId, CustomerId

POSTGRES_ADMIN = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
CUSTOMER = CustomerId("cu_1")
CONVERSATION = ConversationId("c_1")


def at(seconds: float) -> datetime:
    """A moment ``seconds`` after T0."""
    return T0 + timedelta(seconds=seconds)


async def _admin() -> asyncpg.Connection:
    try:
        return await asyncpg.connect(POSTGRES_ADMIN, timeout=10)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN} ({exc}); make test starts it")


async def _postgres_url() -> AsyncIterator[str]:
    name = f"handoff_test_{uuid.uuid4().hex[:12]}"
    admin = await _admin()
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield POSTGRES_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        admin = await _admin()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database's URL (not migrated), on each backend in turn."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tickets.db'}"
        return
    async for url in _postgres_url():
        yield url


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """An empty PostgreSQL database's URL (for what only PostgreSQL can do: several instances at once)."""
    async for url in _postgres_url():
        yield url


@pytest.fixture
async def log(database_url: str) -> AsyncIterator[TicketLog]:
    """A ticket log on a migrated database."""
    await migrate(database_url)
    opened = await TicketLog.open(database_url)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def conversation(log: TicketLog) -> ConversationId:
    """One conversation, ``c_1`` of customer ``cu_1``, started at T0."""
    await log.people.upsert_customer(CUSTOMER, name="Jo", email="jo@example.com", now=T0)
    await log.conversations.create_conversation(CONVERSATION, CUSTOMER, "web", T0)
    return CONVERSATION


@pytest.fixture
async def ada(log: TicketLog) -> AgentAccount:
    return await log.people.create_agent("ada", "Ada Lovelace", "hash-a", agent_id=AgentId("a_ada"), tiers=[1, 2],
                                  now=T0)


@pytest.fixture
async def grace(log: TicketLog) -> AgentAccount:
    return await log.people.create_agent("grace", "Grace Hopper", "hash-g", agent_id=AgentId("a_grace"), now=T0)
