"""Channel identities linked to customers (``channel_identities``, migration 0013; docs/channels.md).

Only proved links are kept; an unverified identity has no row. The latest proof wins: linking an address
linked to another customer moves it (:meth:`IdentityBook.link` says from whom).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, select
from sqlalchemy.exc import IntegrityError

from handoff.adapters.tickets.database import Repository, changed_rows, utc
from handoff.adapters.tickets.models import ChannelIdentity
from handoff.adapters.tickets.views import iso
from handoff.core.model import CustomerId


@dataclass(frozen=True, slots=True)
class IdentityView:
    """A channel identity and the customer it is linked to."""

    channel: str
    address: str
    customer_id: CustomerId
    verified_by: str
    verified_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"channel": self.channel, "address": self.address, "verified_by": self.verified_by,
                "verified_at": iso(self.verified_at)}


def _view(row: ChannelIdentity) -> IdentityView:
    return IdentityView(row.channel, row.address, CustomerId(row.customer_id), row.verified_by, row.verified_at)


def identities_of(customers: Select[Any]) -> Any:
    """The statement deleting the identities of the customers ``customers`` selects (erasure, retention)."""
    return delete(ChannelIdentity).where(ChannelIdentity.customer_id.in_(customers))


class IdentityBook(Repository):
    """Linked channel identities (a repository of :class:`~handoff.adapters.tickets.TicketLog`)."""

    async def link(self, channel: str, address: str, customer_id: CustomerId, verified_by: str,
                   now: datetime | float) -> CustomerId | None:
        """Link ``(channel, address)`` (canonical already) to the customer; the customer it was linked to before
        if that was another one (the link moved), else None."""
        for attempt in (1, 2):  # a second try when a concurrent call inserted the same identity first
            try:
                async with self._sessions.begin() as session:
                    row = await session.get(ChannelIdentity, (channel, address), with_for_update=True)
                    before = None
                    if row is None:
                        session.add(ChannelIdentity(channel=channel, address=address, customer_id=customer_id,
                                                    verified_by=verified_by, verified_at=utc(now)))
                    else:
                        before = CustomerId(row.customer_id) if row.customer_id != customer_id else None
                        row.customer_id, row.verified_by, row.verified_at = customer_id, verified_by, utc(now)
                    return before
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def get(self, channel: str, address: str) -> IdentityView | None:
        async with self._sessions() as session:
            row = await session.get(ChannelIdentity, (channel, address))
        return None if row is None else _view(row)

    async def of_customer(self, customer_id: str) -> list[IdentityView]:
        """The customer's linked identities, by channel and address."""
        query = (select(ChannelIdentity).where(ChannelIdentity.customer_id == customer_id)
                 .order_by(ChannelIdentity.channel, ChannelIdentity.address))
        async with self._sessions() as session:
            return [_view(row) for row in await session.scalars(query)]

    async def unlink(self, channel: str, address: str, customer_id: str) -> bool:
        """Remove the link if it is the customer's; whether there was one."""
        async with self._sessions.begin() as session:
            return await changed_rows(session, delete(ChannelIdentity).where(
                ChannelIdentity.channel == channel, ChannelIdentity.address == address,
                ChannelIdentity.customer_id == customer_id)) > 0
