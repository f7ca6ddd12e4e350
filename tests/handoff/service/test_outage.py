"""A database outage: sockets stay, senders hear ``unavailable`` and keep their message, the writer retries
with back-off for a bounded time and holds a bounded backlog, and nothing is lost once the database is back.
On PostgreSQL behind a TCP proxy the test cuts and restores (tests/handoff/proxy.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from handoff.adapters.tickets import TicketLog
from handoff.adapters.tickets.message_writer import RETRY_FOR
from handoff.core.errors import UpstreamUnavailable
from handoff.core.model import ConversationId
from tests.handoff.conftest import OpenService
from tests.handoff.proxy import Proxy
from tests.handoff.world import Agent, Customer

pytestmark = pytest.mark.parametrize("profile", ["production"])  # a database on the network that can go away


@pytest.fixture
async def proxy() -> AsyncIterator[Proxy]:
    proxy = await Proxy("127.0.0.1", 5432).start()
    yield proxy
    await proxy.close()


def through(proxy: Proxy, database_url: str) -> str:
    parts = urlsplit(database_url)
    return urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))


async def test_a_database_outage_refuses_quickly_keeps_sockets_and_loses_no_message(
        open_service: OpenService, database_url: str, proxy: Proxy) -> None:
    service = await open_service(database_url=through(proxy, database_url))
    grace = await Agent.sign_in(service, "grace")
    customer = await Customer.start(service)
    await customer.say("a person please")
    cid = customer.conversation_id

    proxy.cut()
    began = time.monotonic()
    with pytest.raises(UpstreamUnavailable):  # the socket sends an `unavailable` error frame and stays
        await service.customers.says(cid, "are you there?", "k-1")
    assert time.monotonic() - began < RETRY_FOR + 3  # retried for a while, not for hours
    with pytest.raises(UpstreamUnavailable):
        await service.desk.says(grace.principal, cid, "Yes, one moment", "k-2")
    with pytest.raises(UpstreamUnavailable):  # a request path answers 503 at once
        await service.customers.history(cid)

    proxy.restore()
    said = await service.customers.says(cid, "are you there?", "k-1")  # the client sends it again
    assert said.new
    await service.desk.says(grace.principal, cid, "Yes, one moment", "k-2")
    again = await service.customers.says(cid, "are you there?", "k-1")  # a resend stores nothing
    assert not again.new and again.message.id == said.message.id
    texts = [m.text for m in await service.customers.history(cid)]
    assert texts.count("are you there?") == 1 and texts.count("Yes, one moment") == 1


async def test_the_writer_backlog_is_bounded_during_an_outage(database_url: str, proxy: Proxy) -> None:
    log = await TicketLog.open(through(proxy, database_url))
    try:
        await log.conversations.create_conversation(ConversationId("c_outage"), "cu_outage", "web", 1.8e9)
        log.conversations._writer._max_pending = 10
        proxy.cut()
        calls = [asyncio.ensure_future(log.conversations.add_message(
            ConversationId("c_outage"), "customer", f"m{n}", now=1.8e9, client_id=f"k{n}")) for n in range(30)]
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        assert all(isinstance(o, UpstreamUnavailable) for o in outcomes)
        busy = [o for o in outcomes if "Too many messages" in str(o)]
        assert len(busy) == 20  # beyond the bound: refused at once, not held in memory
        proxy.restore()
        for n in range(30):  # every client sends its message again
            await log.conversations.add_message(ConversationId("c_outage"), "customer", f"m{n}", now=1.8e9,
                                                client_id=f"k{n}")
        assert [m.text for m in await log.conversations.messages("c_outage")] == [f"m{n}" for n in range(30)]
    finally:
        proxy.restore()
        await log.close()
