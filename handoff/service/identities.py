"""Customer identity across channels: linking a channel identity to a customer, and finding its customer.

A customer the shop signed in on the widget may link their other channel identities (docs/channels.md, "Who a
customer is"); the rules are :mod:`handoff.core.identity`'s. Three ways, each a proof kept with the link:

- the shop says so (``shop_signed``): :meth:`Identities.shop_says`, called when a conversation starts with a
  signature that lists the customer's identities;
- a verified e-mail address (``email_verified``): :meth:`request_email_code` mails a code to the address
  through the e-mail channel's SMTP relay, :meth:`confirm_email` takes it back from the signed-in customer;
- a linked IM account (``im_linked``): :meth:`link_code` gives the signed-in customer a code on the widget,
  and the IM channel calls :meth:`link_with_code` when ``link CODE`` arrives from an account
  (:func:`handoff.core.identity.link_command` recognises it). Any channel plugs in by ``(channel, address)``.

Codes are 8 characters of :data:`~handoff.core.identity.CODE_ALPHABET` (40 bits), valid for
``HANDOFF_LINK_CODE_TTL`` seconds, used once (a claim in the live store, so two instances cannot both take one),
kept in the live store only under an HMAC of the code under ``HANDOFF_SECRET`` (a copy of Redis cannot be
searched for them offline). Asking for codes is limited per customer (``HANDOFF_LINK_CODES_PER_HOUR``),
trying them per customer and per IM account (``HANDOFF_LINK_ATTEMPTS_PER_HOUR``). A code lives in the live
store: in the embedded profile a restart forgets codes not yet used (the customer asks again).

A channel that opens a conversation asks :meth:`customer_of` first: a linked identity's conversation is its
customer's (profile, past tickets, routing), an unlinked one stays its own pseudo-customer.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from handoff.core.errors import BadRequest, Conflict, NotAllowed, RateLimited, UnknownConversation
from handoff.core.identity import (
    CODE_ALPHABET,
    CODE_LENGTH,
    Verification,
    canonical,
    normalize_code,
    valid_code,
)
from handoff.core.model import ConversationRecord, CustomerId, moment
from handoff.service import policy
from handoff.service.auth import Principal
from handoff.service.ports import Clock, IdentityView, Store, TicketLog
from handoff.settings import HandoffSettings

logger = logging.getLogger(__name__)
CODE_PREFIX = "identity-code:"
USED_PREFIX = "identity-code-used:"
HOUR = 3600.0
NOT_SIGNED_IN = "Only a customer the shop signed in can link other accounts: please sign in at the shop first."
BAD_CODE = "That code is not right, was used already or has expired."
TOO_MANY_CODES = "You have asked for too many codes; please try again later."
TOO_MANY_TRIES = "Too many codes tried; please try again later."

Mailer = Callable[[str, str], Awaitable[None]]
"""Mails a verification code: ``(address, code)`` (the e-mail channel's :meth:`~handoff.service.mail.MailChannel.
verification`)."""


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


class Identities:
    """Channel identities linked to customers: link, find, list, unlink."""

    def __init__(self, settings: HandoffSettings, store: Store, log: TicketLog, clock: Clock) -> None:
        self._settings = settings
        self._store = store
        self._log = log
        self._clock = clock
        self.mailer: Mailer | None = None  # set when the e-mail channel runs (HANDOFF_CHANNELS has email)

    # ---- finding -------------------------------------------------------------------------------------------

    async def customer_of(self, channel: str, address: str) -> IdentityView | None:
        """The link of ``(channel, address)`` if it is linked to a customer (an unverified identity: None). What a
        channel asks before it opens a conversation for a sender."""
        try:
            name, value = canonical(channel, address)
        except BadRequest:
            return None
        return await self._log.identities.get(name, value)

    async def of_customer(self, customer_id: str) -> list[dict[str, Any]]:
        """The customer's linked identities (channel, address, how and when verified), as the console's customer
        panel, the customer's own list and the data export show them."""
        return [i.to_json() for i in await self._log.identities.of_customer(customer_id)]

    async def listed(self, record: ConversationRecord) -> list[dict[str, Any]]:
        """The identities of the conversation's customer, for that customer (none for an anonymous visitor)."""
        return await self.of_customer(record.customer_id) if record.customer_external_id else []

    # ---- linking ---------------------------------------------------------------------------------------------

    async def link(self, channel: str, address: str, customer_id: CustomerId, how: Verification) -> None:
        """Link ``(channel, address)`` to the customer (the latest proof wins: a link to another customer moves)."""
        name, value = canonical(channel, address)
        before = await self._log.identities.link(name, value, customer_id, how.value, moment(self._clock()))
        if before is not None:
            logger.info("customer %s: a %s identity moved to them from customer %s (%s)", customer_id, name, before,
                        how.value)
        else:
            logger.info("customer %s: a %s identity linked (%s)", customer_id, name, how.value)

    async def shop_says(self, customer_id: CustomerId, claims: tuple[tuple[str, str], ...]) -> None:
        """The shop's signature listed these identities of the customer (``shop_signed``)."""
        for channel, address in claims:
            current = await self._log.identities.get(channel, address)
            if current is None or current.customer_id != customer_id:  # theirs already: the earlier proof stays
                await self.link(channel, address, customer_id, Verification.SHOP_SIGNED)

    async def request_email_code(self, record: ConversationRecord, address: str) -> dict[str, Any]:
        """Mail a code to ``address`` for the signed-in customer of ``record`` to type back
        (:meth:`confirm_email`). Raises ``NotAllowed`` (anonymous), ``Conflict`` (no e-mail channel here),
        ``RateLimited``, ``BadRequest`` (not an address)."""
        self._signed_in(record)
        _, value = canonical("email", address)
        if self.mailer is None:
            raise Conflict("E-mail addresses cannot be verified here (the e-mail channel is off).")
        await self._limit(f"link-codes:{record.customer_id}", self._settings.link_codes_per_hour, TOO_MANY_CODES)
        code = new_code()
        await self._keep(self._key("email", record.customer_id, value, code), record.customer_id)
        await self.mailer(value, code)
        logger.info("conversation %s: an e-mail verification code was sent", record.conversation_id)
        return {"expires_at": moment(self._clock() + self._settings.link_code_ttl).isoformat()}

    async def confirm_email(self, record: ConversationRecord, address: str, code: str) -> dict[str, Any]:
        """Link ``address`` (``email_verified``) if ``code`` is the one mailed to it for this customer, unused and in
        date. Raises ``BadRequest`` otherwise, ``RateLimited`` past ``HANDOFF_LINK_ATTEMPTS_PER_HOUR``."""
        self._signed_in(record)
        _, value = canonical("email", address)
        await self._limit(f"link-tries:customer:{record.customer_id}", self._settings.link_attempts_per_hour,
                          TOO_MANY_TRIES)
        typed = normalize_code(code)
        if not valid_code(typed) or not await self._take(self._key("email", record.customer_id, value, typed)):
            raise BadRequest(BAD_CODE)
        await self.link("email", value, record.customer_id, Verification.EMAIL_VERIFIED)
        return {"channel": "email", "address": value, "verified_by": Verification.EMAIL_VERIFIED.value}

    async def link_code(self, record: ConversationRecord) -> dict[str, Any]:
        """A code for the signed-in customer to send as ``link CODE`` from an IM account (any IM channel)."""
        self._signed_in(record)
        await self._limit(f"link-codes:{record.customer_id}", self._settings.link_codes_per_hour, TOO_MANY_CODES)
        code = new_code()
        await self._keep(self._key("im", code), record.customer_id)
        logger.info("conversation %s: an IM link code was given", record.conversation_id)
        return {"code": code, "command": f"link {code}",
                "expires_at": moment(self._clock() + self._settings.link_code_ttl).isoformat()}

    async def link_with_code(self, channel: str, address: str, code: str) -> CustomerId:
        """The IM channel's call when ``link CODE`` arrives from ``address`` on ``channel`` (``xmpp``, ``telegram``,
        any): link that account (``im_linked``) to the customer the code was given to; their id. Raises
        ``BadRequest`` (a wrong, used or expired code, or a bad address) and ``RateLimited`` (this account tried
        ``HANDOFF_LINK_ATTEMPTS_PER_HOUR`` codes this hour)."""
        name, value = canonical(channel, address)
        if name in ("web", "email"):
            raise BadRequest("Link codes link IM accounts; e-mail addresses are verified by mail.")
        await self._limit(f"link-tries:{name}:{hashlib.sha256(value.encode()).hexdigest()[:32]}",
                          self._settings.link_attempts_per_hour, TOO_MANY_TRIES)
        typed = normalize_code(code)
        data = await self._take(self._key("im", typed)) if valid_code(typed) else None
        if data is None:
            raise BadRequest(BAD_CODE)
        customer_id = CustomerId(data["customer_id"])
        await self.link(name, value, customer_id, Verification.IM_LINKED)
        return customer_id

    # ---- unlinking -------------------------------------------------------------------------------------------

    async def unlink_own(self, record: ConversationRecord, channel: str, address: str) -> None:
        """The signed-in customer removes one of their links; raises ``UnknownConversation`` (404) if it is not
        theirs (another customer's link looks the same as none)."""
        self._signed_in(record)
        await self._unlink(record.customer_id, channel, address)

    async def unlink(self, caller: Principal, customer_id: str, channel: str, address: str) -> None:
        """An admin removes a customer's link (the policy's ``unlink_identity``)."""
        policy.check(caller.role, policy.Action.UNLINK_IDENTITY)
        await self._unlink(customer_id, channel, address)

    async def _unlink(self, customer_id: str, channel: str, address: str) -> None:
        name, value = canonical(channel, address)
        if not await self._log.identities.unlink(name, value, customer_id):
            raise UnknownConversation("The customer has no such linked identity.")
        logger.info("customer %s: a %s identity unlinked", customer_id, name)

    # ---- helpers ---------------------------------------------------------------------------------------------

    @staticmethod
    def _signed_in(record: ConversationRecord) -> None:
        if not record.customer_external_id:
            raise NotAllowed(NOT_SIGNED_IN)

    def _key(self, *parts: str) -> str:
        """The live-store key of a code: an HMAC under ``HANDOFF_SECRET`` of what it is for and the code."""
        text = "\x1f".join(parts).encode()
        return CODE_PREFIX + hmac.new(str(self._settings.secret).encode(), text, hashlib.sha256).hexdigest()

    async def _keep(self, key: str, customer_id: CustomerId) -> None:
        """A new code, for the customer, until ``HANDOFF_LINK_CODE_TTL`` from now (by the service's clock; the
        store forgets it a little later by its own)."""
        ttl = self._settings.link_code_ttl
        await self._store.put_session(key, {"customer_id": customer_id, "expires": self._clock() + ttl}, ttl)

    async def _take(self, key: str) -> dict[str, Any] | None:
        """The code's data if it exists, is in date and this caller is the first to use it (on any instance); it is
        gone after."""
        data = await self._store.get_session(key)
        if data is None or float(data.get("expires", 0)) <= self._clock():
            return None
        if not await self._store.claim(USED_PREFIX + key.removeprefix(CODE_PREFIX),
                                                       self._settings.link_code_ttl):
            return None
        await self._store.delete_session(key)
        return data

    async def _limit(self, key: str, limit: int, refusal: str) -> None:
        now = self._clock()
        if await self._store.hit(key, HOUR, now) > limit:
            raise RateLimited(refusal, retry_after=max(1.0, math.ceil(HOUR - now % HOUR)))
