"""Database URLs and engines: SQLite through aiosqlite (embedded), PostgreSQL through asyncpg (production)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
from sqlalchemy import Executable, Float, event
from sqlalchemy.engine import CursorResult, ExceptionContext, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from handoff.core.errors import SettingsError, UpstreamUnavailable

_SCHEMES = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}
SQLITE_BUSY_TIMEOUT = 15.0  # seconds a writer waits for another connection's write lock
CONNECT_TIMEOUT = 5.0  # seconds to reach PostgreSQL before the caller hears it is unavailable (503)
DISCONNECTS = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
               asyncpg.CannotConnectNowError)
"""What the database's driver raises when the database cannot be reached: recoverable, retried by the
message writer, told to callers as :class:`~handoff.core.errors.UpstreamUnavailable`."""
UNAVAILABLE = "The ticket database does not answer; nothing was saved. Try again shortly."


def _unreachable(context: ExceptionContext) -> None:
    """Turn a lost or refused database connection into :class:`UpstreamUnavailable` (a 503, an ``unavailable``
    error frame: the client keeps its message and retries), never a 500 or a closed socket."""
    original = context.original_exception
    if context.is_disconnect or isinstance(original, DISCONNECTS):
        raise UpstreamUnavailable(UNAVAILABLE) from original


def normalize_database_url(url: str) -> str:
    """Map a conventional database URL to the async driver the ticket log uses.

    ``postgres://`` and ``postgresql://`` become ``postgresql+asyncpg://`` (with a libpq
    ``sslmode=`` query parameter renamed to asyncpg's ``ssl=``); ``sqlite:///x`` becomes
    ``sqlite+aiosqlite:///x``. URLs already naming these drivers are returned unchanged.

    Raises:
        SettingsError: the URL names another database or driver.
    """
    scheme, sep, rest = url.partition("://")
    target = _SCHEMES.get(scheme.lower())
    if not sep:
        raise SettingsError("DATABASE_URL must be a URL such as postgresql://host/db or sqlite:///path.")
    if target is None:
        raise SettingsError(f"DATABASE_URL must start with postgresql:// or sqlite:///, not {scheme}://.")
    normalized = f"{target}://{rest}"
    if target.startswith("postgresql"):
        parts = urlsplit(normalized)
        query = [("ssl" if key == "sslmode" else key, value) for key, value in parse_qsl(parts.query)]
        normalized = urlunsplit(parts._replace(query=urlencode(query)))
    return normalized


def utc(moment: datetime | float) -> datetime:
    """An aware UTC datetime from an aware datetime or seconds since the epoch (the store's unit).

    Raises:
        ValueError: a naive datetime (its zone is unknowable).
    """
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise ValueError(f"naive datetime {moment!r}: pass an aware datetime or epoch seconds")
        return moment.astimezone(UTC)
    return datetime.fromtimestamp(moment, UTC)


class epoch(FunctionElement[float]):
    """Seconds since the epoch of a timestamp column, as a float, on either database."""

    type = Float()
    inherit_cache = True


@compiles(epoch, "postgresql")
def _epoch_postgresql(element: epoch, compiler: SQLCompiler, **kw: Any) -> str:
    # date_part is the double EXTRACT's numeric rounds to (both exact to the microsecond), without the numeric.
    return f"date_part('epoch', {compiler.process(element.clauses, **kw)})"


@compiles(epoch, "sqlite")
def _epoch_sqlite(element: epoch, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps the UTC time as text; julianday() reads it (2440587.5 is the epoch's Julian day) to the
    # millisecond, as a double of days, which is up to ~50 us off (10:00:00 came out as 09:59:59.99995 and floored
    # into the interval before): rounded to the millisecond, the value is exact again.
    return f"round((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0, 3)"


def is_sqlite(url: str) -> bool:
    """Whether a normalized URL points at SQLite."""
    return url.startswith("sqlite")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the writer; SQLite leaves foreign keys off unless asked, per connection.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(database_url: str) -> AsyncEngine:
    """An async engine for the URL (normalized first); SQLite gets WAL and foreign keys on every connection.
    Errors never quote the statement's parameters.

    The parent folder of a SQLite file is created if missing; an in-memory SQLite database uses one shared
    connection, so every session sees the same data.
    """
    url = normalize_database_url(database_url)
    # hide_parameters: an error's text leaves out the statement's values (customers' words, e-mails), so a
    # failed write can be logged with its traceback and nothing a customer said.
    if not is_sqlite(url):
        engine = create_async_engine(url, pool_pre_ping=True, hide_parameters=True,
                                     connect_args={"timeout": CONNECT_TIMEOUT})
        event.listen(engine.sync_engine, "handle_error", _unreachable)
        return engine
    database = make_url(url).database
    options: dict[str, Any] = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT}, "hide_parameters": True}
    if not database or database == ":memory:":
        options["poolclass"] = StaticPool
    else:
        # One connection: the service's transactions take turns in the pool's FIFO queue instead of meeting at
        # SQLite's write lock, whose busy handler sleeps in growing steps (tens of ms per wait under load) and
        # can fail a WAL reader-turned-writer outright. Every ticket-log method holds it for one short
        # transaction and never opens a second one meanwhile.
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        options.update(pool_size=1, max_overflow=0)
    engine = create_async_engine(url, **options)
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    event.listen(engine.sync_engine, "handle_error", _unreachable)
    return engine


async def changed_rows(session: AsyncSession, statement: Executable) -> int:
    """Execute an UPDATE (or DELETE) and return how many rows it matched."""
    result = await session.execute(statement)
    return cast(CursorResult[Any], result).rowcount


class Sessions:
    """The log's session factory (``sessions()``, ``sessions.begin()``, as :class:`async_sessionmaker`), where a
    database that cannot be reached (a connection refused or lost) is :class:`UpstreamUnavailable` to callers:
    the pool raises the driver's own errors when it cannot connect, which no engine event sees."""

    def __init__(self, factory: async_sessionmaker[AsyncSession]) -> None:
        self._factory = factory

    @contextlib.asynccontextmanager
    async def __call__(self) -> AsyncIterator[AsyncSession]:
        try:
            async with self._factory() as session:
                yield session
        except DISCONNECTS as error:
            raise UpstreamUnavailable(UNAVAILABLE) from error

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:
        try:
            async with self._factory.begin() as session:
                yield session
        except DISCONNECTS as error:
            raise UpstreamUnavailable(UNAVAILABLE) from error


class Repository:
    """One subject of the ticket log (conversations, tickets, people, KPIs) over the log's shared sessions.

    Each method runs in its own short transaction and returns frozen views, never ORM objects.
    """

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions
