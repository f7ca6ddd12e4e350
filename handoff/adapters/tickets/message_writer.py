"""Group commit for messages: every message waiting when a transaction starts goes into that transaction.

A message is acknowledged and relayed only once it is committed (the client keeps it until the ``ack``), so
one transaction per message made the database the relay's ceiling. The writer keeps the promise and pays
per transaction instead of per message: one task takes whatever is pending, writes it in one transaction,
commits, and answers each caller; messages that arrive meanwhile go into the next transaction. Under light
load a batch is one message and the latency one transaction, as before; under load batches grow by
themselves, with no timer to tune.

A transaction is two statements, whatever the batch size, and at most four:

1. ``UPDATE conversations SET updated_at ... RETURNING id`` for the batch's conversations: it tells which
   exist, and it locks their rows until commit, so that messages of one conversation commit in id order also
   across service instances (a reader resuming after id N never misses a smaller id committed later) and a
   resend racing its original waits for it, then conflicts in step 2;
2. one multi-row ``INSERT ... ON CONFLICT (conversation_id, client_id) DO NOTHING RETURNING`` for the
   batch's messages in the callers' order (a resend within the batch is left out);
3. only for resends (rows that conflicted): ``SELECT`` the stored messages, which answer them;
4. only when the batch has agent messages: the agents' names for the views.

A batch that fails is written again one message at a time, so one bad message fails alone; a unique-key
violation (two inserts past the lock, the last line of defence) answers with the message already stored.

When the database cannot be reached the batch is kept and tried again with back-off (from 50 ms, doubling)
for :data:`RETRY_FOR` seconds; then its callers hear :class:`~handoff.core.errors.UpstreamUnavailable` (an
``unavailable`` error frame: the client keeps the message and sends it again with its ``client_id``, which
stores it once). Messages waiting meanwhile are bounded (:data:`MAX_PENDING`): beyond it a caller hears
``unavailable`` at once, so an outage costs neither unbounded memory nor callers waiting for hours.

The statements are the same on both databases; how they run differs. On SQLite they go through SQLAlchemy.
On PostgreSQL they are written once in SQL and run on asyncpg directly, the batch's rows as arrays
(``unnest``), so each is one prepared statement whatever the batch size: building and compiling them through
SQLAlchemy took about a fifth of the production server's time at 2,000 relayed messages/s (py-spy).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import asyncpg
from sqlalchemy import String, any_, bindparam, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import asyncpg as postgresql_asyncpg
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from handoff.adapters.tickets.database import DISCONNECTS, UNAVAILABLE
from handoff.adapters.tickets.models import Agent, Conversation, Message
from handoff.adapters.tickets.views import MessageView
from handoff.core.errors import UnknownConversation, UpstreamUnavailable
from handoff.core.model import AgentId, ConversationId

logger = logging.getLogger(__name__)

MAX_BATCH = 500  # messages per transaction; a bigger backlog takes several
MAX_PENDING = 5000
"""Messages that may wait for the database (a few seconds of peak traffic); beyond, callers hear
``unavailable`` at once."""
RETRY_FOR = 5.0
"""Seconds a batch is tried again while the database cannot be reached, before its callers hear
``unavailable``."""
FIRST_RETRY = 0.05
BUSY = "Too many messages are waiting for the ticket database; nothing was saved. Try again shortly."


@dataclass(slots=True)
class PendingMessage:
    conversation_id: ConversationId
    sender: str
    text: str
    moment: datetime
    agent_id: AgentId | None
    payload: dict[str, Any] | None
    client_id: str | None
    done: asyncio.Future[tuple[MessageView, bool]] = field(repr=False)

    def view(self, message_id: int, agent_name: str | None) -> MessageView:
        return MessageView(id=message_id, conversation_id=self.conversation_id, sender=self.sender, text=self.text,
                           agent_id=self.agent_id, agent_name=agent_name, payload=self.payload,
                           client_id=self.client_id, created_at=self.moment)


def stored_view(row: Any) -> MessageView:
    return MessageView(id=row.id, conversation_id=ConversationId(row.conversation_id), sender=row.sender,
                       text=row.text, agent_id=AgentId(row.agent_id) if row.agent_id else None,
                       agent_name=row.agent_name, payload=row.payload, client_id=row.client_id,
                       created_at=row.created_at)


def stored_messages() -> Any:
    """Messages with their agent's name, as :func:`stored_view` reads them."""
    return (select(Message.id, Message.conversation_id, Message.sender, Message.text, Message.agent_id,
                   Message.payload, Message.client_id, Message.created_at, Agent.name.label("agent_name"))
            .outerjoin(Agent, Message.agent_id == Agent.id))


class MessageWriter:
    """Writes messages in group commits on ``engine``; one per ticket log, used from one event loop."""

    def __init__(self, engine: AsyncEngine, max_batch: int = MAX_BATCH, max_pending: int = MAX_PENDING,
                 retry_for: float = RETRY_FOR) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._max_pending = max_pending
        self._retry_for = retry_for
        self._writing = 0  # messages of the batch in its transaction (or waiting to try it again)
        self._pending: list[PendingMessage] = []
        self._task: asyncio.Task[None] | None = None

    async def add(self, conversation_id: ConversationId, sender: str, text: str, moment: datetime, *,
                  agent_id: AgentId | None, payload: Mapping[str, Any] | None,
                  client_id: str | None) -> tuple[MessageView, bool]:
        """Store one message (see :meth:`handoff.adapters.tickets.conversations.ConversationLog.add_message`).

        A caller cancelled while waiting does not cancel the write: the message is stored all the same.

        Raises:
            UpstreamUnavailable: the database cannot be reached (for :data:`RETRY_FOR` seconds), or too many
                messages wait for it already (:data:`MAX_PENDING`); nothing was stored.
        """
        if len(self._pending) + self._writing >= self._max_pending:
            raise UpstreamUnavailable(BUSY)
        loop = asyncio.get_running_loop()
        item = PendingMessage(conversation_id, sender, text, moment, agent_id,
                              dict(payload) if payload is not None else None, client_id, loop.create_future())
        self._pending.append(item)
        if self._task is None:
            self._task = loop.create_task(self._drain())
        return await asyncio.shield(item.done)

    async def close(self) -> None:
        """Wait for the messages already handed in."""
        while self._task is not None:
            await asyncio.shield(self._task)

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch = self._pending[:self._max_batch]
                del self._pending[:self._max_batch]
                self._writing = len(batch)
                await self._write(batch)
        finally:
            self._task, self._writing = None, 0

    async def _transaction(self, batch: list[PendingMessage]) -> list[tuple[MessageView, bool] | BaseException]:
        if self._engine.dialect.name == "postgresql":
            async with self._engine.connect() as connection:  # SQLAlchemy's side of it begins nothing
                driver: asyncpg.Connection = (await connection.get_raw_connection()).driver_connection
                async with driver.transaction():
                    return await _write_batch(_Asyncpg(driver), batch)
        async with self._engine.begin() as connection:
            return await _write_batch(_SqlAlchemy(connection), batch)

    async def _committed(self, batch: list[PendingMessage]) -> list[tuple[MessageView, bool] | BaseException]:
        """The batch's transaction, tried again with back-off while the database cannot be reached (a resend
        of a keyed message is stored once); then :class:`UpstreamUnavailable`."""
        loop = asyncio.get_running_loop()
        deadline, delay = loop.time() + self._retry_for, FIRST_RETRY
        while True:
            try:
                return await self._transaction(batch)
            except (UpstreamUnavailable, *DISCONNECTS) as error:
                if loop.time() + delay > deadline:
                    logger.warning("the ticket database does not answer; %d messages refused", len(batch))
                    raise UpstreamUnavailable(UNAVAILABLE) from error
                logger.warning("the ticket database does not answer (%s); trying again in %.2f s",
                               type(error).__name__, delay)
                await asyncio.sleep(delay)
                delay *= 2

    async def _write(self, batch: list[PendingMessage]) -> None:
        try:
            outcomes = await self._committed(batch)
        except UpstreamUnavailable as error:
            for item in batch:
                _settle(item, error)
            return
        except Exception as error:
            if len(batch) > 1:
                # the error's kind only: a driver's text may quote what it failed on (a customer's words)
                logger.warning("a batch of %d messages failed (%s); writing them one by one", len(batch),
                               type(error).__name__)
                for item in batch:
                    await self._write([item])
                return
            _settle(batch[0], await self._after_failure(batch[0], error))
            return
        for item, result in zip(batch, outcomes, strict=True):
            _settle(item, result)
        logger.debug("%d messages stored in one transaction", len(batch))

    async def _after_failure(self, item: PendingMessage,
                             error: Exception) -> tuple[MessageView, bool] | BaseException:
        """A unique-key violation means the message is stored already: that one answers; else the error."""
        if not isinstance(error, IntegrityError | asyncpg.IntegrityConstraintViolationError) or item.client_id is None:
            return error
        query = stored_messages().where(Message.conversation_id == item.conversation_id,
                                        Message.client_id == item.client_id)
        try:
            async with self._engine.connect() as connection:
                row = (await connection.execute(query)).first()
        except Exception:  # the caller hears the first error; never leave it waiting
            return error
        return error if row is None else (stored_view(row), False)


def _settle(item: PendingMessage, outcome: tuple[MessageView, bool] | BaseException) -> None:
    if item.done.done():
        return
    if isinstance(outcome, BaseException):
        item.done.set_exception(outcome)
    else:
        item.done.set_result(outcome)


class _SqlAlchemy:
    """The batch's statements through SQLAlchemy (SQLite)."""

    _insert_new = (sqlite.insert(Message)
                   .on_conflict_do_nothing(index_elements=[Message.conversation_id, Message.client_id])
                   .returning(Message.id, Message.conversation_id, Message.client_id))

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def touch(self, conversation_ids: list[str], latest: datetime) -> set[str]:
        touched = (update(Conversation).where(Conversation.id.in_(conversation_ids))
                   .values(updated_at=latest).returning(Conversation.id))
        return set((await self._connection.execute(touched)).scalars())

    async def insert(self, fresh: list[PendingMessage]) -> list[Any]:
        rows = [{"conversation_id": item.conversation_id, "sender": item.sender, "agent_id": item.agent_id,
                 "text": item.text, "payload": item.payload, "client_id": item.client_id,
                 "created_at": item.moment} for item in fresh]
        return list(await self._connection.execute(self._insert_new, rows))

    async def stored(self, conversation_ids: set[str], client_ids: set[str | None]) -> Iterable[Any]:
        return await self._connection.execute(stored_messages().where(Message.conversation_id.in_(conversation_ids),
                                                                      Message.client_id.in_(client_ids)))

    async def agent_names(self, agent_ids: Iterable[str]) -> dict[str, str]:
        found = await self._connection.execute(select(Agent.id, Agent.name).where(Agent.id.in_(agent_ids)))
        return {row.id: row.name for row in found}


# stored_messages() compiled once for asyncpg, with arrays for the keys: ($1 conversation ids, $2 client ids)
_STORED = str(stored_messages().where(Message.conversation_id == any_(bindparam("c", type_=ARRAY(String))),
                                      Message.client_id == any_(bindparam("k", type_=ARRAY(String))))
              .compile(dialect=postgresql_asyncpg.dialect()))  # type: ignore[no-untyped-call]


class _Asyncpg:
    """The same statements in PostgreSQL's SQL on asyncpg (each prepared once per connection by its cache)."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def touch(self, conversation_ids: list[str], latest: datetime) -> set[str]:
        rows = await self._connection.fetch(
            "UPDATE conversations SET updated_at = $2 WHERE id = ANY($1::varchar[]) RETURNING id",
            conversation_ids, latest)
        return {row["id"] for row in rows}

    async def insert(self, fresh: list[PendingMessage]) -> list[Any]:
        # WITH ORDINALITY ... ORDER BY: the rows take their ids in the callers' order, as a VALUES list would
        return [SimpleNamespace(**row) for row in await self._connection.fetch(
            "INSERT INTO messages (conversation_id, sender, agent_id, text, payload, client_id, created_at) "
            "SELECT c, s, a, t, p::json, k, w FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], "
            "$4::text[], $5::text[], $6::varchar[], $7::timestamptz[]) WITH ORDINALITY AS m(c, s, a, t, p, k, w, n) "
            "ORDER BY n ON CONFLICT (conversation_id, client_id) DO NOTHING RETURNING id, conversation_id, client_id",
            [i.conversation_id for i in fresh], [i.sender for i in fresh], [i.agent_id for i in fresh],
            [i.text for i in fresh], [None if i.payload is None else json.dumps(i.payload) for i in fresh],
            [i.client_id for i in fresh], [i.moment for i in fresh])]

    async def stored(self, conversation_ids: set[str], client_ids: set[str | None]) -> Iterable[Any]:
        rows = await self._connection.fetch(_STORED, list(conversation_ids), list(client_ids))
        return [SimpleNamespace(**{**row, "payload": None if row["payload"] is None else json.loads(row["payload"])})
                for row in rows]

    async def agent_names(self, agent_ids: Iterable[str]) -> dict[str, str]:
        rows = await self._connection.fetch("SELECT id, name FROM agents WHERE id = ANY($1::varchar[])",
                                            list(agent_ids))
        return {row["id"]: row["name"] for row in rows}


async def _write_batch(db: _SqlAlchemy | _Asyncpg,
                       batch: list[PendingMessage]) -> list[tuple[MessageView, bool] | BaseException]:
    known = await db.touch(sorted({item.conversation_id for item in batch}), max(item.moment for item in batch))

    fresh: list[PendingMessage] = []  # to insert, in the callers' order; a resend within the batch is not
    first_of: dict[tuple[str, str], PendingMessage] = {}
    for item in batch:
        if item.conversation_id not in known:
            continue
        if item.client_id is None or first_of.setdefault((item.conversation_id, item.client_id), item) is item:
            fresh.append(item)
    ids: dict[int, int] = {}  # id(item) -> its new message id
    if fresh:
        inserted = sorted(await db.insert(fresh), key=lambda row: row.id)
        # Ids grow in the order of the rows; a row that conflicted (a resend of a stored message) is
        # absent, which only keyed rows can be, so the unkeyed rows keep their order.
        by_key = {(row.conversation_id, row.client_id): row.id for row in inserted if row.client_id is not None}
        unkeyed = iter(row.id for row in inserted if row.client_id is None)
        for item in fresh:
            new_id = next(unkeyed) if item.client_id is None else by_key.get((item.conversation_id, item.client_id))
            if new_id is not None:
                ids[id(item)] = new_id
    existing: dict[tuple[str, str | None], MessageView] = {}
    resent = [item for item in first_of.values() if id(item) not in ids]
    if resent:
        for row in await db.stored({item.conversation_id for item in resent}, {item.client_id for item in resent}):
            existing[(row.conversation_id, row.client_id)] = stored_view(row)
    names: dict[str, str] = {}
    agents = {item.agent_id for item in fresh if item.agent_id and id(item) in ids}
    if agents:
        names = await db.agent_names(agents)

    outcomes: list[tuple[MessageView, bool] | BaseException] = []
    for item in batch:
        key = (item.conversation_id, item.client_id)
        if item.conversation_id not in known:
            outcomes.append(UnknownConversation(f"There is no conversation {item.conversation_id}."))
        elif id(item) in ids:
            outcomes.append((item.view(ids[id(item)], names.get(item.agent_id or "")), True))
        elif key in existing:
            outcomes.append((existing[key], False))
        else:  # a resend of a message earlier in this batch
            first = first_of[(item.conversation_id, item.client_id or "")]
            outcomes.append((first.view(ids[id(first)], names.get(first.agent_id or "")), False))
    return outcomes
