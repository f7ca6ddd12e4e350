"""Bring the ticket log's schema up to date with Alembic, configured in code (no ``alembic.ini``).

The service calls :func:`migrate` at start-up; it is idempotent, and on
PostgreSQL an advisory lock makes instances that start together take turns.

A new revision, after changing :mod:`handoff.adapters.tickets.models`::

    PYTHONPATH=. python -c "from alembic import command; from handoff.adapters.tickets.migrate import alembic_config; \\
        command.revision(alembic_config('sqlite:///tmp/schema.db'), 'what changed', autogenerate=True)"

against a database already at head; then read and correct the generated file.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection

from handoff.adapters.tickets.database import make_engine, normalize_database_url

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_LOCK_KEY = 0x68616E646F6666  # "handoff": one advisory lock for schema changes


def alembic_config(database_url: str | None = None) -> Config:
    """An Alembic configuration for the ticket log's migrations (the URL is used only without a connection)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if database_url is not None:
        config.set_main_option("sqlalchemy.url", normalize_database_url(database_url).replace("%", "%%"))
    return config


def _upgrade(connection: Connection, config: Config) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate(database_url: str) -> None:
    """Upgrade the database at ``database_url`` to the newest revision (nothing to do if it is there)."""
    engine = make_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade, alembic_config())
    finally:
        await engine.dispose()
    logger.info("ticket log schema is up to date")
