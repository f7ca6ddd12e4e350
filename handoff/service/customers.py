"""The customer's side: starting a conversation, talking to the bot, escalating to the queue."""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from handoff.adapters.store.base import ConversationRecord
from handoff.adapters.tickets import MessageView
from handoff.core import texts
from handoff.core.conversation import Cause
from handoff.core.difficulty import category_for, estimate_tier, priority_for
from handoff.core.errors import BadRequest, StateConflict, UpstreamUnavailable
from handoff.core.model import ConversationId, CustomerId, State, TicketId
from handoff.service.base import conversation_channel, log_transition
from handoff.service.dispatch import Dispatch

logger = logging.getLogger(__name__)
SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "handoff-request.v1.json"


@dataclass(frozen=True, slots=True)
class Said:
    """A customer's message as :meth:`Customers.customer_says` stored it."""

    message: MessageView
    new: bool  # False: a resend of a message stored before (nothing stored, nothing relayed)
    state: State  # who owned the conversation when it was said


@cache
def request_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))


class Customers(Dispatch):
    async def open_conversation(self, *, channel: str = "web", name: str | None = None, email: str | None = None,
                                language: str = "en", external_id: str | None = None) -> ConversationRecord:
        """Start a conversation with the bot. ``external_id`` only when the shop's signature was verified."""
        now = self.now_dt()
        known = await self.log.customer_by_external_id(external_id) if external_id else None
        customer_id = known.customer_id if known else CustomerId("cu_" + secrets.token_urlsafe(9))
        if known is None:
            await self.log.upsert_customer(customer_id, external_id=external_id, name=name, email=email,
                                           language=language, now=now)
        conversation_id = ConversationId("c_" + secrets.token_urlsafe(12))
        await self.log.create_conversation(conversation_id, customer_id, channel, now)
        record = ConversationRecord(conversation_id, customer_id, channel, State.BOT, self.now(),
                                    known.language if known else language)
        await self.store.create_conversation(record)
        await self.log.record_transition(conversation_id, None, State.BOT.value, Cause.STARTED.value, now=now)
        logger.info("conversation %s: started on %s", conversation_id, channel)
        return record

    def check_text(self, text: Any) -> str:
        if not isinstance(text, str) or not text.strip():
            raise BadRequest("A message needs some text.")
        if len(text) > self.settings.max_message_chars:
            raise BadRequest(f"That message is too long: please keep it under {self.settings.max_message_chars} "
                             "characters.")
        return text.strip()

    async def customer_says(self, conversation_id: str, text: Any, client_id: str | None) -> Said:
        """Store the customer's message and relay it to whoever owns the conversation; the caller then calls
        :meth:`after_customer_message` (the bot's turn), so the sender can be told the message is safe before
        the bot has thought about it."""
        text = self.check_text(text)
        record = await self.conversation(conversation_id)
        message, new = await self.log.add_message(record.conversation_id, "customer", text, now=self.now_dt(),
                                                  client_id=client_id)
        if new:
            await self.publish_message(record, message)
        return Said(message, new, record.state)

    async def after_customer_message(self, said: Said) -> None:
        """The bot's turn, if the bot owns the conversation (a customer writing after the end reopens it).
        A message said to the queue or to an agent was theirs: the bot does not see it, and the live state is
        not read again (the relay's hot path)."""
        if said.state in (State.QUEUED, State.ASSIGNED):
            return
        record = await self.conversation(said.message.conversation_id)
        if record.state in (State.RESOLVED, State.OFFLINE, State.ABANDONED):
            record = await self._back_to_bot(record)
        if record.state is State.BOT:
            await self.ask_bot(record, said.message.text)

    async def _back_to_bot(self, record: ConversationRecord) -> ConversationRecord:
        try:
            after = await self.store.update_conversation(record.conversation_id, [record.state], {
                "state": State.BOT, "agent_id": None, "ticket_id": None, "queued_at": None, "assigned_at": None,
                "excluded": frozenset(), "requested_agent": None})
        except StateConflict:
            return await self.conversation(record.conversation_id)
        await self.transition(record, after, Cause.CUSTOMER_RETURNED)
        await self.store.publish(conversation_channel(after.conversation_id), await self.state_frame(after))
        return after

    async def ask_bot(self, record: ConversationRecord, text: str) -> None:
        """Send the customer's words to Rasa; relay its replies; queue the conversation if it asks for a person."""
        await self.store.publish(conversation_channel(record.conversation_id), {"type": "typing", "sender": "bot",
                                                                                "agent_name": None})
        try:
            replies = await self.rasa.send(record.conversation_id, text, {"channel": record.channel})
        except UpstreamUnavailable:
            await self.say(record, "system", texts.BOT_DOWN)
            await self.escalate(record.conversation_id, None, Cause.BOT_UNAVAILABLE)
            return
        request = None
        for reply in replies:
            custom = reply.get("custom")
            if isinstance(custom, dict) and isinstance(custom.get("handoff"), dict):
                request = custom["handoff"]
                continue
            payload = {key: reply[key] for key in ("buttons", "image", "custom") if reply.get(key)}
            if reply.get("text") or payload:
                await self.say(record, "bot", str(reply.get("text") or ""), payload=payload or None)
        if request is not None:
            errors = sorted(request_validator().iter_errors(request), key=str)
            if errors:
                logger.warning("conversation %s: the bot's hand-off request does not match the schema (%s)",
                               record.conversation_id, errors[0].message)
            await self.escalate(record.conversation_id, request, Cause.HANDOFF_REQUESTED)

    async def escalate(self, conversation_id: str, request: dict[str, Any] | None, cause: Cause) -> None:
        """Open a ticket and queue the conversation (or, out of hours, make it an offline ticket)."""
        record = await self.conversation(conversation_id)
        if record.state is not State.BOT:
            return
        customer = await self.profile(record)
        difficulty = estimate_tier(request, customer, 0)  # the bot's failed turns are in the request's figures
        priority, category = priority_for(request, customer), category_for(request)
        reasons = (request or {}).get("reasons") or [{"code": cause.value, "detail": texts.BOT_DOWN, "figures": {}}]
        now_dt = self.now_dt()
        common: dict[str, Any] = {"now": now_dt, "priority": priority.name.lower(), "tier": difficulty.tier,
                                  "category": category, "request": request, "reasons": list(reasons),
                                  "summary": (request or {}).get("summary", "")}
        if not self.hours.is_open(now_dt):
            await self._offline(record, common)
            return
        # The ticket and the conversation's move to the queue are one transaction of the log (it is the
        # escalation's latency), written before the live state moves. The store queues only a conversation
        # that is still the bot's: of two escalations at once (two sockets, two instances) one wins, and the
        # other withdraws its ticket.
        queued = self.transition_note(record.state, State.QUEUED, cause, details={
            "tier": difficulty.tier, "priority": priority.name.lower(), "difficulty": difficulty.score})
        ticket_id = await self.log.open_ticket(record.conversation_id, record.customer_id, record.channel,
                                               transition=queued, **common)
        try:
            after = await self.store.enqueue(record.conversation_id, {
                "priority": priority, "tier": difficulty.tier, "category": category, "queued_at": self.now(),
                "ticket_id": ticket_id, "excluded": frozenset(), "requested_agent": None, "agent_id": None})
        except StateConflict:
            await self._lost_race(record.conversation_id, ticket_id)
            return
        log_transition(record.conversation_id, queued)
        if await self.dispatch({record.conversation_id: customer}):  # an agent was free: the customer heard who
            after = await self.conversation(record.conversation_id)
        if after.state is State.QUEUED:
            frame = await self.state_frame(after)
            status = frame["queue"] or {"position": 1, "wait_seconds": None}
            await self.say(after, "system", texts.queued(status["position"], status["wait_seconds"]))
            await self.store.publish(conversation_channel(after.conversation_id), frame)
            await self.publish_queue()

    async def _offline(self, record: ConversationRecord, common: dict[str, Any]) -> None:
        customer = await self.log.get_customer(record.customer_id)
        opening = self.hours.next_opening(common["now"])
        email = customer.email if customer else None
        callback = {"contact": email, "channel": "email" if email else record.channel, "by": opening.isoformat()}
        offline = self.transition_note(record.state, State.OFFLINE, Cause.OUT_OF_HOURS)
        ticket_id = await self.log.open_ticket(record.conversation_id, record.customer_id, record.channel,
                                               status="offline", callback=callback, transition=offline, **common)
        try:
            after = await self.store.update_conversation(record.conversation_id, [State.BOT], {
                "state": State.OFFLINE, "ticket_id": ticket_id})
        except StateConflict:
            await self._lost_race(record.conversation_id, ticket_id)
            return
        log_transition(record.conversation_id, offline)
        contact = texts.OFFLINE_CONTACT_EMAIL.format(email=email) if email else texts.OFFLINE_CONTACT_HERE
        await self.say(after, "system", texts.OFFLINE.format(ticket=ticket_id, contact=contact,
                                                              opening=opening.strftime("%A %H:%M %Z")))
        await self.store.publish(conversation_channel(after.conversation_id), await self.state_frame(after))

    async def _lost_race(self, conversation_id: ConversationId, ticket_id: TicketId) -> None:
        """Another escalation of the conversation (a second socket's message, another instance) moved it
        between our read and our move: that one stands, with its ticket; ours is withdrawn."""
        await self.log.withdraw_ticket(ticket_id)
        logger.info("conversation %s: escalated twice at once; the second ticket (%s) was withdrawn",
                    conversation_id, ticket_id)

    async def customer_presence(self, conversation_id: str, connected: bool,
                                seen: ConversationRecord | None = None) -> None:
        """Remember when the customer's connection closed (a queued customer gone too long is abandoned).
        ``seen``: the record as the caller has just read it."""
        left = None if connected else self.now()
        if connected and seen is not None and seen.customer_left_at is None:
            return  # the record the socket has just read says so already: no write (a round trip per socket)
        with contextlib.suppress(StateConflict):
            await self.store.update_conversation(ConversationId(conversation_id), list(State),
                                                 {"customer_left_at": left})

