"""Instant messaging as customer channels (XMPP now; any IM channel of :data:`~handoff.core.channels.IM_CHANNELS`):
a provider's message in becomes a customer message of the address's conversation, the service's messages to
that conversation go out through the channel's transport (:class:`~handoff.service.ports.ImTransport`).

In: a transport hands each provider event to :meth:`InstantMessaging.receive` (an XMPP session as it reads it;
a webhook route as it is called). The event is taken in once by ``(channel, event id)``, on whichever instance
and however often the provider delivers it (at-least-once from the provider, exactly-once into the
conversation: ``im_messages``' unique key); one whose taking-in failed is forgotten, so the provider's next
delivery is taken in. It goes into the conversation the address last wrote in while that one lives; after it
ended (or its live record was forgotten) into a new one. A number or title answering the last message's
buttons becomes that button (the title kept in the transcript, its payload told to the bot). Then the bot has
its turn, as on the widget. The writer is known by the address only: an unverified channel identity, one
customer per address and channel, kept apart from every other channel's customers.

Ratings: an address's next message answering the rating prompt while it is the conversation's newest request and
the service's latest message, with no customer message since (a number 1-5, an option's title, a button press), is
the customer's rating, recorded as the widget's is (:meth:`~handoff.service.feedback.CustomerFeedback.rate`) and
thanked straight through the transport; it is no customer message and opens no conversation. Anything else is a
message as any other.

Out: the relay calls :meth:`InstantMessaging.outbound` for each message stored in a conversation of an IM channel:
the bot's answers, agents' replies, notices and the rating prompt (its options 1-5 as the channel's buttons:
:func:`~handoff.core.channels.rating_buttons`). It is rendered by the channel, kept in the outbox (``im_messages``,
once per message) and tried at once; a failed try is tried again by the sweeper with back-off (5 s doubling to 5
minutes, never given up; no sooner than the provider asked, as Telegram's 429 ``retry_after`` does), the assigned
agent told on their console each time (``delivery`` frames): nothing is lost while the provider is away. Only a
refusal for good (:class:`~handoff.service.ports.DeliveryRefused`: the customer blocked a Telegram bot) is given up
at once (``failed``), and the agent told so.

One instance holds a session transport (``exclusive``: XMPP) at a time: the store's lease ``im:<channel>``
renewed every 5 s; the others keep what they are to send in the outbox, and the holder's sweeper sends it. An
instance that closes lets the lease go, and another takes it at its next look (within 5 s); should the holder die,
another takes it once it lapses (within 20 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import secrets
from collections.abc import Mapping
from typing import Any

from handoff.core import texts
from handoff.core.channels import ChannelTable, Rendered, backoff, chosen_button, outbound_of, rating_buttons
from handoff.core.errors import BadRequest, RateLimited, StateConflict, UnknownConversation
from handoff.core.identity import link_command
from handoff.core.model import ConversationId, ConversationRecord
from handoff.service.conversations import ENDED, UNSENDABLE, Conversations, Said
from handoff.service.delivery import Deliveries
from handoff.service.feedback import CustomerFeedback
from handoff.service.identities import Identities
from handoff.service.ports import (
    Clock,
    DeliveryFailed,
    DeliveryRefused,
    ImTransport,
    InboundIm,
    MessageView,
    Store,
    TicketLog,
)
from handoff.service.relay import Relay
from handoff.settings import HandoffSettings

logger = logging.getLogger(__name__)
LEASE = 120.0  # seconds a try holds a message against other instances' sweeps
FIRST_RETRY, MOST_RETRY = 5.0, 300.0  # a chat is live: tried again sooner than e-mail
SESSION_LEASE = 15.0  # seconds an instance holds an exclusive transport's session between renewals
LINKED = ("This account is now linked to your customer account: your next conversation here is yours, with "
          "your details and history.")
RELEASED = 0.001  # a lease renewed for this long is let go (the store's leases have no release of their own)


def client_id_of(channel: str, event_id: str) -> str:
    """The customer message's client id for a provider event (the relay stores a message once per client id)."""
    return "im:" + hashlib.sha256(f"{channel}\0{event_id}".encode()).hexdigest()[:40]


def buttons_of(payload: Mapping[str, Any] | None) -> list[dict[str, str]]:
    """A stored message's buttons as ``{title, payload}`` (what a customer's answer is matched against)."""
    found = []
    for button in (payload or {}).get("buttons") or []:
        if isinstance(button, Mapping):
            title = str(button.get("title") or button.get("payload") or "")
            if title:
                found.append({"title": title, "payload": str(button.get("payload") or title)})
    return found


class InstantMessaging:
    """Every IM channel the service runs, in and out, each with its transport."""

    def __init__(self, settings: HandoffSettings, store: Store, log: TicketLog, customers: Conversations,
                 relay: Relay, channels: ChannelTable, clock: Clock, transports: Mapping[str, ImTransport]) -> None:
        self._settings = settings
        self._store = store
        self._log = log
        self._customers = customers
        self._channels = channels
        self._clock = clock
        self._transports = dict(transports)
        self._deliveries = Deliveries(relay, customers)
        self._instance = secrets.token_hex(8)
        self._held: set[str] = set()  # channels whose transport runs on this instance
        self._holders: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self.identities: Identities | None = None  # linked IM accounts (handoff.service.identities)
        self.feedback: CustomerFeedback | None = None  # ratings answered by IM (handoff.service.feedback)

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(self._transports)

    def transport(self, channel: str) -> ImTransport:
        return self._transports[channel]

    # ---- sessions ------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start each transport: a webhook one here, a session one on the instance that holds its lease (checked
        now, then every few seconds: another instance takes over once a holder is gone)."""
        for channel, transport in self._transports.items():
            if not transport.exclusive:  # a webhook answers its provider once the event is kept: the bot's turn after
                await transport.start(functools.partial(self.receive, answer_later=True))
                self._held.add(channel)
                continue
            await self._hold(channel, transport)
            self._holders.append(asyncio.create_task(self._keep_holding(channel, transport)))

    async def _hold(self, channel: str, transport: ImTransport) -> None:
        holds = await self._store.lease(f"im:{channel}", self._instance, SESSION_LEASE)
        if holds and channel not in self._held:
            logger.info("%s: this instance holds the session", channel)
            await transport.start(self.receive)
            self._held.add(channel)
        elif not holds and channel in self._held:
            logger.warning("%s: another instance holds the session now; closing this one's", channel)
            self._held.discard(channel)
            await transport.close()

    async def _keep_holding(self, channel: str, transport: ImTransport) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), SESSION_LEASE / 3)
            if self._stopping.is_set():
                return
            try:
                await self._hold(channel, transport)
            except Exception:
                logger.exception("%s: the session's lease could not be renewed", channel)

    async def hold_sessions(self) -> tuple[str, ...]:
        """Take or renew the session leases now (as the loop does every few seconds); the channels held here."""
        for channel, transport in self._transports.items():
            if transport.exclusive:
                await self._hold(channel, transport)
        return tuple(sorted(self._held))

    async def close(self) -> None:
        """Stop holding the sessions (their leases let go, so another instance takes them at its next look),
        give the tries under way a few seconds, close the transports."""
        self._stopping.set()
        for task in self._holders:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._deliveries.close()
        for channel, transport in self._transports.items():
            await transport.close()
            if transport.exclusive and channel in self._held:
                with contextlib.suppress(Exception):
                    await self._store.lease(f"im:{channel}", self._instance, RELEASED)
        self._held.clear()

    # ---- in ----------------------------------------------------------------------------------------------

    async def receive(self, event: InboundIm, *, answer_later: bool = False) -> ConversationId | None:
        """Take a provider event in: the customer's message in the address's conversation, then the bot's turn;
        the conversation's id, or None when it was taken in before (a re-delivery), is empty, or over the rate
        limit. With ``answer_later`` (a webhook, which answers its provider as soon as the message is kept) the
        bot's turn runs in the background (one lost in a crash is taken at the next start, as any unanswered
        message is).

        Raises:
            Exception: it could not be stored (nothing was kept: the provider's re-delivery is taken in).
        """
        if event.channel not in self._transports:
            raise ValueError(f"not an IM channel this service runs: {event.channel!r}")
        text = UNSENDABLE.sub("", event.text).strip()
        address = UNSENDABLE.sub("", event.address).strip()[:320]
        if not address or (not text and not event.button_payload):
            return None
        row_id = await self._log.im.claim_in(event.channel, event.event_id[:255], address, self._clock())
        if row_id is None:
            logger.info("%s: event delivered again, taken in before", event.channel)
            return None
        code = link_command(text) if self.identities is not None else None
        if code is not None:
            await self._link(event, address, code, row_id)
            return None
        if await self._rating(event, address, text, row_id):
            return None
        try:
            said = await self._take_in(event, address, text)
        except RateLimited:
            await self._log.im.drop_claim(row_id)
            logger.warning("%s: a message over the rate limit was dropped", event.channel)
            return None
        except Exception:
            await self._log.im.drop_claim(row_id)
            raise
        await self._log.im.received(row_id, said.message.conversation_id, said.message.id)
        logger.info("conversation %s: %s message received", said.message.conversation_id, event.channel)
        if answer_later:
            self._deliveries.start(self._bot_turn(said))
        else:
            await self._customers.bot_turn(said)
        return said.message.conversation_id

    async def _link(self, event: InboundIm, address: str, code: str, row_id: int) -> None:
        """``link CODE`` from an IM account (docs/channels.md, "Who a customer is"): the account becomes the
        customer's the code was given to (:meth:`Identities.link_with_code`); the command is no customer message
        (the code is kept nowhere), and the account is told the outcome straight through its transport."""
        assert self.identities is not None
        try:
            await self.identities.link_with_code(event.channel, address, code)
        except (BadRequest, RateLimited) as exc:
            answer = str(exc)
        except BaseException:
            await self._log.im.drop_claim(row_id)
            raise
        else:
            answer = LINKED
            logger.info("%s: an account was linked to a customer by a link code", event.channel)
        await self._log.im.taken_without_message(row_id)
        if event.channel in self._held:
            with contextlib.suppress(DeliveryFailed):  # the outcome is the customer's to see again: they may retry
                await self._transports[event.channel].send(address, Rendered(answer))

    async def _rating(self, event: InboundIm, address: str, text: str, row_id: int) -> bool:
        """The event as the customer's answer to the rating prompt (see the module's "Ratings"): recorded, thanked
        and True; False when it answers no prompt (a message as any other)."""
        if self.feedback is None:
            return False
        conversation_id = await self._log.im.conversation_of(event.channel, address)
        if conversation_id is None:
            return False
        latest = await self._log.im.latest_out(conversation_id)  # cheap looks first: most messages answer no prompt
        button = chosen_button(latest.buttons, text, event.button_payload) if latest and latest.buttons else None
        if latest is None or button is None or not button.get("payload", "").isdigit():
            return False
        request = await self._log.feedback.latest_request(conversation_id)
        if request is None or latest.message_id != request.id:
            return False
        if any(m.sender == "customer" and m.id > request.id
               for m in await self._log.conversations.messages(conversation_id)):
            return False  # answered by something else already: the prompt is no longer what they answer
        score = int(button["payload"])
        try:
            record = await self._customers.get(conversation_id)
            await self.feedback.rate(conversation_id, score)
        except (BadRequest, StateConflict, UnknownConversation):
            return False
        except BaseException:
            await self._log.im.drop_claim(row_id)
            raise
        await self._log.im.taken_without_message(row_id)
        logger.info("conversation %s: %s rating received", conversation_id, event.channel)
        if event.channel in self._held:
            with contextlib.suppress(DeliveryFailed):  # the rating is kept: a lost thank-you is no loss
                await self._transports[event.channel].send(
                    address, Rendered(texts.say(record.language, "feedback_thanks", score=score)))
        return True

    async def _bot_turn(self, said: Said) -> bool:
        try:
            await self._customers.bot_turn(said)
        except Exception:
            logger.exception("conversation %s: the bot's turn failed", said.message.conversation_id)
            return False
        return True

    async def _take_in(self, event: InboundIm, address: str, text: str) -> Said:
        client = f"{event.channel}:{address}"  # the rate limits count per address
        conversation_id = await self._conversation(event, address, client)
        latest = await self._log.im.latest_out(conversation_id)
        button = chosen_button(latest.buttons if latest else (), text, event.button_payload)
        payload = {"button": button["payload"]} if button else None
        limit = self._settings.max_message_chars
        text = button["title"] if button else text or str(event.button_payload)
        text = text if len(text) <= limit else text[:limit - 1] + "…"
        return await self._customers.says(conversation_id, text, client_id_of(event.channel, event.event_id),
                                          client, payload=payload)

    async def _conversation(self, event: InboundIm, address: str, client: str) -> ConversationId:
        """The conversation the address writes in: its last one while that lives, else a new one."""
        conversation_id = await self._log.im.conversation_of(event.channel, address)
        if conversation_id is not None:
            with contextlib.suppress(UnknownConversation):
                record = await self._customers.get(conversation_id)
                if record.state not in ENDED:
                    return conversation_id
        link = await self.identities.customer_of(event.channel, address) if self.identities is not None else None
        # a linked account is the customer's (their profile, tickets, routing); its network authenticated it
        customer_id = link.customer_id if link is not None else await self._log.im.customer_of(event.channel,
                                                                                                 address)
        name = UNSENDABLE.sub("", event.display_name or "").strip()[:200] or address
        record = await self._customers.open(channel=event.channel, name=name, customer_id=customer_id,
                                            client=client, vouched=link is not None)
        return record.conversation_id

    # ---- out ---------------------------------------------------------------------------------------------

    async def outbound(self, record: ConversationRecord, message: MessageView) -> None:
        """A message just stored in a conversation of an IM channel: keep it in the outbox and try it."""
        channel = self._channels.get(record.channel)
        if record.channel not in self._transports or not self._goes_out(channel.bot_answers_only_cited, message):
            return
        address = await self._log.im.address_of(record.conversation_id)
        if address is None:
            return
        agent_name = message.agent_name
        if message.sender == "agent" and not agent_name and message.agent_id:
            account = await self._log.people.get_agent(message.agent_id)
            agent_name = account.name if account else None
        rating = message.sender == "system" and bool((message.payload or {}).get("feedback_request"))
        buttons = rating_buttons(record.language) if rating else buttons_of(message.payload)
        payload = {**(message.payload or {}), "buttons": buttons} if rating else message.payload
        rendered = channel.render(outbound_of(message.sender, message.text, payload, agent_name,
                                              self._settings.article_url))
        row_id = await self._log.im.queue_out(record.channel, record.conversation_id, message.id, address,
                                              rendered.text, buttons, self._clock())
        if row_id is not None and record.channel in self._held:
            self._deliveries.start(self._try(row_id, 0, record))

    @staticmethod
    def _goes_out(only_cited: bool, message: MessageView) -> bool:
        payload = message.payload or {}
        if message.sender == "bot":
            custom = payload.get("custom")
            return not only_cited or (isinstance(custom, dict) and isinstance(custom.get("citation"), dict))
        return message.sender in ("system", "agent")

    async def _try(self, row_id: int, tries: int, record: ConversationRecord | None = None) -> bool:
        """One try at handing a kept message to its transport (if no other instance holds it); True: sent."""
        now = self._clock()
        if not await self._log.im.claim_try(row_id, tries, now + LEASE):
            return False
        row = await self._log.im.get(row_id)
        if row is None or row.conversation_id is None:
            return False
        channel = self._channels.get(row.channel)
        native = tuple(b["title"] for b in row.buttons) if getattr(channel, "native_buttons", False) else ()
        try:
            provider_id = await self._transports[row.channel].send(row.address, Rendered(row.text or "",
                                                                                          buttons=native))
        except DeliveryRefused as exc:
            await self._log.im.given_up(row_id, str(exc))
            logger.warning("conversation %s: %s message %s refused for good (%s); not tried again",
                           row.conversation_id, row.channel, row.message_id, exc)
            await self._deliveries.tell_agent(row.channel, row.conversation_id, record, row.message_id, "failed",
                                              str(exc), None)
            return False
        except DeliveryFailed as exc:
            error, asked = str(exc), exc.retry_after or 0.0
        else:
            await self._log.im.sent(row_id, provider_id)
            logger.info("conversation %s: %s message %s sent", row.conversation_id, row.channel, row.message_id)
            await self._deliveries.tell_agent(row.channel, row.conversation_id, record, row.message_id, "sent",
                                              None, None)
            return True
        wait = max(backoff(tries + 1, FIRST_RETRY, MOST_RETRY), min(asked, MOST_RETRY))  # a provider's wait kept
        await self._log.im.try_failed(row_id, error, now + wait)
        logger.warning("conversation %s: %s message %s not sent (try %d: %s); trying again in %.0f s",
                       row.conversation_id, row.channel, row.message_id, tries + 1, error, wait)
        await self._deliveries.tell_agent(row.channel, row.conversation_id, record, row.message_id, "retrying",
                                          error, now + wait)
        return False

    async def sweep(self) -> int:
        """Try again the messages whose next try is due, of the channels whose transport runs here; how many
        went out."""
        sent = 0
        if not self._held:
            return sent
        for row in await self._log.im.due(self._clock(), channels=tuple(self._held)):
            sent += await self._try(row.id, row.tries)
        return sent

    async def settle(self) -> None:
        """Wait for the tries under way (tests)."""
        await self._deliveries.settle()
