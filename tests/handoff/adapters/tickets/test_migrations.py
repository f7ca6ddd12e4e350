"""Migrations create exactly the ORM's schema, idempotently; URLs are normalized; SQLite gets its pragmas."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from handoff.adapters.tickets import TicketLog, migrate, normalize_database_url
from handoff.adapters.tickets.database import make_engine
from handoff.adapters.tickets.models import Base
from handoff.core.errors import SettingsError


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrate_creates_exactly_the_orm_schema(database_url: str) -> None:
    await migrate(database_url)
    await migrate(database_url)  # idempotent: a restart changes nothing

    engine = make_engine(database_url)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(_differences)
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
            version = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
    finally:
        await engine.dispose()
    assert differences == []
    assert tables == set(Base.metadata.tables) | {"alembic_version"}
    assert version == "0005"


async def test_migrate_concurrent_instances_take_turns(postgres_url: str) -> None:
    await asyncio.gather(*(migrate(postgres_url) for _ in range(3)))

    log = await TicketLog.open(postgres_url)
    try:
        assert await log.people.count_agents() == 0
    finally:
        await log.close()


async def test_migrate_then_open_on_a_fresh_sqlite_folder(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'folder' / 'tickets.db'}"
    await migrate(url)
    log = await TicketLog.open(url)
    try:
        assert await log.people.count_agents() == 0
        async with log.engine.connect() as connection:
            journal = (await connection.execute(text("PRAGMA journal_mode"))).scalar_one()
            foreign_keys = (await connection.execute(text("PRAGMA foreign_keys"))).scalar_one()
    finally:
        await log.close()
    assert (journal, foreign_keys) == ("wal", 1)


async def test_in_memory_sqlite_shares_one_database() -> None:
    log = await TicketLog.open("sqlite://")
    try:
        async with log.engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        await log.people.upsert_canned("/hi", "Hi", "Hello")
        assert [c.shortcut for c in await log.people.list_canned()] == ["/hi"]
    finally:
        await log.close()


@pytest.mark.parametrize(("given", "expected"), [
    ("postgresql://u:p@db:5432/app", "postgresql+asyncpg://u:p@db:5432/app"),
    ("postgres://u@db/app", "postgresql+asyncpg://u@db/app"),
    ("postgresql+asyncpg://u@db/app", "postgresql+asyncpg://u@db/app"),
    ("postgres://u@db/app?sslmode=require", "postgresql+asyncpg://u@db/app?ssl=require"),
    ("sqlite:///var/handoff.db", "sqlite+aiosqlite:///var/handoff.db"),
    ("sqlite:////abs/handoff.db", "sqlite+aiosqlite:////abs/handoff.db"),
    ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ("sqlite://", "sqlite+aiosqlite://"),
])
def test_normalize_database_url_picks_async_drivers(given: str, expected: str) -> None:
    assert normalize_database_url(given) == expected


@pytest.mark.parametrize("given", ["mysql://u@db/app", "not a url", ""])
def test_normalize_database_url_refuses_other_databases(given: str) -> None:
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        normalize_database_url(given)
