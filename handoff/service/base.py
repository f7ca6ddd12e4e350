"""Shared plumbing of the service: the parts, the clock, publishing, recording transitions."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from handoff.adapters.rasa import RasaClient
from handoff.adapters.store.base import ConversationRecord, Store
from handoff.adapters.tickets import MessageView, TicketLog, TransitionNote
from handoff.core.conversation import Cause, check_cause
from handoff.core.errors import UnknownConversation
from handoff.core.model import AgentId, ConversationId, State
from handoff.core.queue import QueueOrder
from handoff.core.routing import Router
from handoff.core.routing.schedule import BusinessHours
from handoff.settings import HandoffSettings

logger = logging.getLogger(__name__)


def conversation_channel(conversation_id: str) -> str:
    return f"conv:{conversation_id}"


def agent_channel(agent_id: str) -> str:
    return f"agent:{agent_id}"


QUEUE_CHANNEL = "queue"


class ServiceBase:
    """The parts every side of the service uses. Built once in ``handoff.web.app`` and shared by all requests."""

    def __init__(self, settings: HandoffSettings, store: Store, log: TicketLog, rasa: RasaClient, router: Router,
                 hours: BusinessHours, queue_order: QueueOrder | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.store = store
        self.log = log
        self.rasa = rasa
        self.router = router
        self.hours = hours
        self.queue_order = queue_order or QueueOrder()
        self.clock = clock
        self._dispatch_lock = asyncio.Lock()

    def now(self) -> float:
        return self.clock()

    def now_dt(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    async def conversation(self, conversation_id: str) -> ConversationRecord:
        record = await self.store.get_conversation(ConversationId(conversation_id))
        if record is None:
            raise UnknownConversation("There is no conversation with this id.")
        return record

    async def publish_message(self, record: ConversationRecord, message: MessageView) -> None:
        """A new message goes to the customer's sockets and to the assigned agent's."""
        wire = message.to_json()
        events: list[tuple[str, dict[str, Any]]] = [
            (conversation_channel(record.conversation_id), {"type": "message", "message": wire})]
        if record.state is State.ASSIGNED and record.agent_id:
            events.append((agent_channel(record.agent_id), {
                "type": "message", "conversation_id": record.conversation_id, "message": wire}))
        await self.store.publish_all(events)

    async def say(self, record: ConversationRecord, sender: str, text: str, *, agent_id: AgentId | None = None,
                  payload: dict[str, Any] | None = None) -> MessageView:
        """Store a message of the service (``system``) or the bot, and publish it."""
        message, _ = await self.log.add_message(record.conversation_id, sender, text, now=self.now_dt(),
                                                agent_id=agent_id, payload=payload)
        await self.publish_message(record, message)
        return message

    def transition_note(self, before: State, after: State, cause: Cause, *, actor: str | None = None,
                        details: Mapping[str, Any] | None = None) -> TransitionNote:
        """A state change for the ticket log, its cause checked against the state machine; for a write that
        records it along with something else (``TicketLog.open_ticket``), then :func:`log_transition`."""
        check_cause(before, after, cause)
        return TransitionNote(before.value, after.value, cause.value, actor, dict(details or {}))

    async def transition(self, before: ConversationRecord, after: ConversationRecord, cause: Cause, *,
                         actor: str | None = None, details: Mapping[str, Any] | None = None) -> None:
        """Record a state change in the ticket log (time, cause, actor)."""
        note = self.transition_note(before.state, after.state, cause, actor=actor, details=details)
        await self.log.record_transition(after.conversation_id, note.from_state, note.to_state, note.cause,
                                         now=self.now_dt(), actor=note.actor, details=note.details)
        log_transition(after.conversation_id, note)


def log_transition(conversation_id: str, note: TransitionNote) -> None:
    logger.info("conversation %s: %s -> %s (%s)", conversation_id, note.from_state, note.to_state, note.cause)
