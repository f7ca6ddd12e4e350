"""The IM channels' messages, in and out (``im_messages``): a provider event taken in once, the conversation an
address writes in, and the outbox of messages kept until the provider took them. One table for every IM
channel (``xmpp``, ``telegram``, ...), told apart by ``channel``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from handoff.adapters.tickets.database import utc
from handoff.adapters.tickets.models import Conversation, ImMessage
from handoff.adapters.tickets.outbox import Outbox
from handoff.core.model import ConversationId, CustomerId

STALE_CLAIM = 300.0  # seconds after which an event still being taken in (its taker died) may be taken again


@dataclass(frozen=True)
class ImView:
    id: int
    channel: str
    event_id: str
    conversation_id: ConversationId | None
    message_id: int | None
    direction: str
    address: str
    text: str | None
    buttons: tuple[dict[str, str], ...]
    status: str
    tries: int
    next_try_at: datetime | None
    last_error: str | None
    provider_id: str | None
    created_at: datetime


def _view(row: ImMessage) -> ImView:
    buttons = tuple({"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
                    for b in row.buttons or [] if isinstance(b, dict))
    return ImView(row.id, row.channel, row.event_id,
                  ConversationId(row.conversation_id) if row.conversation_id else None, row.message_id,
                  row.direction, row.address, row.text, buttons, row.status, row.tries, row.next_try_at,
                  row.last_error, row.provider_id, row.created_at)


class ImBook(Outbox):
    """Instant messages (a repository of :class:`~handoff.adapters.tickets.TicketLog`)."""

    table = ImMessage

    async def claim_in(self, channel: str, event_id: str, address: str, now: datetime | float) -> int | None:
        """Take a provider event in (its row's id), once across instances: None if it was taken before (a
        re-delivery), unless that taker left it unfinished for :data:`STALE_CLAIM` seconds (it died)."""
        try:
            async with self._sessions.begin() as session:
                row = ImMessage(channel=channel, event_id=event_id, direction="in", address=address,
                                status="receiving", tries=0, created_at=utc(now))
                session.add(row)
                await session.flush()
                return row.id
        except IntegrityError:
            pass
        async with self._sessions.begin() as session:
            stale = utc(now) - timedelta(seconds=STALE_CLAIM)
            row_id = await session.scalar(
                update(ImMessage).where(ImMessage.channel == channel, ImMessage.event_id == event_id,
                                        ImMessage.status == "receiving", ImMessage.created_at < stale)
                .values(created_at=utc(now)).returning(ImMessage.id))
        return int(row_id) if row_id is not None else None

    async def drop_claim(self, row_id: int) -> None:
        """Forget an event whose taking-in failed, so that the provider's re-delivery is taken in."""
        async with self._sessions.begin() as session:
            await session.execute(delete(ImMessage).where(ImMessage.id == row_id, ImMessage.status == "receiving"))

    async def received(self, row_id: int, conversation_id: str, message_id: int) -> None:
        async with self._sessions.begin() as session:
            await session.execute(update(ImMessage).where(ImMessage.id == row_id).values(
                conversation_id=conversation_id, message_id=message_id, status="received"))

    async def taken_without_message(self, row_id: int) -> None:
        """An event taken in that became no customer message (an IM account's ``link CODE`` command)."""
        async with self._sessions.begin() as session:
            await session.execute(update(ImMessage).where(ImMessage.id == row_id).values(status="received"))

    async def conversation_of(self, channel: str, address: str) -> ConversationId | None:
        """The conversation ``address`` last wrote in on ``channel``, if any."""
        async with self._sessions() as session:
            found = await session.scalar(
                select(ImMessage.conversation_id).where(
                    ImMessage.channel == channel, ImMessage.address == address, ImMessage.direction == "in",
                    ImMessage.conversation_id.is_not(None)).order_by(ImMessage.id.desc()).limit(1))
        return ConversationId(found) if found else None

    async def address_of(self, conversation_id: str) -> str | None:
        """Where the conversation's customer writes from (its latest inbound message's address), if anywhere."""
        async with self._sessions() as session:
            return await session.scalar(
                select(ImMessage.address).where(ImMessage.conversation_id == conversation_id,
                                                ImMessage.direction == "in").order_by(ImMessage.id.desc()).limit(1))

    async def customer_of(self, channel: str, address: str) -> CustomerId | None:
        """The customer who wrote from ``address`` on ``channel`` before (an unverified identity), if any."""
        async with self._sessions() as session:
            found = await session.scalar(
                select(Conversation.customer_id).join(ImMessage, ImMessage.conversation_id == Conversation.id)
                .where(ImMessage.channel == channel, ImMessage.address == address, ImMessage.direction == "in")
                .order_by(ImMessage.id.desc()).limit(1))
        return CustomerId(found) if found else None

    async def latest_out(self, conversation_id: str) -> ImView | None:
        """The service's latest message to the conversation (what the customer answers: its buttons)."""
        async with self._sessions() as session:
            row = await session.scalar(
                select(ImMessage).where(ImMessage.conversation_id == conversation_id, ImMessage.direction == "out")
                .order_by(ImMessage.id.desc()).limit(1))
        return _view(row) if row is not None else None

    async def queue_out(self, channel: str, conversation_id: str, message_id: int, address: str, text: str,
                        buttons: list[dict[str, Any]], now: datetime | float) -> int | None:
        """Keep a message to send (its row's id); None if it is kept already (one message, one send)."""
        try:
            async with self._sessions.begin() as session:
                row = ImMessage(channel=channel, event_id=f"out:{message_id}", conversation_id=conversation_id,
                                message_id=message_id, direction="out", address=address, text=text,
                                buttons=buttons or None, status="pending", tries=0, next_try_at=utc(now),
                                created_at=utc(now))
                session.add(row)
                await session.flush()
                return row.id
        except IntegrityError:
            return None

    async def get(self, row_id: int) -> ImView | None:
        async with self._sessions() as session:
            row = await session.get(ImMessage, row_id)
        return _view(row) if row is not None else None

    async def thread(self, conversation_id: str) -> list[ImView]:
        """The conversation's instant messages, in and out, oldest first."""
        async with self._sessions() as session:
            rows = (await session.scalars(select(ImMessage).where(ImMessage.conversation_id == conversation_id)
                                          .order_by(ImMessage.id))).all()
        return [_view(row) for row in rows]

    async def due(self, now: datetime | float, limit: int = 50,
                  channels: tuple[str, ...] | None = None) -> list[ImView]:
        """Messages waiting for their provider whose next try is due (of ``channels`` only, when given), oldest
        first."""
        where = [ImMessage.channel.in_(channels)] if channels is not None else []
        return [_view(row) for row in await self._due_rows(now, limit, *where)]

    async def sent(self, row_id: int, provider_id: str | None) -> None:
        await self._mark_sent(row_id, provider_id=(provider_id or None) and provider_id[:255])
