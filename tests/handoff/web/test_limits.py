"""Abuse limits (docs/security.md, "Abuse limits"): rate limits per client address on new conversations and
customer messages, over REST and the socket; caps on sockets; the typing throttle; the body cap."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from tests.handoff.frames import of_type
from tests.handoff.web.asgi_socket import AsgiSocket, Closed
from tests.handoff.web.conftest import Serve
from tests.handoff.world import PASSWORD, Agent, FakeClock


def client(app: FastAPI, address: str = "198.51.100.1") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 40000)),
                             base_url="http://handoff.test")


async def refusal(socket: AsgiSocket) -> tuple[int, str]:
    """How the application closed a socket it did not serve."""
    try:
        frame = await socket.receive()
    except Closed as closed:
        return closed.code, closed.reason
    raise AssertionError(f"the socket was served: {frame}")


async def start(api: httpx.AsyncClient, **headers: str) -> httpx.Response:
    return await api.post("/api/conversations", json={}, headers=headers)


async def test_new_conversations_are_limited_per_client_address(serve: Serve, clock: FakeClock) -> None:
    app, _ = await serve(conversations_per_minute=3)
    clock.now = 1_800_000_000.0  # a minute starts
    async with client(app) as one, client(app, "198.51.100.2") as other:
        assert [(await start(one)).status_code for _ in range(3)] == [201, 201, 201]
        clock.advance(20)
        refused = await start(one, **{"X-Forwarded-For": "192.0.2.9"})  # no proxy is trusted: the header is ignored
        assert refused.status_code == 429 and refused.headers["retry-after"] == "40"
        assert refused.json()["error"]["code"] == "rate_limited" and "try again" in refused.json()["error"]["detail"]
        assert (await start(other)).status_code == 201
        clock.advance(40)
        assert (await start(one)).status_code == 201


async def test_a_trusted_proxys_header_names_the_client(serve: Serve) -> None:
    app, _ = await serve(conversations_per_minute=1, client_ip_header="X-Forwarded-For")
    async with client(app, "10.0.0.2") as proxy:  # every request comes from the proxy's address
        assert (await start(proxy, **{"X-Forwarded-For": "spoofed, 192.0.2.1"})).status_code == 201
        assert (await start(proxy, **{"X-Forwarded-For": "192.0.2.1"})).status_code == 429
        assert (await start(proxy, **{"X-Forwarded-For": "192.0.2.1, 192.0.2.2"})).status_code == 201


async def test_customer_messages_over_the_limit_are_refused_and_not_kept(serve: Serve) -> None:
    app, service = await serve(messages_per_minute=2)
    async with client(app) as api:
        data = (await start(api)).json()
        conversation, auth = data["conversation_id"], {"Authorization": f"Bearer {data['customer_token']}"}
        said = [await api.post(f"/api/conversations/{conversation}/messages", json={"text": f"hi {n}"}, headers=auth)
                for n in range(3)]
        assert [r.status_code for r in said] == [200, 200, 429] and int(said[2].headers["retry-after"]) >= 1
        query = {"conversation_id": conversation, "token": data["customer_token"]}
        async with AsgiSocket(app, "/ws/customer", query, client="198.51.100.1") as socket:
            await socket.next("hello")
            await socket.send_json({"type": "message", "text": "still there?", "client_id": "m-3"})
            error = await socket.next("error")
            assert (error["code"], error["client_id"]) == ("rate_limited", "m-3") and error["retry_after"] >= 1
        async with AsgiSocket(app, "/ws/customer", query, client="198.51.100.9") as socket:  # another address
            await socket.next("hello")
            await socket.send_json({"type": "message", "text": "from my phone", "client_id": "m-4"})
            assert (await socket.next("ack"))["client_id"] == "m-4"
    texts = [m.text for m in await service.customers.history(conversation) if m.sender == "customer"]
    assert texts == ["hi 0", "hi 1", "from my phone"]  # the refused ones were never stored: their senders keep them


async def test_sockets_per_conversation_and_per_agent_are_capped(serve: Serve) -> None:
    app, _ = await serve(max_customer_sockets=2, max_agent_sockets=1)
    async with client(app) as api:
        data = (await start(api)).json()
        login = await api.post("/api/auth/login", json={"username": "grace", "password": PASSWORD})
    query = {"conversation_id": data["conversation_id"], "token": data["customer_token"]}
    async with AsgiSocket(app, "/ws/customer", query) as first, AsgiSocket(app, "/ws/customer", query) as second:
        await first.next("hello")
        await second.next("hello")
        async with AsgiSocket(app, "/ws/customer", query) as third:
            assert await refusal(third) == (4429, "too many connections to this conversation")
    async with AsgiSocket(app, "/ws/customer", query) as again:  # the others have closed
        await again.next("hello")
    agent_query = {"token": login.json()["token"]}
    async with AsgiSocket(app, "/ws/agent", agent_query) as console:
        await console.next("hello")
        async with AsgiSocket(app, "/ws/agent", agent_query) as another:
            assert await refusal(another) == (4429, "too many connections for this agent")


async def test_typing_is_relayed_at_most_once_a_second_per_side(serve: Serve, clock: FakeClock) -> None:
    app, service = await serve()
    clock.now = 1_800_000_000.0
    grace = await Agent.sign_in(service, "grace")
    async with client(app) as api:
        data = (await start(api)).json()
        auth = {"Authorization": f"Bearer {data['customer_token']}"}
        await api.post(f"/api/conversations/{data['conversation_id']}/messages", json={"text": "a person please"},
                       headers=auth)
    await grace.inbox.next(of_type("assigned"))
    query = {"conversation_id": data["conversation_id"], "token": data["customer_token"]}
    async with AsgiSocket(app, "/ws/customer", query) as socket:
        await socket.next("hello")
        for _ in range(5):
            await socket.send_json({"type": "typing"})
        await socket.send_json({"type": "ping"})
        await socket.next("pong")  # frames are handled in order: the typing ones are done
        clock.advance(1.0)
        await socket.send_json({"type": "typing"})
        await socket.send_json({"type": "ping"})
        await socket.next("pong")
    typing = [f for f in await grace.inbox.settle() if f.get("type") == "typing"]
    assert len(typing) == 2
    for _ in range(3):
        await service.desk.typing(grace.principal, data["conversation_id"])
    from_agent: list[dict[str, Any]] = []
    # the customer's side is throttled on its own: one of the agent's three reaches the customer
    subscription = await service.customers.watch(data["conversation_id"], lambda f: _keep(from_agent, f))
    clock.advance(1.0)
    for _ in range(3):
        await service.desk.typing(grace.principal, data["conversation_id"])
    await grace.inbox.settle()
    await subscription[0].close()
    assert [f["sender"] for f in from_agent if f["type"] == "typing"] == ["agent"]


async def _keep(frames: list[dict[str, Any]], frame: dict[str, Any]) -> None:
    frames.append(frame)


async def test_request_bodies_over_the_cap_get_a_413(serve: Serve) -> None:
    app, _ = await serve(max_body_bytes=1024)
    async with client(app) as api:
        big = await api.post("/api/conversations", json={"name": "x" * 2000})
        assert big.status_code == 413 and "1024 bytes" in big.json()["error"]["detail"]

        async def chunks() -> Any:  # no Content-Length: the cap counts what arrives
            for _ in range(8):
                yield b" " * 512
        chunked = await api.post("/api/conversations", content=chunks(), headers={"Content-Type": "application/json"})
        assert chunked.status_code == 413 and chunked.json()["error"]["code"] == "too_large"
        assert (await api.post("/api/conversations", json={"name": "Jo"})).status_code == 201
