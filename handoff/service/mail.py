"""E-mail as a customer channel: a mail in becomes a customer message of a conversation, the service's messages
to that conversation go out as mail threaded under it.

In: the listener (:mod:`handoff.adapters.mail.listener`) hands each message to :meth:`MailChannel.receive`. It is
parsed (:mod:`handoff.adapters.mail.parse`), stored once by its Message-ID (a re-delivery is a no-op), threaded
into the conversation its References / In-Reply-To name (none: a new conversation on the ``email`` channel),
its attachments kept as files (up to ``HANDOFF_MAIL_ATTACHMENT_BYTES`` each) and linked, and the bot has its
turn as on the widget, but on this channel it answers only from a knowledge article (with the article's link);
otherwise a person answers (:class:`~handoff.core.conversation.Cause` ``bot_uncited``, the bot's draft kept).

The writer is known by the From address only. An address linked to a customer (the shop said so, or the customer
verified it: :mod:`handoff.service.identities`) opens that customer's conversations, with their profile, tickets
and routing, when no Reply-To points elsewhere and, with ``HANDOFF_MAIL_TRUST_AUTH_RESULTS``, when the receiving
MTA's Authentication-Results pass for the From domain. Any other address is an unverified channel identity:
mail from it is one pseudo-customer (their earlier conversations, their tier), kept apart from the widget's
customers whatever e-mail address those gave (docs/channels.md, "Who a customer is").

Out: the relay calls :meth:`MailChannel.outbound` for each message stored in an e-mail conversation. Agents'
replies, the bot's cited answers and the notices that matter by mail (the out-of-hours promise, the ticket logged,
the conversation resolved, an agent's resolve's rating prompt as a line with the 1-5 scale) become a mail
(:class:`~handoff.core.channels.EmailChannel`) with a stable Message-ID
(``<m<message id>.<conversation>@<domain>>``: one message, one mail), In-Reply-To the customer's latest mail and
References the thread. It is kept in the outbox (``mail_messages``) before the relay is tried, and a failed try is
tried again by the sweeper with back-off (30 s doubling to an hour, never given up), the agent told on their console
each time: nothing is lost while the relay is down.

Ratings: a reply in a conversation's thread whose first line that is not quoted is just a number 1-5, while the
mailed rating prompt is the conversation's newest request and the customer wrote nothing since, is the customer's
rating (:meth:`MailChannel._rating`): recorded as the widget's is, no customer message, no bot turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import hashlib
import logging
import re
import secrets
import shutil
from dataclasses import replace
from email import policy
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from pathlib import Path
from typing import Protocol

from handoff.core import texts
from handoff.core.channels import ChannelTable, Link, backoff, outbound_of, rating_of_reply, reply_thread
from handoff.core.errors import BadRequest, StateConflict, UnknownConversation, UpstreamUnavailable
from handoff.core.identity import mail_authenticated
from handoff.core.model import AgentId, ConversationId, ConversationRecord, CustomerId, State, TicketId, moment
from handoff.service.conversations import UNSENDABLE, Conversations
from handoff.service.delivery import Deliveries
from handoff.service.feedback import CustomerFeedback
from handoff.service.identities import Identities
from handoff.service.ports import (
    Clock,
    DeliveryFailed,
    MessageView,
    ParsedMail,
    TicketLog,
    parse_mail,
    request_of,
)
from handoff.service.relay import Relay
from handoff.settings import HandoffSettings

logger = logging.getLogger(__name__)
CHANNEL = "email"
LEASE = 120.0  # seconds a try holds a reply against other instances' sweeps
UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAILED_ASK = "resolved"  # the rating request mailed: an agent's resolve (a bot's ending by silence is not mailed)


class Outgoing(Protocol):
    """The SMTP relay (:class:`handoff.adapters.mail.outbound.MailRelay`)."""

    async def send(self, message: EmailMessage) -> None: ...


def client_id_of(mail_id: str) -> str:
    """The customer message's client id for a mail (the relay stores a message once per client id)."""
    return "mail:" + hashlib.sha256(mail_id.encode()).hexdigest()[:40]


def attachments_of(settings: HandoffSettings, conversation_id: str) -> Path:
    """The folder of a conversation's kept attachments (conversation ids are URL-safe: letters, digits, - and _)."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", conversation_id):
        raise ValueError(f"not a conversation id: {conversation_id!r}")
    return Path(settings.mail_attachments) / conversation_id


async def forget_attachments(settings: HandoffSettings, conversation_id: str) -> None:
    """Delete the files a conversation's e-mails carried (the conversation is erased or past retention)."""
    with contextlib.suppress(ValueError):
        await asyncio.to_thread(shutil.rmtree, attachments_of(settings, conversation_id), True)


def mail_sender(settings: HandoffSettings) -> str:
    """The address replies come from: ``HANDOFF_MAIL_ADDRESS`` (``support@<domain>`` when it is a domain)."""
    address = settings.mail_address.lstrip("@")
    return address if "@" in address else f"support@{address or 'localhost'}"


def clean(mail: ParsedMail) -> ParsedMail:
    """The mail without what no text column takes and no person types (NUL, control characters but tab and line
    breaks, lone surrogates: :data:`~handoff.service.conversations.UNSENDABLE`): refusing them would make the
    listener answer 451 and the sender retry the same bytes for days. At most the latest 50 thread ids."""
    def text(value: str) -> str:
        return UNSENDABLE.sub("", value)
    return replace(mail, message_id=text(mail.message_id)[:998], address=text(mail.address)[:320],
                   from_address=text(mail.from_address)[:320],
                   name=text(mail.name)[:200] if mail.name else None, subject=text(mail.subject)[:998],
                   text=text(mail.text), thread=tuple(text(i)[:998] for i in mail.thread[-50:]))


class MailChannel:
    """What the e-mail channel does in and out."""

    def __init__(self, settings: HandoffSettings, log: TicketLog, customers: Conversations, relay: Relay,
                 channels: ChannelTable, clock: Clock, outgoing: Outgoing | None) -> None:
        self._settings = settings
        self._log = log
        self._customers = customers
        self._channel = channels.get(CHANNEL)
        self._clock = clock
        self._outgoing = outgoing
        self.sender = mail_sender(settings)
        self.domain = self.sender.rsplit("@", 1)[-1]  # of every Message-ID the service makes
        self._article_url = settings.article_url
        self._deliveries = Deliveries(relay, customers)
        self.identities: Identities | None = None  # linked e-mail addresses (handoff.service.identities)
        self.feedback: CustomerFeedback | None = None  # ratings answered by mail (handoff.service.feedback)

    # ---- in ----------------------------------------------------------------------------------------------

    async def receive(self, raw: bytes) -> ConversationId | None:
        """Store a mail as the customer's message and give the bot its turn; the conversation's id, or None when
        it was stored before (a re-delivery) or has no sender."""
        digest = hashlib.sha256(raw).hexdigest()
        mail = clean(parse_mail(raw, fallback_id=f"<{digest[:32]}@missing-id.{self.domain}>"))
        if not mail.address or mail.address == self.sender.lower():
            logger.warning("an inbound e-mail without a From address, or from the service's own, was dropped")
            return None
        if await self._log.mail.known(mail.message_id):
            logger.info("e-mail %s: delivered again, stored before", mail.message_id)
            return None
        conversation_id = await self._log.mail.conversation_of(mail.thread)
        threaded = conversation_id is not None
        if conversation_id is not None and not mail.auto_reply and await self._rating(mail, conversation_id):
            return conversation_id
        if conversation_id is None:
            conversation_id = (await self._open(mail)).conversation_id
        links = self._keep_attachments(mail, conversation_id)
        text = self._text(mail, new=not threaded, links=links)
        payload = {"links": [{"title": link.title, "url": link.url} for link in links]} if links else None
        said = await self._customers.says(conversation_id, text, client_id_of(mail.message_id), payload=payload)
        if not await self._log.mail.record_in(mail.message_id, conversation_id, said.message.id, mail.address,
                                              mail.subject, self._clock()):
            return conversation_id  # another instance took the same delivery at the same moment
        logger.info("conversation %s: e-mail %s received", conversation_id, mail.message_id)
        if not mail.auto_reply:  # an out-of-office or a bounce is kept, never answered (no mail loops)
            await self._customers.bot_turn(said)
        return conversation_id

    async def _rating(self, mail: ParsedMail, conversation_id: ConversationId) -> bool:
        """A reply in the thread whose first line that is not quoted is just a number 1-5, while the rating prompt
        is the conversation's newest request and the customer wrote nothing since: their rating, recorded as the
        widget's is, the mail kept (a re-delivery is a no-op) but no customer message. False: not a rating."""
        score = rating_of_reply(mail.text)
        if score is None or self.feedback is None:
            return False
        request = await self._log.feedback.latest_request(conversation_id)
        asked = request_of(request) if request else None
        if request is None or asked is None or asked.get("reason") != MAILED_ASK:
            return False
        if any(m.sender == "customer" and m.id > request.id
               for m in await self._log.conversations.messages(conversation_id)):
            return False  # answered by something else already
        try:
            await self.feedback.rate(conversation_id, score)
        except (BadRequest, StateConflict, UnknownConversation):
            return False
        await self._log.mail.record_in(mail.message_id, conversation_id, None, mail.address, mail.subject,
                                       self._clock())
        logger.info("conversation %s: e-mail %s is a rating", conversation_id, mail.message_id)
        return True

    async def _open(self, mail: ParsedMail) -> ConversationRecord:
        """A new thread's conversation: the linked customer's when the sender's address is linked to one (and the
        mail passes :meth:`_linked`'s checks), else the address's own pseudo-customer, as before."""
        linked, vouched = await self._linked(mail)
        customer_id = linked if linked is not None else await self._log.mail.customer_of(mail.address)
        return await self._customers.open(channel=CHANNEL, name=mail.name, email=mail.address,
                                          customer_id=customer_id, vouched=vouched,
                                          language=texts.language_of_text(f"{mail.subject}\n{mail.text}"))

    async def _linked(self, mail: ParsedMail) -> tuple[CustomerId | None, bool]:
        """The customer the mail's From address is linked to, and whether the receiving MTA vouched for the From
        domain (docs/channels.md, "Who a customer is"). None when the address is linked to nobody, when a
        Reply-To names another address (replies would go there, not to the linked address), or when
        ``HANDOFF_MAIL_TRUST_AUTH_RESULTS`` is set and that MTA's Authentication-Results do not pass."""
        if self.identities is None or not mail.from_address or mail.address != mail.from_address:
            return None, False
        link = await self.identities.customer_of(CHANNEL, mail.from_address)
        if link is None:
            return None, False
        trusted = self._settings.mail_trust_auth_results
        vouched = bool(trusted) and mail_authenticated(mail.authentication_results, trusted, mail.from_address)
        if trusted and not vouched:
            logger.info("e-mail %s: from a linked address without the MTA's pass: kept apart from its customer",
                        mail.message_id)
            return None, False
        return link.customer_id, vouched

    async def verification(self, address: str, code: str) -> None:
        """Mail a verification code to ``address`` (:meth:`handoff.service.identities.Identities.
        request_email_code`), straight through the relay: not kept in the outbox (a code is no record, and a
        customer whose mail did not go asks again). Raises ``UpstreamUnavailable`` if the relay refused it."""
        if self._outgoing is None:
            raise UpstreamUnavailable("E-mail cannot be sent right now; please try again later.")
        mail = EmailMessage(policy=policy.SMTP)
        mail["From"] = formataddr(("Customer service", self.sender))
        mail["To"] = address
        mail["Subject"] = "Your verification code"
        mail["Date"] = formatdate(self._clock(), usegmt=True)
        mail["Message-ID"] = f"<verify-{secrets.token_hex(12)}@{self.domain}>"
        mail["Auto-Submitted"] = "auto-generated"
        minutes = max(1, round(self._settings.link_code_ttl / 60))
        mail.set_content(f"Your code to add this e-mail address to your account: {code}\n\n"
                         f"Type it in the chat on our website within {minutes} minutes. If you did not ask for "
                         "it, ignore this e-mail: the address is not added without the code.\n\n"
                         "-- \nCustomer service")
        try:
            await self._outgoing.send(mail)
        except DeliveryFailed as exc:
            logger.warning("a verification e-mail was not sent: %s", exc)
            raise UpstreamUnavailable("The e-mail could not be sent right now; please try again later.") from exc

    def _text(self, mail: ParsedMail, *, new: bool, links: list[Link]) -> str:
        text = mail.text
        subject = re.sub(r"^(re|aw|fwd?|sv)\s*:\s*", "", mail.subject, flags=re.IGNORECASE).strip()
        if subject and (new or not text) and subject.lower() not in text.lower():
            text = f"{subject}\n\n{text}".strip()
        if not text:
            text = "(an e-mail without text)" if not links else "(attachments only)"
        limit = self._settings.max_message_chars
        return text if len(text) <= limit else text[:limit - 1] + "…"

    def _keep_attachments(self, mail: ParsedMail, conversation_id: str) -> list[Link]:
        """Each attachment as a file under ``HANDOFF_MAIL_ATTACHMENTS/<conversation>/<mail>/`` (so that erasing the
        conversation removes its files: :func:`forget_attachments`), linked for the console
        (``/api/agent/conversations/<id>/attachments/<mail>/<n>-<name>``: agents who may see the conversation);
        one over ``HANDOFF_MAIL_ATTACHMENT_BYTES`` is named, not kept."""
        links: list[Link] = []
        folder_name = hashlib.sha256(mail.message_id.encode()).hexdigest()[:24]
        folder = attachments_of(self._settings, conversation_id) / folder_name
        for index, attachment in enumerate(mail.attachments, 1):
            name = f"{index}-{UNSAFE.sub('_', attachment.filename).strip('._')[:100] or 'attachment'}"
            if len(attachment.data) > self._settings.mail_attachment_bytes:
                links.append(Link(f"{attachment.filename} ({len(attachment.data)} bytes: over the limit, not kept)",
                                  ""))
                continue
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(attachment.data)
            links.append(Link(f"{attachment.filename} ({len(attachment.data)} bytes)",
                              f"/api/agent/conversations/{conversation_id}/attachments/{folder_name}/{name}"))
        return links

    async def attachment(self, conversation_id: str, folder: str, name: str) -> Path | None:
        """The file of an attachment link of the conversation, if a message of it links it (no other path: the
        names are checked, and the link must be the conversation's). The caller checks who may see it."""
        if not re.fullmatch(r"[0-9a-f]{24}", folder) or not re.fullmatch(r"[0-9]+-[A-Za-z0-9._-]+", name):
            return None
        url = f"/api/agent/conversations/{conversation_id}/attachments/{folder}/{name}"
        linked = any(isinstance(link, dict) and link.get("url") == url
                     for message in await self._log.conversations.messages(conversation_id, after_id=0)
                     if message.sender == "customer" for link in (message.payload or {}).get("links") or [])
        path = attachments_of(self._settings, conversation_id) / folder / name
        return path if linked and path.is_file() else None

    # ---- out ---------------------------------------------------------------------------------------------

    async def outbound(self, record: ConversationRecord, message: MessageView) -> None:
        """A message just stored in a conversation of this channel: mail it if it is one the customer gets."""
        text = self._mail_text(record, message)
        if text is not None:
            await self._mail(record.conversation_id, message, text, record)

    async def _mail(self, conversation_id: str, message: MessageView, text: str, record: ConversationRecord | None,
                    *, to: str | None = None, subject: str | None = None) -> None:
        """Keep ``message`` as a mail in the outbox and try it: to the customer's latest address, threaded under
        their latest mail; in a conversation without any (a widget's), to ``to`` under the service's earlier
        mail of it, if any."""
        thread = await self._log.mail.thread(conversation_id)
        inbound = [row for row in thread if row.direction == "in"]
        answered: str | None
        if inbound:
            to, subject, answered = inbound[-1].address, inbound[0].subject, inbound[-1].mail_id
        elif to is not None:
            answered = thread[-1].mail_id if thread else None
            subject = thread[0].subject if thread else subject
        else:
            return
        agent_name = message.agent_name
        if message.sender == "agent" and not agent_name and message.agent_id:
            account = await self._log.people.get_agent(message.agent_id)
            agent_name = account.name if account else None
        rendered = self._channel.render(outbound_of(message.sender, text, message.payload, agent_name,
                                                    self._article_url))
        mail_id = f"<m{message.id}.{conversation_id}@{self.domain}>"
        threading = reply_thread([row.mail_id for row in thread], answered)
        mail = EmailMessage(policy=policy.SMTP)
        tag = record.language if record else None
        mail["From"] = formataddr((agent_name or texts.say(tag, "mail_sender"), self.sender))
        mail["To"] = to
        subject = subject or texts.say(tag, "mail_subject")
        mail["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
        mail["Date"] = formatdate(self._clock(), usegmt=True)
        mail["Message-ID"] = mail_id
        if threading.in_reply_to:
            mail["In-Reply-To"] = threading.in_reply_to
            mail["References"] = " ".join(threading.references)
        if message.sender != "agent":
            mail["Auto-Submitted"] = "auto-replied"  # RFC 3834: no out-of-office answers it back
        mail.set_content(rendered.text)
        row_id = await self._log.mail.queue_out(mail_id, conversation_id, message.id, to, str(mail["Subject"]),
                                                mail.as_string(), self._clock())
        if row_id is not None:
            self._first_try(row_id, record)

    async def callback(self, ticket_id: int, conversation_id: str, contact: str | None, text: str,
                       agent_id: AgentId) -> None:
        """The callback an out-of-hours ticket promised, written by an agent: kept as their message in the
        conversation (its transcript) and mailed, threaded under the customer's mail (an e-mail conversation)
        or under the promise's confirmation to ``contact`` (a widget's). The conversation's live record may be
        gone by then (ended ones expire): nothing here needs it."""
        message, _ = await self._log.conversations.add_message(ConversationId(conversation_id), "agent", text,
                                                               now=moment(self._clock()), agent_id=agent_id)
        await self._mail(conversation_id, message, text, None, to=contact, subject=f"Your request: ticket #{ticket_id}")

    def _first_try(self, row_id: int, record: ConversationRecord | None) -> None:
        """The first try, in the background: the agent's reply is acknowledged once it is kept, not once the
        relay has answered (the outbox holds it either way)."""
        self._deliveries.start(self._try(row_id, 0, record))

    async def settle(self) -> None:
        """Wait for the tries under way (tests; and closing)."""
        await self._deliveries.settle()

    async def close(self) -> None:
        """Give the tries under way a few seconds; what is left is tried again by the next sweep (any instance)."""
        await self._deliveries.close()

    def _mail_text(self, record: ConversationRecord, message: MessageView) -> str | None:
        """What of a message goes out by mail: an agent's reply, a bot answer the channel sends (cited), and the
        notices that matter by mail; None for the rest (a live chat's "X joined", the bot's uncited draft)."""
        if message.sender == "agent":
            return message.text
        if message.sender == "bot":
            payload = message.payload or {}
            custom = payload.get("custom")
            cites = isinstance(custom, dict) and isinstance(custom.get("citation"), dict)
            return message.text if cites or not self._channel.bot_answers_only_cited else None
        if message.sender != "system":
            return None
        if asked := (message.payload or {}).get("feedback_request"):
            # mailed when an agent resolved (a reply of just 1-5 rates); silence is no ending by mail
            mailed = isinstance(asked, dict) and asked.get("reason") == MAILED_ASK
            return texts.say(record.language, "feedback_ask_mail") if mailed else None
        if record.state in (State.OFFLINE, State.RESOLVED):
            return message.text
        if record.state is State.QUEUED and texts.is_queued_notice(message.text) and record.ticket_id is not None:
            return texts.say(record.language, "email_queued", ticket=record.ticket_id)
        return None

    async def callback_promised(self, record: ConversationRecord, ticket_id: TicketId, contact: str | None,
                                promise: str) -> None:
        """An out-of-hours ticket of the widget promised a callback by e-mail: confirm it there now, with the
        promise's words (a conversation of this channel got them as its notice already)."""
        if record.channel == CHANNEL or not contact:
            return
        mail_id = f"<callback-{ticket_id}.{record.conversation_id}@{self.domain}>"
        mail = EmailMessage(policy=policy.SMTP)
        mail["From"] = formataddr((texts.say(record.language, "mail_sender"), self.sender))
        mail["To"] = contact
        mail["Subject"] = texts.say(record.language, "mail_request_subject", ticket=ticket_id)
        mail["Date"] = formatdate(self._clock(), usegmt=True)
        mail["Message-ID"] = mail_id
        mail["Auto-Submitted"] = "auto-generated"
        mail.set_content(promise + "\n\n-- \n" + texts.say(record.language, "mail_signature"))
        row_id = await self._log.mail.queue_out(mail_id, record.conversation_id, None, contact,
                                                str(mail["Subject"]), mail.as_string(), self._clock())
        if row_id is not None:
            self._first_try(row_id, record)

    async def _try(self, row_id: int, tries: int, record: ConversationRecord | None = None) -> bool:
        """One try at handing a kept reply to the relay (if no other instance holds it); True: sent."""
        now = self._clock()
        if not await self._log.mail.claim_try(row_id, tries, now + LEASE):
            return False
        row = await self._log.mail.get(row_id)
        if row is None or row.raw is None:
            return False
        if self._outgoing is None:
            error = "no SMTP relay is configured (HANDOFF_SMTP_HOST)"
        else:
            try:
                await self._outgoing.send(email.message_from_string(row.raw, policy=policy.SMTP))
            except DeliveryFailed as exc:
                error = str(exc)
            else:
                await self._log.mail.sent(row_id)
                logger.info("conversation %s: e-mail %s sent", row.conversation_id, row.mail_id)
                await self._tell_agent(row.conversation_id, record, row.message_id, "sent", None, None)
                return True
        wait = backoff(tries + 1)
        await self._log.mail.try_failed(row_id, error, now + wait)
        logger.warning("conversation %s: e-mail %s not sent (try %d: %s); trying again in %.0f s",
                       row.conversation_id, row.mail_id, tries + 1, error, wait)
        await self._tell_agent(row.conversation_id, record, row.message_id, "retrying", error, now + wait)
        return False

    async def _tell_agent(self, conversation_id: str, record: ConversationRecord | None, message_id: int | None,
                          status: str, error: str | None, next_try: float | None) -> None:
        await self._deliveries.tell_agent(CHANNEL, conversation_id, record, message_id, status, error, next_try)

    async def sweep(self) -> int:
        """Try again the replies whose next try is due; how many went out."""
        sent = 0
        for row in await self._log.mail.due(self._clock()):
            sent += await self._try(row.id, row.tries)
        return sent
