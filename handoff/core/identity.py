"""Customer identity across channels: the rules, pure (docs/channels.md, "Who a customer is").

A customer may reach the service on several channels: the widget (where the shop may sign them in), e-mail, an
IM network. Each channel knows its customers by an address (an e-mail address, a JID, a Telegram user id): a
*channel identity* ``(channel, address)``. Such an identity is the customer's, and their profile, past tickets
and routing (sticky agent, value tier) follow it, only when it is *linked* to them, and it is linked only by one
of three proofs (:class:`Verification`):

- ``shop_signed``: the shop signed the customer in on the widget and listed the address among the customer's in
  the same signature (:func:`signed_text`);
- ``email_verified``: a signed-in customer typed the code the service mailed to the address;
- ``im_linked``: a signed-in customer got a code on the widget and sent ``link CODE`` from the IM account.

Anything else (a From header, a chat handle) is an unverified identity: its own pseudo-customer, as before, and
never stored as a link. The latest proof wins: an address proved again for another customer moves to them.

This module is the vocabulary: addresses in a canonical form, the shop's claims, the link codes' alphabet and the
``link CODE`` command, and whether a mail's ``Authentication-Results`` (RFC 8601) say its From domain was checked.
No I/O: the service (:mod:`handoff.service.identities`) does the rest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from enum import StrEnum

from handoff.core.errors import BadRequest


class Verification(StrEnum):
    """How a channel identity was proved to be the customer's."""

    SHOP_SIGNED = "shop_signed"
    EMAIL_VERIFIED = "email_verified"
    IM_LINKED = "im_linked"


MAX_ADDRESS = 320
MAX_CLAIMS = 10
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud or retyped without doubt
CODE_LENGTH = 8  # 32^8 = 2^40 codes
_CHANNEL = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
_EMAIL = re.compile(r"^[^@\s<>(),;:\"\[\]\\]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?\.[A-Za-z0-9-]{2,}$")
_COMMAND = re.compile(r"^\s*/?link\s+([A-Za-z0-9 -]{8,16})\s*$", re.IGNORECASE)


def channel_name(channel: str) -> str:
    """A channel's name as identities store it; raises ``BadRequest`` for one no channel could have."""
    name = channel.strip().lower()
    if not _CHANNEL.match(name):
        raise BadRequest("That is not a channel name.")
    return name


def canonical(channel: str, address: str) -> tuple[str, str]:
    """``(channel, address)`` in the one form identities are kept and looked up in: e-mail addresses lower-cased
    (their local part is case-insensitive at every provider that matters), an XMPP address as its bare JID
    (lower-cased, without the ``/resource`` of one client), any other channel's address as given, trimmed.

    Raises:
        BadRequest: an empty, over-long or (for e-mail) malformed address.
    """
    name = channel_name(channel)
    value = address.strip()
    if name == "email":
        value = value.lower()
        if not _EMAIL.match(value):
            raise BadRequest("That is not an e-mail address.")
    elif name == "xmpp":
        value = value.split("/", 1)[0].lower()
    if not value or len(value) > MAX_ADDRESS or any(ord(c) < 32 or c == "\x7f" for c in value):
        raise BadRequest("That is not an address of this channel.")
    return name, value


def parse_claims(text: str | None) -> tuple[tuple[str, str], ...]:
    """The identities the shop lists for a signed-in customer: ``"email:jo@example.com xmpp:jo@im.example"``,
    ``channel:address`` pairs separated by spaces, at most :data:`MAX_CLAIMS` (raises ``BadRequest``
    otherwise). The text is what the shop signed, so it is parsed only after the signature matched."""
    claims: list[tuple[str, str]] = []
    for item in (text or "").split():
        channel, sep, address = item.partition(":")
        if not sep:
            raise BadRequest("Each identity is channel:address.")
        claims.append(canonical(channel, address))
    if len(claims) > MAX_CLAIMS:
        raise BadRequest(f"At most {MAX_CLAIMS} identities may be signed for one customer.")
    return tuple(dict.fromkeys(claims))


def signed_text(external_id: str, expires: int, identities: str | None = None) -> str:
    """What the shop signs: ``"<external_id>.<expires>"`` as before, and ``".<identities>"`` after it when it lists
    the customer's identities (so signatures made without identities stay valid, and none can be added to them)."""
    text = f"{external_id}.{expires}"
    return f"{text}.{identities}" if identities else text


def normalize_code(code: str) -> str:
    """A code as typed (any case, spaces or hyphens between groups) in the form it was issued."""
    return re.sub(r"[\s-]", "", code).upper()


def valid_code(code: str) -> bool:
    return len(code) == CODE_LENGTH and all(c in CODE_ALPHABET for c in code)


def link_command(text: str) -> str | None:
    """The code of an IM message that is the ``link CODE`` command (``/link CODE`` too), or None: what an IM
    channel's adapter asks before it treats a message as the customer's words."""
    match = _COMMAND.match(text)
    if match is None:
        return None
    code = normalize_code(match.group(1))
    return code if valid_code(code) else None


# ---- e-mail: was the From domain checked by the receiving MTA? ----------------------------------------

def _domain(address: str) -> str:
    return address.rpartition("@")[2].strip().strip(">").lower()


def _aligned(domain: str, from_domain: str) -> bool:
    """DMARC's relaxed alignment: the same domain, or one a subdomain of the other's organisation (approximated
    as: either ends with ``.`` + the other)."""
    return bool(domain) and (domain == from_domain or from_domain.endswith("." + domain)
                             or domain.endswith("." + from_domain))


def _results(header: str) -> tuple[str, list[tuple[str, str, dict[str, str]]]]:
    """The authserv-id and each ``method=result prop=value ...`` of an Authentication-Results value."""
    text = re.sub(r"\([^()]*\)", " ", header)  # RFC 8601 comments
    parts = [p.strip() for p in text.split(";")]
    authserv = parts[0].split()[0].lower() if parts and parts[0].split() else ""
    found = []
    for part in parts[1:]:
        words = part.split()
        if not words or "=" not in words[0]:
            continue
        method, _, result = words[0].partition("=")
        props = {}
        for word in words[1:]:
            key, sep, value = word.partition("=")
            if sep:
                props[key.lower()] = value.strip('"').lower()
        found.append((method.lower(), result.lower(), props))
    return authserv, found


def mail_authenticated(headers: Sequence[str] | Iterable[str], authserv_id: str, from_address: str) -> bool:
    """Whether the receiving MTA named ``authserv_id`` (``HANDOFF_MAIL_TRUST_AUTH_RESULTS``) says the mail's From
    domain is genuine: an ``Authentication-Results`` header of that authserv-id with ``dmarc=pass`` for the From
    domain, or ``dkim=pass`` with a signing domain (``header.d``) aligned with it, or ``spf=pass`` with an envelope
    sender (``smtp.mailfrom``) aligned with it. Headers of any other authserv-id are ignored: a sender can write
    such a header into their own mail, and only our MTA's (which removes forged ones of its own id) counts."""
    from_domain = _domain(from_address)
    if not authserv_id or not from_domain:
        return False
    for header in headers:
        authserv, results = _results(header)
        if authserv != authserv_id.lower():
            continue
        for method, result, props in results:
            if result != "pass":
                continue
            if method == "dmarc" and _domain(props.get("header.from", "")) == from_domain:
                return True
            if method == "dkim" and _aligned(props.get("header.d", ""), from_domain):
                return True
            if method == "spf" and _aligned(_domain(props.get("smtp.mailfrom", "")), from_domain):
                return True
    return False
