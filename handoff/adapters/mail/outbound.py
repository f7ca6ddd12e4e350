"""Replies out through the SMTP relay of ``HANDOFF_SMTP_*`` (the alerts' too): one try per call
(:func:`handoff.adapters.notify.send_message`: a worker thread, STARTTLS when asked, a sign-in when a user is
set). The caller (:mod:`handoff.service.mail`) keeps the message until a try succeeds and retries with
back-off."""

from __future__ import annotations

from email.message import EmailMessage

from handoff.adapters.notify import SmtpServer, send_message


class MailRelay:
    def __init__(self, server: SmtpServer) -> None:
        self._server = server

    async def send(self, message: EmailMessage) -> None:
        """Raises:
            DeliveryFailed: the relay could not be reached or refused the message."""
        await send_message(self._server, message)
