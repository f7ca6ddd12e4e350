"""The customer's side: starting a conversation, talking to the bot (or to whoever owns it), coming back.

While the bot owns a conversation, each customer message is stored, acknowledged, then sent to the bot; its
replies are stored and relayed, and a reply carrying a hand-off request escalates. While the queue or an
agent owns it, the bot sees nothing new. A customer who writes after the end hands it back to the bot.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from handoff.core import texts, transitions
from handoff.core.conversation import Cause
from handoff.core.errors import BadRequest, StateConflict, UpstreamUnavailable
from handoff.core.model import ConversationId, ConversationRecord, CustomerId, State, moment
from handoff.service.auth import check_customer_token, customer_token, verified_external_id
from handoff.service.board import Board
from handoff.service.changes import Changes
from handoff.service.escalation import Escalation
from handoff.service.ports import Bot, Clock, Handler, MessageView, Store, Subscription, TicketLog
from handoff.service.relay import Relay
from handoff.settings import HandoffSettings

logger = logging.getLogger(__name__)
ENDED = (State.RESOLVED, State.OFFLINE, State.ABANDONED)
TURN_MARGIN = 5.0  # seconds a bot turn's claim outlasts HANDOFF_RASA_TIMEOUT (storing and relaying the replies)


@dataclass(frozen=True, slots=True)
class Said:
    """A customer's message as :meth:`Conversations.says` stored it."""

    message: MessageView
    new: bool  # False: a resend of a message stored before (nothing stored, nothing relayed)
    state: State  # who owned the conversation when it was said


class Conversations:
    """What the widget (and any customer channel) does."""

    def __init__(self, settings: HandoffSettings, store: Store, log: TicketLog, bot: Bot, relay: Relay,
                 board: Board, changes: Changes, escalation: Escalation, clock: Clock) -> None:
        self._settings = settings
        self._store = store
        self._log = log
        self._bot = bot
        self._relay = relay
        self._board = board
        self._changes = changes
        self._escalation = escalation
        self._clock = clock

    # ---- identity -----------------------------------------------------------------------------------

    def token(self, conversation_id: str) -> str:
        """The customer's key to the conversation (only its holder may read or write it)."""
        return customer_token(str(self._settings.secret), ConversationId(conversation_id))

    def check_token(self, conversation_id: str, token: str | None) -> None:
        """Raises ``NotAllowed`` unless ``token`` is the conversation's."""
        check_customer_token(str(self._settings.secret), ConversationId(conversation_id), token)

    # ---- reading --------------------------------------------------------------------------------------

    async def get(self, conversation_id: str) -> ConversationRecord:
        """The conversation's live record; raises ``UnknownConversation``."""
        return await self._board.conversation(conversation_id)

    async def history(self, conversation_id: str, after: int = 0) -> list[MessageView]:
        """The conversation's messages with ids above ``after``, oldest first."""
        return await self._log.conversations.messages(conversation_id, after_id=after)

    async def queue_status(self, record: ConversationRecord) -> dict[str, Any] | None:
        return await self._board.queue_status(record)

    async def state_frame(self, record: ConversationRecord) -> dict[str, Any]:
        return await self._board.state_frame(record)

    async def watch(self, conversation_id: str, handler: Handler) -> list[Subscription]:
        """Deliver the conversation's frames (messages, state, typing) to ``handler`` from now on."""
        return await self._relay.watch_customer(conversation_id, handler)

    # ---- writing --------------------------------------------------------------------------------------

    async def open(self, *, channel: str = "web", name: str | None = None, email: str | None = None,
                   language: str = "en", external_id: str | None = None,
                   signature: str | None = None) -> ConversationRecord:
        """Start a conversation with the bot. ``external_id`` links the customer's record (value tier, history)
        only when ``signature`` is the shop's for it (``HANDOFF_WIDGET_SECRET``); otherwise it is ignored and
        the visitor is anonymous."""
        widget_secret = str(self._settings.widget_secret) if self._settings.widget_secret else None
        external_id = verified_external_id(widget_secret, external_id, signature)
        now = moment(self._clock())
        people = self._log.people
        known = await people.customer_by_external_id(external_id) if external_id else None
        customer_id = known.customer_id if known else CustomerId("cu_" + secrets.token_urlsafe(9))
        if known is None:
            await people.upsert_customer(customer_id, external_id=external_id, name=name, email=email,
                                         language=language, now=now)
        conversation_id = ConversationId("c_" + secrets.token_urlsafe(12))
        await self._log.conversations.create_conversation(conversation_id, customer_id, channel, now)
        record = ConversationRecord(conversation_id, customer_id, channel, State.BOT, self._clock(),
                                    known.language if known else language,
                                    customer_name=known.name if known else name,
                                    customer_email=known.email if known else email)
        await self._store.create_conversation(record)
        await self._log.conversations.record_transition(conversation_id, None, State.BOT.value,
                                                        Cause.STARTED.value, now=now)
        logger.info("conversation %s: started on %s", conversation_id, channel)
        return record

    def check_text(self, text: Any) -> str:
        if not isinstance(text, str) or not text.strip():
            raise BadRequest("A message needs some text.")
        if len(text) > self._settings.max_message_chars:
            raise BadRequest(f"That message is too long: please keep it under {self._settings.max_message_chars} "
                             "characters.")
        return text.strip()

    async def says(self, conversation_id: str, text: Any, client_id: str | None) -> Said:
        """Store the customer's message and relay it to whoever owns the conversation; the caller then calls
        :meth:`bot_turn`, so the sender can be told the message is safe before the bot has thought about it."""
        text = self.check_text(text)
        record = await self.get(conversation_id)
        message, new = await self._relay.keep(record, "customer", text, client_id=client_id)
        return Said(message, new, record.state)

    async def bot_turn(self, said: Said) -> None:
        """The bot's turn, if the bot owns the conversation (a customer writing after the end reopens it).
        A message said to the queue or to an agent was theirs: the bot does not see it, and the live state is
        not read again (the relay's hot path)."""
        if not said.new or said.state in (State.QUEUED, State.ASSIGNED):
            return
        record = await self.get(said.message.conversation_id)
        if record.state in ENDED:
            record = await self._back_to_bot(record)
        await self._answer(record, said.message)

    async def replay(self, message: MessageView) -> bool:
        """The bot's turn on a customer message it never answered (:mod:`handoff.service.recovery`), if the bot
        still owns the conversation. False: a turn on it is under way (or was, within ``HANDOFF_RASA_TIMEOUT``)
        on some instance; ask again once that has had its time."""
        record = await self.get(message.conversation_id)
        if record.state is not State.BOT:
            return True
        logger.info("conversation %s: the bot answers message %s again", record.conversation_id, message.id)
        return await self._answer(record, message)

    async def _answer(self, record: ConversationRecord, message: MessageView) -> bool:
        """The bot's turn on ``message``, once at a time across instances (a claim lasting as long as a turn
        may); False if another turn on it holds the claim."""
        if record.state is not State.BOT:
            return True
        if not await self._store.claim(f"turn:{message.id}", self._settings.rasa_timeout + TURN_MARGIN):
            return False
        await self._ask_bot(record, message.text)
        return True

    async def still_here(self, conversation_id: str) -> ConversationRecord:
        """A live socket of the customer says so (the gateway, every ``HANDOFF_QUEUE_REFRESH`` seconds while
        queued): another of their sockets closing, or a restart, must not make them abandoned."""
        record = await self.get(conversation_id)
        if record.state is State.QUEUED and record.customer_left_at is not None:
            await self.presence(conversation_id, connected=True)
        return record

    async def typing(self, conversation_id: str) -> None:
        """The customer is typing: the assigned agent sees it."""
        record = await self.get(conversation_id)
        if record.state is State.ASSIGNED and record.agent_id:
            await self._relay.to_agent(record.agent_id, {"type": "typing", "conversation_id": conversation_id})

    async def presence(self, conversation_id: str, connected: bool, seen: ConversationRecord | None = None) -> None:
        """Remember when the customer's connection closed (a queued customer gone too long is abandoned).
        ``seen``: the record as the caller has just read it."""
        if connected and seen is not None and seen.customer_left_at is None:
            return  # the record the socket has just read says so already: no write (a round trip per socket)
        with contextlib.suppress(StateConflict):
            await self._store.update_conversation(ConversationId(conversation_id), list(State),
                                                  {"customer_left_at": None if connected else self._clock()})

    async def _back_to_bot(self, record: ConversationRecord) -> ConversationRecord:
        change = transitions.customer_returned(record)
        try:
            after = await self._store.update_conversation(record.conversation_id, [change.before], change.fields)
        except StateConflict:
            return await self.get(record.conversation_id)
        await self._changes.record(change, record, after)
        return after

    async def _ask_bot(self, record: ConversationRecord, text: str) -> None:
        """Send the customer's words to the bot; relay its replies; escalate if it asks for a person."""
        await self._relay.to_customer(record.conversation_id, {"type": "typing", "sender": "bot", "agent_name": None})
        try:
            replies = await self._bot.send(record.conversation_id, text, {"channel": record.channel})
        except UpstreamUnavailable:
            await self._relay.say(record, "system", texts.BOT_DOWN)
            await self._escalation.escalate(record.conversation_id, None, Cause.BOT_UNAVAILABLE)
            return
        request = None
        for reply in replies:
            custom = reply.get("custom")
            if isinstance(custom, dict) and isinstance(custom.get("handoff"), dict):
                request = custom["handoff"]
                continue
            payload = {key: reply[key] for key in ("buttons", "image", "custom") if reply.get(key)}
            if reply.get("text") or payload:
                await self._relay.say(record, "bot", str(reply.get("text") or ""), payload=payload or None)
        if request is not None:
            await self._escalation.escalate(record.conversation_id, request, Cause.HANDOFF_REQUESTED)
