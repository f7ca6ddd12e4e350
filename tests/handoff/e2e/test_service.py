"""The handoff service end to end over its wire protocol, in both profiles, with the real bot behind it.

A thin layer on real servers: a customer talks to the bot, asks for a person, is queued and routed; the
agent answers, the customer sees it; the agent resolves or hands back (and the bot's tracker learns what
was said); sockets reconnect, refuse what they must, and two instances share one Redis. Every behaviour is
specified in process, faster and on a fake clock, in tests/handoff/service/ and tests/handoff/web/.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
import websockets

from handoff.service.auth import widget_signature
from tests.handoff.e2e.harness import Agent, Customer, HandoffServer, running_handoff
from tests.handoff.frames import message_from, of_type
from tests.servers import Assistant


async def escalate(server: HandoffServer, text: str = "I want to talk to a human") -> tuple[Customer, object]:
    customer = await Customer.start(server, name="Jo Tester", email="jo@example.com")
    socket = await customer.connect()
    await socket.next(of_type("hello"))
    await customer.say(socket, text)
    await socket.next(lambda f: f.get("type") == "state" and f.get("state") in ("queued", "assigned"))
    return customer, socket


async def test_bot_answers_from_the_knowledge_base(server: HandoffServer) -> None:
    customer = await Customer.start(server)
    socket = await customer.connect()
    hello = await socket.next(of_type("hello"))
    assert hello["state"] == "bot" and hello["messages"] == []
    ack = await customer.say(socket, "how much does shipping cost?")
    assert ack["id"] > 0
    echo = await socket.seen(message_from("customer"))  # the echo comes through the bus: before or after the ack
    assert echo["message"]["id"] == ack["id"]
    answer = await socket.next(message_from("bot"))
    assert "$" in answer["message"]["text"] or "ship" in answer["message"]["text"].lower()
    await socket.close()


async def test_escalation_reaches_the_agent_who_replies_and_resolves(server: HandoffServer) -> None:
    agent = await Agent.sign_in(server, "grace")
    desk = await agent.connect()
    await desk.next(of_type("hello"))
    customer, socket = await escalate(server)
    assigned = await desk.next(of_type("assigned"))
    conversation = assigned["conversation"]
    assert conversation["conversation_id"] == customer.conversation_id
    assert conversation["reasons"] == ["explicit_request"] and conversation["ticket_id"]
    await socket.seen(message_from("system", "Grace Hopper has joined"))

    await agent.say(desk, customer.conversation_id, "Hi Jo, Grace here. How can I help?")
    reply = await socket.next(message_from("agent"))
    assert reply["message"]["agent_name"] == "Grace Hopper"

    await customer.say(socket, "My parcel is late")
    relayed = await desk.next(message_from("customer", "parcel is late"))
    assert relayed["conversation_id"] == customer.conversation_id

    detail = (await agent.call("GET", f"/api/agent/conversations/{customer.conversation_id}")).json()
    assert detail["handoff"]["reasons"][0]["code"] == "explicit_request"
    assert [m["sender"] for m in detail["messages"]][:2] == ["customer", "bot"]

    resolved = await agent.call("POST", f"/api/agent/conversations/{customer.conversation_id}/resolve")
    assert resolved.status_code == 200 and resolved.json()["state"] == "resolved"
    state = await socket.next(of_type("state", state="resolved"))
    assert state["queue"] is None
    ticket = (await agent.call("GET", f"/api/tickets/{conversation['ticket_id']}")).json()
    assert ticket["status"] == "resolved"
    assert ticket["first_response_at"] and ticket["resolved_at"] and ticket["assigned_at"]
    causes = [t["cause"] for t in ticket["transitions"]]
    assert causes[-3:] == ["handoff_requested", "assigned", "resolved"]
    await socket.close()
    await desk.close()


async def test_hand_back_writes_the_human_part_into_the_bot_tracker(server: HandoffServer, bot: Assistant) -> None:
    agent = await Agent.sign_in(server, "linus")
    desk = await agent.connect()
    customer, socket = await escalate(server)
    await desk.next(of_type("assigned"))
    await agent.say(desk, customer.conversation_id, "Your order ships tomorrow.")
    await customer.say(socket, "thanks, that helps")
    await desk.next(message_from("customer", "that helps"))
    back = await agent.call("POST", f"/api/agent/conversations/{customer.conversation_id}/handback")
    assert back.json()["state"] == "bot"
    await socket.next(of_type("state", state="bot"))
    async with httpx.AsyncClient() as http:
        tracker = (await http.get(f"{bot.rasa_url}/conversations/{customer.conversation_id}/tracker",
                                  params={"token": bot.token})).json()
    said = [(e["event"], e.get("text")) for e in tracker["events"] if e["event"] in ("user", "bot")]
    assert ("bot", "Your order ships tomorrow.") in said and ("user", "thanks, that helps") in said
    assert tracker["slots"]["handoff_requested"] is False
    await customer.say(socket, "how much does shipping cost?")
    answer = await socket.next(message_from("bot"))
    assert answer["message"]["text"]
    await socket.close()
    await desk.close()


async def test_customer_reconnects_and_catches_up_without_duplicates(server: HandoffServer) -> None:
    agent = await Agent.sign_in(server, "grace")
    desk = await agent.connect()
    customer, socket = await escalate(server)
    await desk.next(of_type("assigned"))
    await socket.seen(message_from("system", "has joined"))
    last_id = max(f["message"]["id"] for f in socket.frames if f.get("type") == "message")
    await socket.close()
    await agent.say(desk, customer.conversation_id, "Are you still there?")
    again = await customer.connect(after=last_id)
    hello = await again.next(of_type("hello"))
    assert [m["text"] for m in hello["messages"]] == ["Are you still there?"]
    assert hello["state"] == "assigned"
    client_id = "resent-after-drop"
    for _ in range(2):  # the widget resends what was not acknowledged: stored once
        await again.send({"type": "message", "client_id": client_id, "text": "yes, here"})
    first = await again.next(of_type("ack", client_id=client_id))
    second = await again.next(of_type("ack", client_id=client_id))
    assert first["id"] == second["id"]
    detail = (await agent.call("GET", f"/api/agent/conversations/{customer.conversation_id}")).json()
    assert [m["text"] for m in detail["messages"]].count("yes, here") == 1
    await again.close()
    await desk.close()


async def test_bad_frames_get_errors_and_the_connection_stays(server: HandoffServer) -> None:
    customer = await Customer.start(server)
    socket = await customer.connect()
    await socket.next(of_type("hello"))
    await socket.send("this is not json")
    assert (await socket.next(of_type("error")))["code"] == "bad_request"
    await socket.send({"type": "teleport"})
    assert "Unknown frame type" in (await socket.next(of_type("error")))["detail"]
    await socket.send({"type": "message", "client_id": "big", "text": "x" * 2001})
    too_long = await socket.next(of_type("error"))
    assert too_long["client_id"] == "big" and "too long" in too_long["detail"]
    await socket.send({"type": "message", "client_id": "k" * 65, "text": "hello"})  # the log keeps 64 characters
    assert "at most 64 characters" in (await socket.next(of_type("error")))["detail"]
    await socket.send({"type": "message", "client_id": "k" * 64, "text": "hello"})
    assert (await socket.next(of_type("ack")))["client_id"] == "k" * 64
    await socket.send({"type": "ping"})
    await socket.next(of_type("pong"))
    await socket.close()


async def test_customers_see_only_their_own_conversation(server: HandoffServer) -> None:
    mine, other = await Customer.start(server), await Customer.start(server)
    async with httpx.AsyncClient(base_url=server.url) as http:
        stolen = await http.get(f"/api/conversations/{mine.conversation_id}/messages",
                                headers={"Authorization": f"Bearer {other.token}"})
        assert stolen.status_code == 401  # not this conversation's token: not authenticated for it
        missing = await http.get("/api/conversations/c_nope/messages", headers={"Authorization": "Bearer x"})
        assert missing.status_code == 401
        unsigned = await http.get("/api/queue")
        assert unsigned.status_code == 401
    forged = Customer(server, mine.conversation_id, other.token)
    socket = await forged.connect()
    with pytest.raises(websockets.ConnectionClosed):
        await socket.next(of_type("hello"), timeout=5)
    assert socket.connection.close_code == 4401
    unknown = Customer(server, "c_unknown", "whatever")
    socket = await unknown.connect()
    with pytest.raises(websockets.ConnectionClosed):
        await socket.next(of_type("hello"), timeout=5)
    assert socket.connection.close_code == 4404


async def test_a_dead_bot_hands_the_customer_to_a_person(tmp_path) -> None:
    from scripts.servers import free_port
    from tests.handoff.e2e.harness import running_handoff

    with running_handoff(tmp_path, "embedded", f"http://127.0.0.1:{free_port()}", "x") as servers:
        agent = await Agent.sign_in(servers[0], "grace")
        desk = await agent.connect()
        customer = await Customer.start(servers[0])
        socket = await customer.connect()
        await customer.say(socket, "hello?")
        await socket.next(message_from("system", "not answering right now"))
        assigned = await desk.next(of_type("assigned"))
        assert assigned["conversation"]["reasons"] == ["bot_unavailable"]
        detail = (await agent.call("GET", f"/api/agent/conversations/{customer.conversation_id}")).json()
        assert detail["messages"][0]["text"] == "hello?"


async def test_two_instances_on_one_redis_never_assign_twice(bot: Assistant, tmp_path) -> None:
    from tests.handoff.e2e.harness import running_handoff

    with running_handoff(tmp_path, "production", bot.rasa_url, bot.token, instances=2) as servers:
        agents = [await Agent.sign_in(servers[i % 2], name) for i, name in enumerate(["ada", "grace", "linus"])]
        for agent in agents:
            await agent.call("PUT", "/api/me/presence", json={"presence": "away"})
        customers = await asyncio.gather(*(escalate(servers[i % 2]) for i in range(12)))
        # all come online at once, on both instances: both race to route the queue
        await asyncio.gather(*(a.call("PUT", "/api/me/presence", json={"presence": "online"}) for a in agents))
        await asyncio.sleep(2)
        owners: dict[str, list[str]] = {}
        for agent in agents:
            mine = (await agent.call("GET", "/api/agent/conversations")).json()["conversations"]
            owners[agent.username] = [c["conversation_id"] for c in mine]
        capacity = {"ada": 4, "grace": 3, "linus": 3}
        assigned = [cid for ids in owners.values() for cid in ids]
        assert len(assigned) == len(set(assigned)) == sum(capacity.values())
        assert all(len(owners[name]) == capacity[name] for name in capacity)
        queue = (await agents[0].call("GET", "/api/queue")).json()["queue"]
        assert len(queue) == len(customers) - len(assigned)
        assert not set(assigned) & {q["conversation_id"] for q in queue}


async def test_a_waiting_customer_hears_the_queue_until_someone_takes_over(tmp_path) -> None:
    from scripts.servers import free_port
    from tests.handoff.e2e.harness import running_handoff

    with running_handoff(tmp_path, "embedded", f"http://127.0.0.1:{free_port()}", "x",
                         {"HANDOFF_QUEUE_REFRESH": "0.3"}) as servers:
        customer = await Customer.start(servers[0])
        socket = await customer.connect()
        await customer.say(socket, "hello?")  # no bot, nobody signed in: the customer waits in the queue
        for _ in range(3):  # the refresh repeats while queued
            await socket.next(of_type("state", state="queued"), timeout=5)
        await Agent.sign_in(servers[0], "grace")  # signing in routes the queue to her, socket or not
        await socket.next(of_type("state", state="assigned"))
        with pytest.raises(AssertionError, match="no matching frame"):  # three refresh periods: none comes
            await socket.next(of_type("state", state="queued"), timeout=1.0)
        await socket.close()


@pytest.mark.parametrize("profile", ["embedded", "production"])
async def test_a_customer_the_shop_signed_in_gets_their_orders_from_the_real_bot(
        bot: Assistant, tmp_path: Path, profile: str) -> None:
    """The chain: the widget's signature, verified by the service, reaches the order actions through the real
    Rasa as message metadata; an anonymous visitor with the same words is asked for proof."""
    with running_handoff(tmp_path, profile, bot.rasa_url, bot.token,
                         extra_env={"HANDOFF_WIDGET_SECRET": "e2e-shop"}) as servers:
        expires = int(time.time()) + 600
        signed = await Customer.start(servers[0], external_id="shop-1001", expires=expires,
                                      signature=widget_signature("e2e-shop", "shop-1001", expires))
        anonymous = await Customer.start(servers[0])
        for customer, expected in ((signed, "on its way"), (anonymous, "postcode on order 12345")):
            socket = await customer.connect()
            await socket.next(of_type("hello"))
            await customer.say(socket, "where is my order 12345")
            answer = await socket.next(message_from("bot"))
            assert expected in answer["message"]["text"]
            if customer is signed:
                await customer.say(socket, "and where is my order 23456?")
                refused = await socket.next(message_from("bot", "among the orders of your account"))
                assert "Ceramic" not in refused["message"]["text"]
            await socket.close()
