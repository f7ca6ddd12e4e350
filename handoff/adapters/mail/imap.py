"""An IMAP poller for an existing mailbox: every ``interval`` seconds it fetches the mailbox's unseen messages
(without marking them: ``BODY.PEEK[]``), hands each to the service, and only then flags it ``\\Seen``. A message
the service could not store stays unseen and is fetched again next time; one stored whose flag was lost (a
crash between the two) is fetched again and stored once, by its Message-ID. :mod:`imaplib` blocks: each poll
runs in a worker thread, one connection per poll (IMAPS by default, STARTTLS or plain when asked)."""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)
Sink = Callable[[bytes], Awaitable[object]]
BATCH = 50  # messages a poll takes at most (the rest: the next poll)


@dataclass(frozen=True)
class ImapMailbox:
    host: str
    port: int
    user: str
    password: str
    mailbox: str = "INBOX"
    security: str = "tls"  # tls (IMAPS), starttls, or none (a trusted network only)
    timeout: float = 30.0


class ImapPoller:
    def __init__(self, sink: Sink, mailbox: ImapMailbox, interval: float) -> None:
        self._sink = sink
        self._box = mailbox
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def _connect(self) -> imaplib.IMAP4:
        box = self._box
        if box.security == "tls":
            client: imaplib.IMAP4 = imaplib.IMAP4_SSL(box.host, box.port, ssl_context=ssl.create_default_context(),
                                                      timeout=box.timeout)
        else:
            client = imaplib.IMAP4(box.host, box.port, timeout=box.timeout)
            if box.security == "starttls":
                client.starttls(ssl.create_default_context())
        try:
            client.login(box.user, box.password)
            status, _ = client.select(box.mailbox)
            if status != "OK":
                raise imaplib.IMAP4.error(f"cannot open the mailbox {box.mailbox!r}")
        except BaseException:
            client.shutdown()
            raise
        return client

    def _unseen(self) -> list[tuple[str, bytes]]:
        """(uid, raw message) of the unseen messages, oldest first, at most :data:`BATCH`."""
        client = self._connect()
        try:
            status, data = client.uid("SEARCH", "UNSEEN")
            uids = [u.decode() for u in data[0].split()[:BATCH]] if status == "OK" and data and data[0] else []
            found = []
            for uid in uids:
                status, parts = client.uid("FETCH", uid, "(BODY.PEEK[])")
                raw = next((part[1] for part in parts if isinstance(part, tuple) and len(part) > 1), None)
                if status == "OK" and isinstance(raw, bytes):
                    found.append((uid, raw))
            return found
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    def _seen(self, uids: list[str]) -> None:
        client = self._connect()
        try:
            for uid in uids:
                client.uid("STORE", uid, "+FLAGS", "(\\Seen)")
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    async def poll(self) -> int:
        """One poll: how many messages were handed to the service (and flagged seen)."""
        taken: list[str] = []
        for uid, raw in await asyncio.to_thread(self._unseen):
            try:
                await self._sink(raw)
            except Exception:
                logger.exception("an e-mail fetched by IMAP could not be stored; it stays unseen for the next poll")
                continue
            taken.append(uid)
        if taken:
            await asyncio.to_thread(self._seen, taken)
        return len(taken)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.poll()
            except (OSError, imaplib.IMAP4.error) as exc:
                logger.warning("IMAP %s:%s: %s; trying again in %.0f s", self._box.host, self._box.port, exc,
                               self._interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval)

    async def close(self) -> None:
        self._stopping.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
