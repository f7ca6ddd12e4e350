"""A real SMTP relay for the e-mail channel's tests: aiosmtpd on a free loopback port, in its own thread, keeping
every message it accepts (parsed with ``policy.default``); ``refuse`` makes it answer 451 to every message, as a
relay in trouble does."""

from __future__ import annotations

import asyncio
import email
import socket
import threading
from email import policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class CatchingRelay:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        self.refuse = False
        self._arrived = threading.Condition()
        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return "451 4.3.0 Try again later"
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        with self._arrived:
            self.messages.append(message)  # type: ignore[arg-type]
            self.recipients.append(list(envelope.rcpt_tos))
            self._arrived.notify_all()
        return "250 OK"

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """The first ``count`` messages, once that many arrived."""
        def wait() -> bool:
            with self._arrived:
                return self._arrived.wait_for(lambda: len(self.messages) >= count, timeout)
        assert await asyncio.to_thread(wait), f"{len(self.messages)} message(s) arrived, not {count}"
        return self.messages[:count]
