"""Migrations create exactly the ORM's schema, idempotently; URLs are normalized; SQLite gets its pragmas."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Connection

from handoff.adapters.tickets import TicketLog, migrate, normalize_database_url
from handoff.adapters.tickets.database import make_engine
from handoff.adapters.tickets.migrate import alembic_config
from handoff.adapters.tickets.models import Base, Ticket
from handoff.core.errors import SettingsError
from tests.handoff.adapters.tickets.history import build_history


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
    assert version == "0014_practice"


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


def _revision(connection: Connection, config: Any, direction: str, revision: str) -> None:
    config.attributes["connection"] = connection
    getattr(command, direction)(config, revision)


async def test_0006_fills_the_ticket_measures_as_the_log_keeps_them(log: TicketLog, database_url: str) -> None:
    """Migration 0006 computes each older ticket's handle time, transfers and reopened flag by the same definitions
    the ticket log now keeps them by as it writes, and each ticket's first reason code (the hand-built history: tickets A to E, A reopened by E, B
    transferred once, C abandoned, D still open)."""
    await build_history(log)
    measures = select(Ticket.id, Ticket.handle_seconds, Ticket.transfers, Ticket.reopened, Ticket.reason).order_by(Ticket.id)
    async with log.engine.connect() as connection:
        kept = [tuple(row) for row in await connection.execute(measures)]
    assert [(round(h, 3) if h is not None else None, t, r, c) for _, h, t, r, c in kept] == [
        (1140.0, 0, True, "explicit_request"), (1100.0, 1, False, "out_of_scope"), (None, 0, False, "explicit_request"),
        (None, 0, False, "low_confidence"), (970.0, 0, False, "explicit_request")]

    async with log.engine.begin() as connection:  # back to 0005 (the columns go), then up again: the backfill
        await connection.run_sync(_revision, alembic_config(), "downgrade", "0005")
        await connection.run_sync(_revision, alembic_config(), "upgrade", "0006")
    async with log.engine.connect() as connection:
        filled = [tuple(row) for row in await connection.execute(measures)]
    assert [(i, None if h is None else round(h, 3), t, r, c) for i, h, t, r, c in filled] == \
        [(i, None if h is None else round(h, 3), t, r, c) for i, h, t, r, c in kept]


async def test_0007_adds_the_nlu_inbox_and_takes_it_away_again(log: TicketLog) -> None:
    """Migration 0007 creates the NLU inbox's table (and its indexes); down to 0006 it goes, up again it is back,
    empty, and takes rows with the unique message id the inbox's upsert relies on."""
    async def tables() -> tuple[set[str], set[str]]:
        async with log.engine.connect() as connection:
            names = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
            indexes = await connection.run_sync(
                lambda c: {i["name"] for i in inspect(c).get_indexes("inbox_items")} if "inbox_items" in names
                else set())
        return names, indexes

    names, indexes = await tables()
    assert "inbox_items" in names
    assert {"ix_inbox_items_conversation_id", "ix_inbox_items_key", "ix_inbox_items_status_created_at"} <= indexes
    async with log.engine.begin() as connection:
        await connection.run_sync(_revision, alembic_config(), "downgrade", "0006")
    assert "inbox_items" not in (await tables())[0]
    async with log.engine.begin() as connection:
        await connection.run_sync(_revision, alembic_config(), "upgrade", "head")
        differences = await connection.run_sync(_differences)
    assert "inbox_items" in (await tables())[0] and differences == []
    assert await log.inbox.counts() == {}


@pytest.mark.parametrize(("before", "revision", "table"), [("0007", "0008", "mail_messages"),
                                                         ("0008", "0009_im_messages", "im_messages")])
async def test_a_channels_migration_adds_its_table_and_takes_it_away(log: TicketLog, database_url: str, before: str,
                                                                    revision: str, table: str) -> None:
    """Migrations 0008 (the e-mail channel's ``mail_messages``) and 0009 (the IM channels' ``im_messages``) go
    down and up again on both databases."""
    async with log.engine.begin() as connection:
        await connection.run_sync(_revision, alembic_config(), "downgrade", before)
        tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert table not in tables
        await connection.run_sync(_revision, alembic_config(), "upgrade", revision)
        tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        await connection.run_sync(_revision, alembic_config(), "upgrade", "head")
        differences = await connection.run_sync(_differences)
    assert table in tables and differences == []


async def test_0013_adds_the_channel_identities_and_takes_them_away(log: TicketLog) -> None:
    """Migration 0013 (``channel_identities``) goes down to its parent and up again on both databases."""
    async with log.engine.begin() as connection:
        await connection.run_sync(_revision, alembic_config(), "downgrade", "0010_knowledge_workbench")
        tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert "channel_identities" not in tables and "knowledge_gaps" in tables
        await connection.run_sync(_revision, alembic_config(), "upgrade", "0013_channel_identities")
        tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        await connection.run_sync(_revision, alembic_config(), "upgrade", "head")  # the ORM is the head's
        differences = await connection.run_sync(_differences)
    assert "channel_identities" in tables and differences == []


async def test_0014_adds_the_practice_tables_and_takes_them_away(log: TicketLog) -> None:
    """Migration 0014_practice (team training's scenarios, sessions, replies) goes down to its parent and up again."""
    practice = {"practice_scenarios", "practice_sessions", "practice_replies"}
    async with log.engine.begin() as connection:
        await connection.run_sync(_revision, alembic_config(), "downgrade", "0013_channel_identities")
        tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert not practice & tables and "channel_identities" in tables
        await connection.run_sync(_revision, alembic_config(), "upgrade", "head")
        tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        differences = await connection.run_sync(_differences)
    assert practice <= tables and differences == []
    assert await log.practice.scenarios() == []


async def test_0010_adds_the_knowledge_gap_decisions_and_takes_them_away(log: TicketLog) -> None:
    """Migration 0010 (the knowledge workbench's ``knowledge_gaps``) goes down to its parent and up again."""
    async with log.engine.begin() as connection:
        await connection.run_sync(_revision, alembic_config(), "downgrade", "0009_im_messages")
        tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert "knowledge_gaps" not in tables and "im_messages" in tables
        await connection.run_sync(_revision, alembic_config(), "upgrade", "head")
        tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        differences = await connection.run_sync(_differences)
    assert "knowledge_gaps" in tables and differences == []
    assert await log.knowledge.decided() == {}
