"""Faults on real servers with the real bot: the embedded handoff process killed mid-conversation comes back
with the conversation (tests/handoff/service/test_recovery.py specifies recovery in process, both profiles)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
import websockets

from handoff.web.server import SHUTDOWN_GRACE
from tests.handoff.e2e.browser import Desk, Shopper, browsers, expect
from tests.handoff.e2e.harness import Agent, Customer, restart, running_handoff
from tests.handoff.frames import message_from, of_type
from tests.servers import Assistant


async def test_a_killed_embedded_service_comes_back_with_the_conversation(bot: Assistant, tmp_path: Path) -> None:
    with running_handoff(tmp_path, "embedded", bot.rasa_url, bot.token) as servers:
        server = servers[0]
        grace = await Agent.sign_in(server, "grace")
        desk = await grace.connect()
        await desk.next(of_type("hello"))
        customer = await Customer.start(server, name="Jo Tester", email="jo@example.com")
        socket = await customer.connect()
        await socket.next(of_type("hello"))
        await customer.say(socket, "I want to talk to a human")
        ticket_id = (await desk.next(of_type("assigned")))["conversation"]["ticket_id"]
        await grace.say(desk, customer.conversation_id, "Hi Jo, Grace here.")
        await socket.next(message_from("agent", "Grace here"))
        ack = await customer.say(socket, "My parcel is late")
        await desk.next(message_from("customer", "parcel is late"))

        restart(server, signal.SIGKILL)

        socket = await customer.connect(after=ack["id"])  # the widget's token and its last seen message
        hello = await socket.next(of_type("hello"))
        assert (hello["state"], hello["messages"]) == ("assigned", [])
        desk = await grace.connect()  # her session outlived the killed process (it is in the ticket log too)
        console = await desk.next(of_type("hello"))
        assert [c["conversation_id"] for c in console["conversations"]] == [customer.conversation_id]
        assert console["conversations"][0]["accept_deadline"] is None  # she had answered
        await customer.say(socket, "Are you still there?")
        await desk.next(message_from("customer", "still there"))
        await grace.say(desk, customer.conversation_id, "Yes, looking at your parcel now.")
        await socket.next(message_from("agent", "looking at your parcel"))
        ticket = (await grace.call("GET", f"/api/tickets/{ticket_id}")).json()
        assert (ticket["status"], ticket["assignee_id"]) == ("open", grace.agent_id)
        texts = [m["text"] for m in ticket["messages"]]
        assert texts.index("My parcel is late") < texts.index("Are you still there?")
        await socket.close()
        await desk.close()


async def test_sigterm_closes_sockets_for_a_reconnect_and_keeps_every_acknowledged_message(
        bot: Assistant, tmp_path: Path) -> None:
    with running_handoff(tmp_path, "embedded", bot.rasa_url, bot.token) as servers:
        server = servers[0]
        customer = await Customer.start(server)
        socket = await customer.connect()
        await socket.next(of_type("hello"))
        sent = [f"message {n}" for n in range(30)]
        for n, text in enumerate(sent):  # a burst, not waiting for the acks
            await socket.send({"type": "message", "client_id": f"k{n}", "text": text})
        process = server.processes[-1]
        os.killpg(process.pid, signal.SIGTERM)
        acked: set[str] = set()
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                frame = json.loads(await socket.connection.recv())
                if frame["type"] == "ack":
                    acked.add(frame["client_id"])
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012  # service restart: reconnect
        began = time.monotonic()
        process.wait(timeout=SHUTDOWN_GRACE + 5)
        assert time.monotonic() - began < SHUTDOWN_GRACE + 5
        assert acked

        restart(server, signal.SIGTERM)  # already ended: starts it again
        socket = await customer.connect()
        stored = {m["client_id"] for m in (await socket.next(of_type("hello")))["messages"]}
        assert acked <= stored  # every acknowledged message was committed before the process ended
        await socket.close()


async def test_the_widget_in_a_browser_reconnects_after_a_restart_and_sends_what_waited(
        bot: Assistant, tmp_path: Path) -> None:
    with running_handoff(tmp_path, "embedded", bot.rasa_url, bot.token) as servers:
        server = servers[0]
        async with browsers(tmp_path) as open_browser:
            desk = Desk(await open_browser.open("grace"), server.url)
            await desk.sign_in("grace")
            shop = Shopper(await open_browser.open("customer"), server.url)
            await shop.visit()
            await shop.say("I want to talk to a human")
            await expect(shop.state).to_have_text("Grace Hopper (agent)")
            conversation_id = (await shop.stored())["conversationId"]
            await desk.reply("Hi, Grace here.")
            await expect(shop.bubble("Hi, Grace here.", "agent")).to_have_count(1)

            restart(server, signal.SIGKILL)
            await shop.say("Are you still there?")  # kept by the widget until its socket is back

            # her session outlived the killed process: the console reconnects with its cookie, no sign-in
            await expect(desk.page.get_by_test_id("login-username")).to_be_hidden()
            await desk.page.get_by_test_id("mine-item").click()
            await expect(desk.lines("Are you still there?", "customer")).to_have_count(1)
            await expect(desk.lines("Hi, Grace here.", "agent")).to_have_count(1)
            await desk.reply("Yes, still here.")
            await expect(shop.bubble("Yes, still here.", "agent")).to_have_count(1)
            await expect(shop.bubble("Are you still there?", "customer")).to_have_count(1)
            assert (await shop.stored())["conversationId"] == conversation_id
