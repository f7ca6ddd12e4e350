"""The XMPP transport against a real Prosody (started by the test on a free loopback port): a customer's chat
message in with a stable event id, the service's message out as chat, what is not a customer's words ignored,
an outage failing sends until the session is back by itself."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from handoff.adapters.notify import DeliveryFailed
from handoff.adapters.xmpp import XmppTransport, event_id_of
from handoff.core.channels import InboundIm, Rendered
from scripts.xmpp_chat import XmppChat
from tests.servers import Prosody, running_prosody

ACCOUNTS = {"support": "bot-secret", "jane": "jane-secret"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Prosody]:
    with running_prosody(tmp_path, ACCOUNTS) as prosody:
        yield prosody


async def started(server: Prosody, events: asyncio.Queue[InboundIm], password: str = "bot-secret") -> XmppTransport:
    transport = XmppTransport(server.jid("support"), password, server.server, tls="optional")

    async def deliver(event: InboundIm) -> None:
        events.put_nowait(event)
    await transport.start(deliver)
    return transport


async def jane(server: Prosody) -> XmppChat:
    chat = XmppChat(server.jid("jane"), "jane-secret", server.server)
    await chat.connect()
    return chat


def test_the_event_id_is_the_servers_stanza_id_else_the_origin_id_else_the_stanzas() -> None:
    own, sender = "support@localhost", "jane@localhost"
    assert event_id_of(own, sender, "s1", "support@localhost", "o1", "m1") == "sid:s1"
    by_origin = event_id_of(own, sender, "s1", "someone@else", "o1", "m1")  # a stanza-id not for us: ignored
    assert by_origin.startswith("oid:") and by_origin == event_id_of(own, sender, None, None, "o1", "m2")
    by_id = event_id_of(own, sender, None, None, None, "m1")
    assert by_id.startswith("id:") and by_id == event_id_of(own, sender, None, None, None, "m1")
    assert by_id != event_id_of(own, "bob@localhost", None, None, None, "m1")
    assert event_id_of(own, sender, None, None, None, None) != event_id_of(own, sender, None, None, None, None)


async def test_a_customers_chat_message_comes_in_and_the_answer_goes_out(server: Prosody) -> None:
    events: asyncio.Queue[InboundIm] = asyncio.Queue()
    transport = await started(server, events)
    assert await transport.wait_online(20)
    customer = await jane(server)
    try:
        customer.say("support@localhost", "Hello, where is my parcel?", stanza_id="m-1")
        event = await asyncio.wait_for(events.get(), 20)
        assert (event.channel, event.address, event.text, event.display_name) == (
            "xmpp", "jane@localhost", "Hello, where is my parcel?", "jane")
        customer.say("support@localhost", "Hello, where is my parcel?", stanza_id="m-1")  # resent: the same event
        again = await asyncio.wait_for(events.get(), 20)
        assert again.event_id == event.event_id
        chat_state = customer.client.make_message(mto="support@localhost", mtype="chat")  # no body: ignored
        chat_state.send()
        customer.client.make_message(mto="support@localhost", mbody="hi all", mtype="groupchat").send()
        customer.say("support@localhost", "second", stanza_id="m-2")
        assert (await asyncio.wait_for(events.get(), 20)).text == "second"
        sent_id = await transport.send("jane@localhost", Rendered("It left the warehouse today."))
        assert sent_id and await customer.next("It left the warehouse today.", timeout=20)
    finally:
        await customer.close()
        await transport.close()


async def test_while_the_server_is_away_sends_fail_and_the_session_comes_back_by_itself(server: Prosody) -> None:
    events: asyncio.Queue[InboundIm] = asyncio.Queue()
    transport = await started(server, events)
    assert await transport.wait_online(20)
    server.stop()
    for _ in range(50):
        if not transport.online:
            break
        await asyncio.sleep(0.1)
    with pytest.raises(DeliveryFailed, match="not connected"):
        await transport.send("jane@localhost", Rendered("lost?"))
    server.restart()
    assert await transport.wait_online(30)
    customer = await jane(server)
    try:
        await transport.send("jane@localhost", Rendered("Back again."))
        assert await customer.next("Back again.", timeout=20)
    finally:
        await customer.close()
        await transport.close()


async def test_a_wrong_password_never_signs_in(server: Prosody) -> None:
    transport = await started(server, asyncio.Queue(), password="wrong")
    try:
        assert not await transport.wait_online(3)
        with pytest.raises(DeliveryFailed):
            await transport.send("jane@localhost", Rendered("no"))
    finally:
        await transport.close()
