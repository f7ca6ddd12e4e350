"""The ticket log: the durable record of conversations, messages, transitions, tickets and people.

The live routing state is the Store's (:mod:`handoff.adapters.store.base`); this is
the history every QA figure is computed from. One class,
:class:`TicketLog`, assembled from a part per subject; every method is async,
runs in its own short transaction and returns frozen views
(:mod:`handoff.adapters.tickets.views`), never ORM objects.

Times go in as aware datetimes or epoch seconds (the Store's unit) and come
out as aware UTC datetimes.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from handoff.adapters.tickets.conversations import ConversationLog, read_last_message
from handoff.adapters.tickets.database import is_sqlite, make_engine, normalize_database_url
from handoff.adapters.tickets.kpis import KpiBook
from handoff.adapters.tickets.message_writer import MessageWriter
from handoff.adapters.tickets.models import Customer
from handoff.adapters.tickets.people import PeopleBook, customer_view
from handoff.adapters.tickets.ticketing import TicketBook, read_ticket
from handoff.adapters.tickets.views import CustomerView, MessageView, TicketView

logger = logging.getLogger(__name__)


class TicketLog(ConversationLog, TicketBook, PeopleBook, KpiBook):
    """The ticket log on one database (SQLite or PostgreSQL).

    Build it with ``await TicketLog.open(url)`` after :func:`handoff.adapters.tickets.migrate.migrate`, and
    ``await log.close()`` at shutdown.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._writer = MessageWriter(engine)

    @classmethod
    async def open(cls, database_url: str) -> TicketLog:
        """Connect to the database (the schema must be migrated already)."""
        engine = make_engine(database_url)
        backend = "sqlite" if is_sqlite(normalize_database_url(database_url)) else "postgresql"
        logger.info("ticket log opened on %s", backend)
        return cls(engine)

    async def summary_facts(self, customer_id: str, ticket_id: int | None,
                            conversation_id: str) -> tuple[CustomerView | None, TicketView | None, MessageView | None]:
        """What the console's one-line view of a conversation needs from the log, in one transaction: the
        customer, the ticket (if any) and the newest message."""
        async with self._sessions() as session:
            customer = await session.get(Customer, customer_id)
            ticket = await read_ticket(session, ticket_id) if ticket_id is not None else None
            return (None if customer is None else customer_view(customer), ticket,
                    await read_last_message(session, conversation_id))

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    async def close(self) -> None:
        """Finish the messages handed in, then close every pooled connection."""
        await self._writer.close()
        await self._engine.dispose()
