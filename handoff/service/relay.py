"""The relay: messages into the ticket log and out to every socket that shows them, on any instance, and to
the conversation's channel when it has one of its own (e-mail: :attr:`Relay.outbound`).

Channels on the store's bus: ``conv:<id>`` reaches a conversation's customer sockets, ``agent:<id>`` an
agent's console, ``queue`` every console (the queue's changes). A message is committed to the log before it
is published, so a client that missed an event (the bus is at-most-once) catches up from the log by id. A
message stored whose publication fails is not lost either: the caller goes on (the bot still answers it) and
every client reads it from the log when it reconnects.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from handoff.core.errors import BadRequest, UpstreamUnavailable
from handoff.core.model import MAX_CLIENT_ID, AgentId, ConversationRecord, State, moment
from handoff.service.ports import Clock, Event, Handler, MessageView, Store, Subscription, TicketLog
from handoff.service.telemetry import Telemetry

logger = logging.getLogger(__name__)
QUEUE_CHANNEL = "queue"
Outbound = Callable[[ConversationRecord, MessageView], Awaitable[None]]


def conversation_channel(conversation_id: str) -> str:
    return f"conv:{conversation_id}"


def agent_channel(agent_id: str) -> str:
    return f"agent:{agent_id}"


class Relay:
    """Stores messages and publishes them, and the frames every other part sends to clients."""

    def __init__(self, store: Store, log: TicketLog, clock: Clock, telemetry: Telemetry) -> None:
        self._store = store
        self._log = log
        self._clock = clock
        self._telemetry = telemetry
        self.outbound: dict[str, Outbound] = {}  # channel -> what sends the service's messages there (not web)

    def now(self) -> datetime:
        return moment(self._clock())

    async def keep(self, record: ConversationRecord, sender: str, text: str, *, client_id: str | None = None,
                   agent_id: AgentId | None = None,
                   payload: dict[str, Any] | None = None) -> tuple[MessageView, bool]:
        """Store a message once per ``client_id`` and publish it if it is new; False: a resend of one stored
        before (nothing stored, nothing published).

        Raises:
            BadRequest: ``client_id`` is not printable text of at most :data:`MAX_CLIENT_ID` characters.
        """
        if client_id is not None and (not client_id.isprintable() or not client_id.isascii()
                                      or len(client_id) > MAX_CLIENT_ID):
            raise BadRequest(f"client_id must be printable ASCII of at most {MAX_CLIENT_ID} characters.")
        message, new = await self._log.conversations.add_message(
            record.conversation_id, sender, text, now=self.now(), agent_id=agent_id, payload=payload,
            client_id=client_id)
        if new:
            await self._announce(record, message)
        return message, new

    async def say(self, record: ConversationRecord, sender: str, text: str, *, agent_id: AgentId | None = None,
                  payload: dict[str, Any] | None = None) -> MessageView:
        """Store and publish a message of the service (``system``) or the bot."""
        message, _ = await self.keep(record, sender, text, agent_id=agent_id, payload=payload)
        return message

    async def say_all(self, record: ConversationRecord, sender: str,
                      messages: Sequence[tuple[str, dict[str, Any] | None]]) -> list[MessageView]:
        """Store several messages of the bot (its replies to one turn: ``(text, payload)``) and publish them in
        their order. They reach the message writer together, so they share one transaction instead of one each
        (their ids still in their order); all are stored before the first is published."""
        stored = await asyncio.gather(*(self._log.conversations.add_message(
            record.conversation_id, sender, text, now=self.now(), payload=payload) for text, payload in messages))
        for message, _ in stored:
            await self._announce(record, message)
        return [message for message, _ in stored]

    async def _announce(self, record: ConversationRecord, message: MessageView) -> None:
        """Count and publish a message just stored; a bus that is down only logs it (the clients read the message
        from the log when they reconnect)."""
        self._telemetry.message(message.sender)
        try:
            await self.publish_message(record, message)
        except UpstreamUnavailable:
            logger.warning("conversation %s: message %s stored but not published (the bus is down)",
                           record.conversation_id, message.id)
        send = self.outbound.get(record.channel) if message.sender != "customer" else None
        if send is not None:  # a channel of its own (e-mail): the message goes out there too
            try:
                await send(record, message)
            except Exception:  # the message stays in the transcript; the channel's own outbox is what failed
                logger.exception("conversation %s: message %s not handed to the %s channel", record.conversation_id,
                                 message.id, record.channel)

    async def publish_message(self, record: ConversationRecord, message: MessageView) -> None:
        """A new message goes to the customer's sockets and to the assigned agent's console, in one round trip."""
        wire = message.to_json()
        events: list[tuple[str, Event]] = [
            (conversation_channel(record.conversation_id), {"type": "message", "message": wire})]
        if record.state is State.ASSIGNED and record.agent_id:
            events.append((agent_channel(record.agent_id), {
                "type": "message", "conversation_id": record.conversation_id, "message": wire}))
        await self._store.publish_all(events)

    async def to_customer(self, conversation_id: str, frame: Event) -> None:
        await self._store.publish(conversation_channel(conversation_id), frame)

    async def to_agent(self, agent_id: str, frame: Event) -> None:
        await self._store.publish(agent_channel(agent_id), frame)

    async def to_consoles(self, frame: Event) -> None:
        """To every signed-in console (the queue's changes)."""
        await self._store.publish(QUEUE_CHANNEL, frame)

    async def watch_customer(self, conversation_id: str, handler: Handler) -> list[Subscription]:
        """What a customer's socket receives: its conversation's frames."""
        return [await self._store.subscribe(conversation_channel(conversation_id), handler)]

    async def watch_agent(self, agent_id: str, handler: Handler) -> list[Subscription]:
        """What an agent's console receives: its own frames and the queue's changes."""
        return [await self._store.subscribe(agent_channel(agent_id), handler),
                await self._store.subscribe(QUEUE_CHANNEL, handler)]
