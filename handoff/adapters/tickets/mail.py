"""The e-mail channel's mail, in and out (``mail_messages``): which conversation a reply threads into, a
re-delivered message stored once, and the outbox of replies kept until the relay took them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from handoff.adapters.tickets.database import utc
from handoff.adapters.tickets.models import ChannelIdentity, Conversation, Customer, MailMessage
from handoff.adapters.tickets.outbox import Outbox
from handoff.core.model import ConversationId, CustomerId


@dataclass(frozen=True)
class MailView:
    id: int
    mail_id: str
    conversation_id: ConversationId
    message_id: int | None
    direction: str
    address: str
    subject: str
    status: str
    tries: int
    next_try_at: datetime | None
    last_error: str | None
    raw: str | None
    created_at: datetime


def _view(row: MailMessage) -> MailView:
    return MailView(row.id, row.mail_id, ConversationId(row.conversation_id), row.message_id, row.direction,
                    row.address, row.subject, row.status, row.tries, row.next_try_at, row.last_error, row.raw,
                    row.created_at)


class MailBook(Outbox):
    """E-mail (a repository of :class:`~handoff.adapters.tickets.TicketLog`)."""

    table = MailMessage

    async def known(self, mail_id: str) -> bool:
        async with self._sessions() as session:
            found = await session.scalar(select(MailMessage.id).where(MailMessage.mail_id == mail_id))
        return found is not None

    async def conversation_of(self, mail_ids: Sequence[str]) -> ConversationId | None:
        """The conversation of the latest of ``mail_ids`` we know (in or out), if any."""
        if not mail_ids:
            return None
        async with self._sessions() as session:
            found = await session.scalar(select(MailMessage.conversation_id)
                                         .where(MailMessage.mail_id.in_(list(mail_ids)))
                                         .order_by(MailMessage.id.desc()).limit(1))
        return ConversationId(found) if found else None

    async def customer_of(self, address: str) -> CustomerId | None:
        """The pseudo-customer who wrote from ``address`` before (their unverified e-mail identity), if any: never
        a customer the shop signed in or one with linked identities, whose mail from this address was theirs only
        while the address was linked to them (docs/channels.md, "Who a customer is")."""
        linked = select(ChannelIdentity.channel).where(ChannelIdentity.customer_id == Conversation.customer_id)
        async with self._sessions() as session:
            found = await session.scalar(
                select(Conversation.customer_id).join(MailMessage, MailMessage.conversation_id == Conversation.id)
                .join(Customer, Customer.id == Conversation.customer_id)
                .where(MailMessage.address == address, MailMessage.direction == "in",
                       Customer.external_id.is_(None), ~linked.exists())
                .order_by(MailMessage.id.desc()).limit(1))
        return CustomerId(found) if found else None

    async def record_in(self, mail_id: str, conversation_id: str, message_id: int | None, address: str,
                        subject: str, now: datetime | float) -> bool:
        """Keep an inbound mail; False if it was kept before (a re-delivery, here or on another instance)."""
        try:
            async with self._sessions.begin() as session:
                session.add(MailMessage(mail_id=mail_id, conversation_id=conversation_id, message_id=message_id,
                                        direction="in", address=address, subject=subject[:998], status="received",
                                        tries=0, created_at=utc(now)))
        except IntegrityError:
            return False
        return True

    async def thread(self, conversation_id: str) -> list[MailView]:
        """The conversation's mail, in and out, oldest first."""
        async with self._sessions() as session:
            rows = (await session.scalars(select(MailMessage).where(MailMessage.conversation_id == conversation_id)
                                          .order_by(MailMessage.id))).all()
        return [_view(row) for row in rows]

    async def queue_out(self, mail_id: str, conversation_id: str, message_id: int | None, address: str, subject: str,
                        raw: str, now: datetime | float) -> int | None:
        """Keep a reply to send (its row's id); None if it is kept already (one message, one mail)."""
        try:
            async with self._sessions.begin() as session:
                row = MailMessage(mail_id=mail_id, conversation_id=conversation_id, message_id=message_id,
                                  direction="out", address=address, subject=subject[:998], status="pending",
                                  tries=0, next_try_at=utc(now), raw=raw, created_at=utc(now))
                session.add(row)
                await session.flush()
                return row.id
        except IntegrityError:
            return None

    async def get(self, row_id: int) -> MailView | None:
        async with self._sessions() as session:
            row = await session.get(MailMessage, row_id)
        return _view(row) if row is not None else None

    async def due(self, now: datetime | float, limit: int = 50) -> list[MailView]:
        """Replies waiting for the relay whose next try is due, oldest first."""
        return [_view(row) for row in await self._due_rows(now, limit)]

    async def sent(self, row_id: int) -> None:
        await self._mark_sent(row_id)
