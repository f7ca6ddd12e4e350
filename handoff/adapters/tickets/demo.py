"""The demo history's records (``python -m handoff demo-history``, docs/demo-history.md): whether the log is
empty, how many demo customers it has, and the removal of exactly the demo's data.

Demo customers are the ones whose e-mail address is at :data:`DEMO_DOMAIN` (``.invalid`` is reserved: no
real address ends so). Their data is every row that leads to them through foreign keys: their conversations,
those conversations' messages, transitions and tickets, the tickets' notes and assignments, and any other
table that refers to one of these (the supervisors' tables: ratings, follow-ups, reviews...), found from the
schema rather than listed here, so a table added later is removed with them too.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Table, delete, exists, func, or_, select

from handoff.adapters.tickets.database import Repository
from handoff.adapters.tickets.models import Base, Conversation, Customer

DEMO_DOMAIN = "demo.invalid"


def _demo_customers() -> ColumnElement[bool]:
    return Customer.email.like(f"%@{DEMO_DOMAIN}")


def _doomed(table: Table, memo: dict[str, ColumnElement[bool] | None]) -> ColumnElement[bool] | None:
    """The condition on ``table``'s rows that belong to the demo: the demo customers themselves, or a row with a
    foreign key to a row that belongs to it; None for a table none of whose rows can."""
    if table.name in memo:
        return memo[table.name]
    if table is Customer.__table__:
        memo[table.name] = _demo_customers()
        return memo[table.name]
    memo[table.name] = None  # a cycle of foreign keys leads nowhere new
    conditions = []
    for key in table.foreign_keys:
        parent = key.column.table
        if parent is table or not isinstance(parent, Table):
            continue
        condition = _doomed(parent, memo)
        if condition is not None:
            conditions.append(key.parent.in_(select(key.column).where(condition)))
    memo[table.name] = or_(*conditions) if conditions else None
    return memo[table.name]


class DemoRecords(Repository):
    """The demo history's records (a repository of :class:`~handoff.adapters.tickets.TicketLog`)."""

    async def is_empty(self) -> bool:
        """True when the log has no conversation at all (a fresh machine)."""
        async with self._sessions() as session:
            return not (await session.scalar(select(exists().where(Conversation.id.is_not(None)))))

    async def demo_customers(self) -> int:
        async with self._sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(Customer).where(
                _demo_customers())) or 0)

    async def delete_demo(self) -> dict[str, int]:
        """Delete every row of the demo, children before parents, in one transaction; the rows deleted by
        table (tables with none left out)."""
        memo: dict[str, ColumnElement[bool] | None] = {}
        conditions = {table: _doomed(table, memo) for table in Base.metadata.sorted_tables}
        deleted: dict[str, int] = {}
        async with self._sessions.begin() as session:
            for table in reversed(Base.metadata.sorted_tables):  # children first: their conditions read parents
                condition = conditions[table]
                if condition is None:
                    continue
                result: Any = await session.execute(delete(table).where(condition))
                if result.rowcount:
                    deleted[table.name] = int(result.rowcount)
        return deleted
