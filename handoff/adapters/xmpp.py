"""The XMPP channel's transport (slixmpp): the service signed in as its own account, customers' chat messages in,
the service's messages out as ``type=chat``.

In: each chat message from another account with a body becomes an :class:`~handoff.core.channels.InboundIm`,
handed to the service in the order it came (one worker, so a customer's messages stay in order). Its event id
is the server's stanza-id for this account (XEP-0359, when the server stamps one), else the sender's
origin-id, else a hash of the sender's bare JID and the stanza's id: a stanza the client sent again is the same
event. Ignored: our own messages (carbons of them included), groupchat, headlines, errors, empty bodies (chat
states). Presence subscriptions are accepted, so customers can add the service to their contacts.

Out: :meth:`XmppTransport.send` writes one message while the session is up, and raises
:class:`~handoff.adapters.notify.DeliveryFailed` while it is not (the outbox tries again with back-off, and the
agent sees it). When the server goes away the client reconnects by itself (slixmpp's back-off: 1, 3, 7, ... s,
at most 5 minutes).

One instance of a deployment holds the session (:mod:`handoff.service.im` takes the store's lease first): two
sessions of one account would each get the customers' messages (or, without resources' priorities, either).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from typing import Any

from slixmpp import ClientXMPP

from handoff.adapters.notify import DeliveryFailed
from handoff.core.channels import Deliver, InboundIm, Rendered

logger = logging.getLogger(__name__)
CHANNEL = "xmpp"


def event_id_of(own: str, sender: str, stanza_id: str | None, stanza_by: str | None, origin_id: str | None,
                message_id: str | None) -> str:
    """A message's event id: the server's stanza-id for ``own`` (XEP-0359), else the sender's origin-id, else a
    hash of the sender's bare JID and the stanza's id (the same stanza sent again: the same event); a new id for
    a stanza without any (it cannot be told from a repeat)."""
    if stanza_id and stanza_by and stanza_by.lower() == own.lower():
        return f"sid:{stanza_id}"
    if origin_id:
        return "oid:" + hashlib.sha256(f"{sender}\0{origin_id}".encode()).hexdigest()[:48]
    if message_id:
        return "id:" + hashlib.sha256(f"{sender}\0{message_id}".encode()).hexdigest()[:48]
    return f"none:{uuid.uuid4().hex}"


class XmppTransport:
    """An XMPP client session for the ``xmpp`` channel (an :class:`~handoff.service.ports.ImTransport`).

    ``server``: ``(host, port)`` to connect to (none: the JID's domain, by its SRV records); ``tls``:
    ``required`` (STARTTLS or direct TLS only), or ``optional`` (plain text too, and SCRAM over it: a server on
    loopback, as ``make run``'s)."""

    channel = CHANNEL
    exclusive = True

    def __init__(self, jid: str, password: str, server: tuple[str, int] | None = None, tls: str = "required",
                 resource: str = "handoff") -> None:
        self._jid, self._password, self._server, self._tls = jid, password, server, tls
        self._resource = resource
        self._client: Any = None
        self._deliver: Deliver | None = None
        self._online = asyncio.Event()
        self._closing = False
        self._inbox: asyncio.Queue[InboundIm] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None

    @property
    def online(self) -> bool:
        return self._online.is_set()

    async def start(self, deliver: Deliver) -> None:
        """Connect and sign in, in the background (the session comes up when the server answers; until then
        sends fail and are retried)."""
        self._deliver, self._closing = deliver, False
        self._inbox = asyncio.Queue()
        self._worker = asyncio.create_task(self._take_in())
        self._client = self._new_client()
        self._connect()

    async def wait_online(self, timeout: float) -> bool:
        """Whether the session is up within ``timeout`` seconds (tests, start-up logs)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._online.wait(), timeout)
        return self.online

    def _new_client(self) -> Any:
        plain = self._tls == "optional"
        client = ClientXMPP(f"{self._jid}/{self._resource}", self._password, plugin_config={
            "feature_mechanisms": {"unencrypted_scram": plain, "unencrypted_plain": plain}})
        client.enable_plaintext = plain
        client.register_plugin("xep_0359")  # stanza-id, origin-id
        client.register_plugin("xep_0199", {"keepalive": True, "interval": 60, "timeout": 20})  # a dead link found
        client.auto_authorize = True  # customers may add the service to their contacts
        client.auto_subscribe = True
        client.add_event_handler("session_start", self._session_start)
        client.add_event_handler("disconnected", self._disconnected)
        client.add_event_handler("failed_auth", self._failed_auth)
        client.add_event_handler("message", self._message)
        return client

    def _connect(self) -> None:
        host, port = self._server or (None, None)
        self._client.connect(host, port)

    async def _session_start(self, _: Any) -> None:
        self._client.send_presence()
        with contextlib.suppress(Exception):
            await self._client.get_roster(timeout=10)
        self._online.set()
        logger.info("xmpp: signed in as %s", self._jid)

    def _failed_auth(self, _: Any) -> None:
        logger.error("xmpp: the server refused the sign-in of %s (HANDOFF_XMPP_JID, HANDOFF_XMPP_PASSWORD)",
                     self._jid)

    def _disconnected(self, reason: Any) -> None:
        was_online = self._online.is_set()
        self._online.clear()
        if self._closing:
            return
        if was_online:
            logger.warning("xmpp: the session to the server ended (%s); reconnecting", reason or "closed")
        self._connect()  # slixmpp retries with back-off until the server answers

    def _message(self, message: Any) -> None:
        """A stanza: queued for the worker when it is a customer's chat message with words."""
        if message["type"] not in ("chat", "normal"):
            return  # groupchat, headline, error
        sender = message["from"].bare
        own = self._client.boundjid.bare
        body = str(message["body"] or "")
        if not sender or sender.lower() == own.lower() or not body.strip():
            return  # our own (a carbon of it too), or a chat state without words
        stanza = message["stanza_id"]
        event_id = event_id_of(own, sender, stanza["id"] or None, str(stanza["by"] or "").split("/")[0] or None,
                               message["origin_id"]["id"] or None, message["id"] or None)
        name = message["from"].user or sender
        self._inbox.put_nowait(InboundIm(CHANNEL, sender, event_id, body, name))

    async def _take_in(self) -> None:
        while True:
            event = await self._inbox.get()
            if self._deliver is None:
                continue
            try:
                await self._deliver(event)
            except Exception:
                logger.exception("xmpp: a customer's message could not be taken in")

    async def send(self, address: str, rendered: Rendered) -> str:
        """Raises:
            DeliveryFailed: the session is not up (the outbox tries again later)."""
        if self._client is None or not self._online.is_set():
            raise DeliveryFailed("not connected to the XMPP server")
        message = self._client.make_message(mto=address, mbody=rendered.text, mtype="chat")
        message_id = uuid.uuid4().hex
        message["id"] = message_id
        message["origin_id"]["id"] = message_id
        message.send()
        return message_id

    async def close(self) -> None:
        """Sign out and stop (what is not taken in yet is dropped: XMPP does not send it again)."""
        self._closing = True
        self._online.clear()
        if self._client is not None:
            client, self._client = self._client, None
            with contextlib.suppress(Exception):
                client.cancel_connection_attempt()
                await asyncio.wait_for(client.disconnect(wait=2.0), 3.0)
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
