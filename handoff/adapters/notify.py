"""Where alerts go: signed webhooks (HTTP POST of JSON) and e-mail over SMTP.

Webhook signature (docs/alerts.md has a verifier): the header ``Handoff-Signature: t=<unix seconds>,v1=<hex>``
where ``<hex>`` is HMAC-SHA256, keyed with ``HANDOFF_ALERT_WEBHOOK_SECRET``, of ``<t>.<raw body>``. The timestamp
is signed with the body, so a receiver that refuses old timestamps refuses replays too.

E-mail goes through the SMTP server of ``HANDOFF_SMTP_*`` with the standard library's :mod:`smtplib`, in a
worker thread (it blocks), STARTTLS when asked, a sign-in when a user is set. Each send is one try: the caller
(:mod:`handoff.service.alerts`) retries and records the outcome.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import smtplib
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

SIGNATURE_HEADER = "Handoff-Signature"
TIMEOUT = 10.0


class DeliveryFailed(Exception):
    """One try at a delivery failed; the sentence says why (never a secret). ``retry_after``: seconds the provider
    asked to wait before the next try (Telegram's 429), if it said."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DeliveryRefused(DeliveryFailed):
    """The provider refused the message for good (a Telegram customer blocked the bot, the chat is gone): trying
    again would not help, so an outbox gives it up and tells the agent."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, now: float, tolerance: float = 300.0) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` and its time is within ``tolerance`` seconds of
    ``now`` (what a receiver does; the tests use it on what the service sent)."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return abs(now - timestamp) <= tolerance and hmac.compare_digest(expected, parts.get("v1", ""))


def recipient(url: str) -> str:
    """A webhook URL as the history keeps it: without credentials, query and fragment (where tokens tend to
    be)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port is not None else host
    return urlunsplit(parts._replace(netloc=netloc, query="", fragment=""))


class Webhooks:
    """Signed JSON POSTs; a 2xx answer is a delivery."""

    def __init__(self, secret: str, timeout: float = TIMEOUT, transport: httpx.AsyncBaseTransport | None = None):
        self._secret = secret
        self._client = httpx.AsyncClient(timeout=timeout, transport=transport, follow_redirects=False)

    async def send(self, url: str, payload: dict[str, Any]) -> None:
        """Raises:
            DeliveryFailed: no answer, or not a 2xx one."""
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "handoff-alerts",
                   SIGNATURE_HEADER: sign(self._secret, int(time.time()), body)}
        try:
            response = await self._client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}"[:300]) from None
        if not 200 <= response.status_code < 300:
            raise DeliveryFailed(f"HTTP {response.status_code}")

    async def close(self) -> None:
        await self._client.aclose()


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    sender: str
    user: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = TIMEOUT


class Mail:
    """Plain-text e-mail through one SMTP server."""

    def __init__(self, server: SmtpServer) -> None:
        self._server = server

    async def send(self, to: str, subject: str, text: str) -> None:
        """Raises:
            DeliveryFailed: the server could not be reached or refused the message."""
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self._server.sender, to, subject
        message.set_content(text)
        await send_message(self._server, message)


async def send_message(server: SmtpServer, message: EmailMessage) -> None:
    """One try at handing ``message`` to ``server`` (alerts, and the e-mail channel's replies).

    Raises:
        DeliveryFailed: the server could not be reached or refused the message."""
    try:
        await asyncio.to_thread(_send, server, message)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}"[:300]) from None


def _send(server: SmtpServer, message: EmailMessage) -> None:
    with smtplib.SMTP(server.host, server.port, timeout=server.timeout) as smtp:
        if server.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if server.user:
            smtp.login(server.user, server.password or "")
        smtp.send_message(message)
