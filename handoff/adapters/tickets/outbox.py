"""What every channel's outbox does with its rows (``mail_messages``, ``im_messages``): the rows whose next try
is due, a try taken by one instance at a time, a try's failure with its next time, a row sent. One class, each
channel's book names its table (:attr:`Outbox.table`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import and_, select, update

from handoff.adapters.tickets.database import Repository, utc


class Outbox(Repository):
    """The outbox of one channel's table: a row ``status`` ``pending`` with ``tries`` and ``next_try_at`` until a
    try succeeds (``sent``)."""

    table: ClassVar[Any]  # the ORM class: its status, tries, next_try_at, last_error columns

    async def _due_rows(self, now: datetime | float, limit: int, *where: Any) -> list[Any]:
        table = self.table
        async with self._sessions() as session:
            return list((await session.scalars(
                select(table).where(and_(table.status == "pending", table.next_try_at <= utc(now), *where))
                .order_by(table.id).limit(limit))).all())

    async def claim_try(self, row_id: int, tries: int, until: datetime | float) -> bool:
        """Take the row's next try (``tries`` as read): pushes its next try to ``until`` so another instance
        sweeping meanwhile leaves it; False if someone else took it first."""
        table = self.table
        async with self._sessions.begin() as session:
            result = await session.execute(update(table).where(
                table.id == row_id, table.status == "pending", table.tries == tries)
                .values(tries=tries + 1, next_try_at=utc(until)))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def _mark_sent(self, row_id: int, **values: Any) -> None:
        table = self.table
        async with self._sessions.begin() as session:
            await session.execute(update(table).where(table.id == row_id)
                                  .values(status="sent", next_try_at=None, last_error=None, **values))

    async def given_up(self, row_id: int, error: str) -> None:
        """The provider refused a message for good: ``failed``, never tried again."""
        table = self.table
        async with self._sessions.begin() as session:
            await session.execute(update(table).where(table.id == row_id)
                                  .values(status="failed", last_error=error[:500], next_try_at=None))

    async def try_failed(self, row_id: int, error: str, next_try_at: datetime | float) -> None:
        table = self.table
        async with self._sessions.begin() as session:
            await session.execute(update(table).where(table.id == row_id)
                                  .values(last_error=error[:500], next_try_at=utc(next_try_at)))
