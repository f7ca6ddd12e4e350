"""Customers' conversation tokens: the only key to a conversation, with an expiry and a revocation.

A token is ``v1.<issued>.<mac>``: the second it was issued, and an HMAC-SHA256 under ``HANDOFF_SECRET`` of the
conversation id and that second. It opens its conversation for ``HANDOFF_CUSTOMER_TOKEN_TTL`` seconds (30
days by default). Revoking a conversation's tokens (an admin does it, and deleting a customer's data does it)
keeps the moment of the revocation in the ticket log (durable across restarts) and, as a cache, in the live
store for as long as a token can live: every token issued until then is refused. A refused token is a
``NotAuthenticated`` (401 over REST, close 4401 on the socket); the widget then forgets the conversation and
starts a new one when the customer writes.

Tokens of the earlier form (a bare HMAC of the id, valid forever) are refused like any other bad token.
"""

from __future__ import annotations

import hashlib
import hmac

from handoff.core.errors import NotAuthenticated
from handoff.core.model import ConversationId

VERSION = "v1"
REVOKED_PREFIX = "customer-tokens-revoked:"  # + conversation id: a live-store key with a TTL (see Sessions)
EXPIRED = "This conversation's link has expired; write again to start a new conversation."
REFUSED = "This conversation belongs to someone else, or its link has expired."


def _mac(secret: str, conversation_id: str, issued: int) -> str:
    return hmac.new(secret.encode(), f"conversation:{conversation_id}:{issued}".encode(), hashlib.sha256).hexdigest()


def issue(secret: str, conversation_id: ConversationId, now: float) -> str:
    """A new token for the conversation, issued at ``now``."""
    issued = int(now)
    return f"{VERSION}.{issued}.{_mac(secret, conversation_id, issued)}"


def issued_at(secret: str, conversation_id: ConversationId, token: str | None) -> int:
    """When a genuine token of the conversation was issued; raises ``NotAuthenticated`` for anything else (missing,
    malformed, non-ASCII, another conversation's, forged, of the earlier form)."""
    if not token or not token.isascii():
        raise NotAuthenticated(REFUSED)
    version, _, rest = token.partition(".")
    issued_text, _, mac = rest.partition(".")
    if version != VERSION or not issued_text.isdigit() or len(issued_text) > 12:
        raise NotAuthenticated(REFUSED)
    issued = int(issued_text)
    if not hmac.compare_digest(_mac(secret, conversation_id, issued).encode(), mac.encode()):
        raise NotAuthenticated(REFUSED)
    return issued


def check(secret: str, conversation_id: ConversationId, token: str | None, *, now: float, ttl: float,
          revoked_before: float | None) -> None:
    """Raises ``NotAuthenticated`` unless ``token`` is the conversation's, younger than ``ttl`` seconds and issued
    after the conversation's tokens were last revoked (``revoked_before``, if ever)."""
    issued = issued_at(secret, conversation_id, token)
    if now - issued > ttl:
        raise NotAuthenticated(EXPIRED)
    if revoked_before is not None and issued <= revoked_before:
        raise NotAuthenticated(REFUSED)
