"""The service's own SMTP listener (aiosmtpd) in the service's event loop: it accepts mail for its one address
(or any address of its domain), refuses other recipients (550) and messages over the size limit (552), and
hands each message to the service before it answers 250. A failure there answers 451: the sending server keeps
the message and tries again later, so nothing is lost (and the service stores a re-delivery once, by its
Message-ID)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiosmtpd.smtp import SMTP

logger = logging.getLogger(__name__)
Sink = Callable[[bytes], Awaitable[object]]


class _Handler:
    def __init__(self, sink: Sink, address: str) -> None:
        self._sink = sink
        self._address = address.lower()
        self._domain = "@" + self._address.rsplit("@", 1)[-1] if "@" in self._address else "@" + self._address

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        lowered = address.lower()
        if lowered != self._address and not (self._address.startswith("@") and lowered.endswith(self._domain)):
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        try:
            await self._sink(raw if isinstance(raw, bytes) else str(raw).encode())
        except Exception:
            logger.exception("an inbound e-mail could not be stored; the sender is told to try again (451)")
            return "451 4.3.0 Try again later"
        return "250 OK"


class MailListener:
    """An SMTP server on ``host``:``port`` (``port`` 0: any free port, :attr:`port` says which)."""

    def __init__(self, sink: Sink, *, host: str, port: int, address: str, max_bytes: int,
                 hostname: str = "handoff") -> None:
        self._handler = _Handler(sink, address)
        self._host, self._port, self._max = host, port, max_bytes
        self._hostname = hostname
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(self._handler, data_size_limit=self._max, hostname=self._hostname,
                         enable_SMTPUTF8=True, loop=loop), self._host, self._port)
        logger.info("e-mail listener on %s:%s", self._host, self.port)

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
