"""The customer's side: starting a conversation, talking to the bot (or to whoever owns it), coming back.

While the bot owns a conversation, each customer message is stored, acknowledged, then sent to the bot; its
replies are stored and relayed, and a reply carrying a hand-off request escalates. While the queue or an
agent owns it, the bot sees nothing new. A customer who writes after the end hands it back to the bot.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from handoff.core import texts, transitions
from handoff.core.channels import ChannelTable, cited
from handoff.core.conversation import Cause
from handoff.core.errors import BadRequest, StateConflict, UpstreamUnavailable
from handoff.core.identity import parse_claims
from handoff.core.model import MAX_ROW_ID, ConversationId, ConversationRecord, CustomerId, State, moment, storable
from handoff.service import tokens
from handoff.service.auth import verified_external_id
from handoff.service.board import Board
from handoff.service.changes import Changes
from handoff.service.escalation import Escalation
from handoff.service.identities import Identities
from handoff.service.limits import Limits
from handoff.service.ports import Bot, Clock, Handler, MessageView, Store, Subscription, TicketLog
from handoff.service.relay import Relay
from handoff.service.trials import ModelTrials
from handoff.settings import HandoffSettings

if TYPE_CHECKING:  # the feedback part reads this module's rules for text
    from handoff.service.feedback import CustomerFeedback
    from handoff.service.inbox import TrainingInbox

logger = logging.getLogger(__name__)
ENDED = (State.RESOLVED, State.OFFLINE, State.ABANDONED)
# What no database column of text takes (PostgreSQL refuses NUL; neither encodes a lone surrogate) and no
# person types: control characters but tab and line breaks, and halves of a UTF-16 pair.
UNSENDABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
TURN_MARGIN = 5.0  # seconds a bot turn's claim outlasts HANDOFF_RASA_TIMEOUT (storing and relaying the replies)


@dataclass(frozen=True, slots=True)
class Said:
    """A customer's message as :meth:`Conversations.says` stored it."""

    message: MessageView
    new: bool  # False: a resend of a message stored before (nothing stored, nothing relayed)
    state: State  # who owned the conversation when it was said


def bot_metadata(record: ConversationRecord) -> dict[str, Any]:
    """What the bot is told with each of the customer's messages (Rasa message metadata): the channel, and the
    shop's verified id of the customer if the shop signed it. Only the service sets it; customers' words never
    reach it, and the order actions trust it because only the service can reach Rasa (docs/security.md)."""
    metadata: dict[str, Any] = {"channel": record.channel}
    if record.customer_external_id:
        metadata["customer_external_id"] = record.customer_external_id
    return metadata


class Conversations:
    """What the widget (and any customer channel) does."""

    def __init__(self, settings: HandoffSettings, store: Store, log: TicketLog, bot: Bot, relay: Relay,
                 board: Board, changes: Changes, escalation: Escalation, clock: Clock, *,
                 feedback: CustomerFeedback, inbox: TrainingInbox | None = None,
                 channels: ChannelTable | None = None, identities: Identities | None = None,
                 trials: ModelTrials | None = None) -> None:
        self._settings = settings
        self._trials = trials
        self._identities = identities
        self._channels = channels or ChannelTable.of(("web",))
        self._store = store
        self._log = log
        self._bot = bot
        self._relay = relay
        self._board = board
        self._changes = changes
        self._escalation = escalation
        self._clock = clock
        self._feedback = feedback
        self._inbox = inbox
        self.limits = Limits(settings, store, clock)

    # ---- identity -----------------------------------------------------------------------------------

    def token(self, conversation_id: str) -> str:
        """The customer's key to the conversation (only its holder may read or write it), valid for
        ``HANDOFF_CUSTOMER_TOKEN_TTL`` seconds from now (:mod:`handoff.service.tokens`)."""
        return tokens.issue(str(self._settings.secret), ConversationId(conversation_id), self._clock())

    async def check_token(self, conversation_id: str, token: str | None) -> None:
        """Raises ``NotAuthenticated`` (401, close 4401) unless ``token`` is the conversation's, not expired and
        not revoked."""
        tokens.issued_at(str(self._settings.secret), ConversationId(conversation_id), token)  # forgeries: no I/O
        revoked = await self._store.get_session(tokens.REVOKED_PREFIX + conversation_id)
        before = revoked["before"] if revoked else await self._revoked_in_log(conversation_id)
        tokens.check(str(self._settings.secret), ConversationId(conversation_id), token, now=self._clock(),
                     ttl=self._settings.customer_token_ttl, revoked_before=before)

    async def _revoked_in_log(self, conversation_id: str) -> float | None:
        """The revocation the ticket log keeps (the durable copy: the store's is lost with a restart), cached in
        the store for as long as a token it refuses can live; the cache also says "none" so the log is read
        once per token lifetime, not on every check."""
        at = await self._log.conversations.tokens_revoked_at(conversation_id)
        before = at.timestamp() if at is not None else None
        await self._store.put_session(tokens.REVOKED_PREFIX + conversation_id, {"before": before},
                                      self._settings.customer_token_ttl)
        return before

    async def revoke_tokens(self, conversation_id: str) -> None:
        """Refuse every token of the conversation issued until now (kept in the ticket log, cached in the store),
        and close its customers' sockets (4401)."""
        now = self._clock()
        await self._log.conversations.revoke_tokens(conversation_id, now)
        await self._store.put_session(tokens.REVOKED_PREFIX + conversation_id, {"before": now},
                                      self._settings.customer_token_ttl)
        await self._relay.to_customer(conversation_id, {"type": "revoked"})

    # ---- reading --------------------------------------------------------------------------------------

    async def get(self, conversation_id: str) -> ConversationRecord:
        """The conversation's live record; raises ``UnknownConversation``."""
        return await self._board.conversation(conversation_id)

    async def history(self, conversation_id: str, after: int = 0) -> list[MessageView]:
        """The conversation's messages with ids above ``after``, oldest first."""
        return await self._log.conversations.messages(conversation_id, after_id=min(max(after, 0), MAX_ROW_ID))

    async def queue_status(self, record: ConversationRecord) -> dict[str, Any] | None:
        return await self._board.queue_status(record)

    async def state_frame(self, record: ConversationRecord) -> dict[str, Any]:
        return await self._board.state_frame(record)

    async def watch(self, conversation_id: str, handler: Handler) -> list[Subscription]:
        """Deliver the conversation's frames (messages, state, typing) to ``handler`` from now on."""
        return await self._relay.watch_customer(conversation_id, handler)

    # ---- writing --------------------------------------------------------------------------------------

    async def open(self, *, channel: str = "web", name: str | None = None, email: str | None = None,
                   language: str = "en", external_id: str | None = None, expires: int | None = None,
                   signature: str | None = None, identities: str | None = None, client: str | None = None,
                   customer_id: CustomerId | None = None, vouched: bool = False) -> ConversationRecord:
        """Start a conversation with the bot. ``external_id`` links the customer's record (value tier, history)
        and their orders (the bot is told it with every message) only when ``signature`` is the shop's for it,
        ``expires`` and ``identities`` (:func:`~handoff.service.auth.verified_external_id`); otherwise it is
        ignored and the visitor is anonymous. ``identities``: the customer's channel identities the shop signed
        with it (``"email:jo@example.com xmpp:jo@im.example"``), linked to them (``shop_signed``,
        :mod:`handoff.service.identities`). ``client``: the caller's address, for the rate limit (raises
        ``RateLimited``). ``customer_id``: a customer a channel knows already (the same unverified e-mail address
        as before, or a linked identity's customer); ``vouched``: the channel proved the sender is that customer
        (an authenticated mail from a linked address, a linked IM account), so the bot is told the customer's
        shop id as on the widget."""
        await self.limits.new_conversation(client)
        widget_secret = str(self._settings.widget_secret) if self._settings.widget_secret else None
        external_id = verified_external_id(widget_secret, external_id, expires, signature, self._clock(),
                                           identities)
        claims = parse_claims(identities) if external_id else ()
        now = moment(self._clock())
        people = self._log.people
        known = await people.customer_by_external_id(external_id) if external_id else None
        if known is None and customer_id is not None:
            known = await people.get_customer(customer_id)
            external_id = known.external_id if known and vouched else None
        customer_id = known.customer_id if known else CustomerId("cu_" + secrets.token_urlsafe(9))
        if known is None:
            await people.upsert_customer(customer_id, external_id=external_id, name=name, email=email,
                                         language=language, now=now)
        if claims and self._identities is not None:
            await self._identities.shop_says(customer_id, claims)
        conversation_id = ConversationId("c_" + secrets.token_urlsafe(12))
        await self._log.conversations.create_conversation(conversation_id, customer_id, channel, now,
                                                          cause=Cause.STARTED.value)
        record = ConversationRecord(conversation_id, customer_id, channel, State.BOT, self._clock(),
                                    known.language if known else language,
                                    customer_name=known.name if known else name,
                                    customer_email=known.email if known else email,
                                    customer_external_id=external_id)
        await self._store.create_conversation(record)
        logger.info("conversation %s: started on %s", conversation_id, channel)
        return record

    def check_text(self, text: Any) -> str:
        if not isinstance(text, str) or not text.strip():
            raise BadRequest("A message needs some text.")
        if len(text) > self._settings.max_message_chars:
            raise BadRequest(f"That message is too long: please keep it under {self._settings.max_message_chars} "
                             "characters.")
        if UNSENDABLE.search(text) or not storable(text):
            raise BadRequest("That message has characters text cannot carry (control characters, a NUL or a "
                             "broken character encoding).")
        return text.strip()

    @staticmethod
    def check_client_id(client_id: str | None) -> str | None:
        if client_id is not None and not storable(client_id):
            raise BadRequest("A client_id cannot contain a NUL character.")
        return client_id

    async def says(self, conversation_id: str, text: Any, client_id: str | None, client: str | None = None, *,
                   payload: dict[str, Any] | None = None) -> Said:
        """Store the customer's message and relay it to whoever owns the conversation; the caller then calls
        :meth:`bot_turn`, so the sender can be told the message is safe before the bot has thought about it.
        ``client``: the sender's address, for the rate limit (raises ``RateLimited``, storing nothing)."""
        text, client_id = self.check_text(text), self.check_client_id(client_id)
        await self.limits.message(client)
        record = await self.get(conversation_id)
        message, new = await self._relay.keep(record, "customer", text, client_id=client_id, payload=payload)
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
        await self._store.touch(record.conversation_id)  # a conversation with the bot lives while it talks
        await self._ask_bot(record, message)
        return True

    async def still_here(self, conversation_id: str) -> ConversationRecord:
        """A live socket of the customer says so (the gateway, every ``HANDOFF_QUEUE_REFRESH`` seconds while
        queued): another of their sockets closing, or a restart, must not make them abandoned."""
        record = await self.get(conversation_id)
        if record.state is State.QUEUED and record.customer_left_at is not None:
            await self.presence(conversation_id, connected=True)
        return record

    async def typing(self, conversation_id: str) -> None:
        """The customer is typing: the assigned agent sees it (at most once per ``HANDOFF_TYPING_INTERVAL``)."""
        record = await self.get(conversation_id)
        if record.state is State.ASSIGNED and record.agent_id and await self.limits.typing(conversation_id,
                                                                                          "customer"):
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

    async def _metadata(self, record: ConversationRecord) -> dict[str, Any]:
        """:func:`bot_metadata`, and the model serving the conversation in an A/B trial (``model_arm``
        ``candidate`` and its ``model_version``; nothing for the live model)."""
        metadata = bot_metadata(record)
        if self._trials is not None:
            arm, version = await self._trials.arm(record)
            if version is not None:
                metadata.update(model_arm=arm, model_version=version)
        return metadata

    async def _ask_bot(self, record: ConversationRecord, message: MessageView) -> None:
        """Send the customer's words to the bot; relay its replies; keep them in the NLU inbox if the bot was
        unsure; escalate if it asks for a person. A button the customer chose on a channel without buttons of
        its own (its number typed: :mod:`handoff.service.im`) is told to the bot as the button's payload."""
        button = (message.payload or {}).get("button")
        text = button if isinstance(button, str) and button else message.text
        await self._relay.to_customer(record.conversation_id, {"type": "typing", "sender": "bot", "agent_name": None})
        try:
            replies = await self._bot.send(record.conversation_id, text, await self._metadata(record))
        except UpstreamUnavailable:
            await self._relay.say(record, "system", texts.say(record.language, "bot_down"))
            await self._escalation.escalate(record.conversation_id, None, Cause.BOT_UNAVAILABLE)
            return
        request = None
        said: list[tuple[str, dict[str, Any] | None]] = []
        for reply in replies:
            custom = reply.get("custom")
            if isinstance(custom, dict) and isinstance(custom.get("handoff"), dict):
                request = custom["handoff"]
                continue
            payload = {key: reply[key] for key in ("buttons", "image", "custom") if reply.get(key)}
            if reply.get("text") or payload:
                said.append((str(reply.get("text") or ""), payload or None))
        if said:
            await self._relay.say_all(record, "bot", said)  # one transaction for the turn's replies
        parse = await self._inbox.after_turn(record, message, request) if self._inbox else None
        if request is None and self._channels.only_cited(record.channel) and not any(
                cited(payload) for _, payload in said):  # e-mail: a person answers what the bot cannot cite
            await self._escalation.escalate(record.conversation_id, None, Cause.UNCITED)
            return
        if request is not None:
            await self._escalation.escalate(record.conversation_id, request, Cause.HANDOFF_REQUESTED)
        else:  # thanks or goodbye ends it: a rating is asked (from the parse just read, when there is one)
            await self._feedback.bot_answered(record, parse)
