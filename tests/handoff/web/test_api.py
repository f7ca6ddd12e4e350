"""The REST API over the in-process service: what each endpoint answers, its status codes and its errors.

The application is the real one (``create_app``), served in process (httpx's ASGI transport) with its
lifespan running; the service behind it is the in-process one of tests/handoff/conftest.py. The sockets
are tested end to end (tests/handoff/e2e/), since they need a real server.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.datastructures import Secret

from handoff.service import HandoffService
from handoff.service.auth import widget_signature
from handoff.settings import HandoffSettings
from handoff.web.app import create_app
from tests.handoff.conftest import OpenService
from tests.handoff.world import PASSWORD, T0, FakeRasa

AGENT_ENDPOINTS = [
    ("GET", "/api/me"), ("PUT", "/api/me/presence"), ("GET", "/api/queue"), ("GET", "/api/agent/conversations"),
    ("GET", "/api/agent/conversations/c_x"), ("GET", "/api/agent/conversations/c_x/suggestions"),
    ("POST", "/api/agent/conversations/c_x/accept"), ("POST", "/api/agent/conversations/c_x/messages"),
    ("POST", "/api/agent/conversations/c_x/notes"), ("POST", "/api/agent/conversations/c_x/transfer"),
    ("POST", "/api/agent/conversations/c_x/handback"), ("POST", "/api/agent/conversations/c_x/resolve"),
    ("GET", "/api/agents"), ("GET", "/api/canned-responses"), ("GET", "/api/tickets"), ("GET", "/api/tickets/1"),
    ("PATCH", "/api/tickets/1"), ("GET", "/api/agent/conversations/c_x/attachments/0123456789abcdef01234567/1-a")]


@pytest.fixture
async def api(open_service: OpenService) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(await open_service()) as client:
        yield client


@contextlib.asynccontextmanager
async def client_of(service: HandoffService) -> AsyncIterator[httpx.AsyncClient]:
    """The real application over ``service``, with its lifespan running, and a client of it."""
    async def opener(settings: HandoffSettings) -> HandoffService:
        return service

    app = create_app(service.settings, opener)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://handoff.test") as client:
        yield client


async def sign_in(api: httpx.AsyncClient, username: str) -> dict[str, str]:
    response = await api.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def start(api: httpx.AsyncClient, **body: Any) -> tuple[str, dict[str, str]]:
    response = await api.post("/api/conversations", json=body)
    assert response.status_code == 201
    data = response.json()
    return data["conversation_id"], {"Authorization": f"Bearer {data['customer_token']}"}


@pytest.mark.parametrize(("method", "path"), AGENT_ENDPOINTS)
async def test_every_agent_endpoint_needs_a_session(api: httpx.AsyncClient, method: str, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer forged"}):
        response = await api.request(method, path, json={}, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"


async def test_sign_in_sets_a_strict_http_only_cookie_and_sign_out_ends_it(api: httpx.AsyncClient) -> None:
    bad = await api.post("/api/auth/login", json={"username": "grace", "password": "not-the-password"})
    assert bad.status_code == 401 and "not right" in bad.json()["error"]["detail"]
    response = await api.post("/api/auth/login", json={"username": "grace", "password": PASSWORD})
    cookie = response.headers["set-cookie"]
    assert "handoff_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert response.json()["agent"] == {"id": response.json()["agent"]["id"], "username": "grace",
                                        "name": "Grace Hopper", "role": "agent", "presence": "online"}
    assert (await api.get("/api/me")).json()["username"] == "grace"  # the cookie alone
    assert (await api.post("/api/auth/logout")).status_code == 403  # the cookie alone does not change things
    assert (await api.post("/api/auth/logout", headers={"X-Requested-With": "console"})).status_code == 204
    assert (await api.get("/api/me", headers={"Authorization": f"Bearer {response.json()['token']}"})).status_code \
        == 401


async def test_a_customer_reads_and_writes_only_with_the_conversations_token(api: httpx.AsyncClient,
                                                                             rasa: FakeRasa) -> None:
    mine, my_token = await start(api, name="Jo")
    _, other_token = await start(api)
    for headers in ({}, other_token):
        assert (await api.get(f"/api/conversations/{mine}/messages", headers=headers)).status_code == 401
        assert (await api.post(f"/api/conversations/{mine}/messages", json={"text": "hi"},
                               headers=headers)).status_code == 401
    assert (await api.get("/api/conversations/c_nope/messages", headers=my_token)).status_code == 401
    said = await api.post(f"/api/conversations/{mine}/messages", json={"text": "how much is shipping?"},
                          headers=my_token)
    assert said.status_code == 200 and said.json()["message"]["sender"] == "customer"
    history = (await api.get(f"/api/conversations/{mine}/messages", headers=my_token)).json()
    assert [m["sender"] for m in history["messages"]] == ["customer", "bot"]
    assert (history["state"], history["queue"]) == ("bot", None)
    after = history["messages"][0]["id"]
    later = (await api.get(f"/api/conversations/{mine}/messages", params={"after": after}, headers=my_token)).json()
    assert [m["sender"] for m in later["messages"]] == ["bot"]


@pytest.mark.parametrize(("body", "field"), [
    ({"text": "x" * 2001}, "too long"), ({"text": "  "}, "needs some text"), ({}, "text: Field required"),
    ({"text": "hi", "client_id": "k" * 65}, "client_id")])
async def test_bad_bodies_get_a_400_naming_the_problem(api: httpx.AsyncClient, body: dict[str, Any],
                                                       field: str) -> None:
    conversation, token = await start(api)
    response = await api.post(f"/api/conversations/{conversation}/messages", json=body, headers=token)
    assert response.status_code == 400 and field in response.json()["error"]["detail"]
    malformed = await api.post(f"/api/conversations/{conversation}/messages", content=b"{not json",
                               headers={**token, "Content-Type": "application/json"})
    assert malformed.status_code == 400 and malformed.json()["error"]["code"] == "bad_request"


async def test_a_shop_signed_visitor_is_known_to_the_bot(open_service: OpenService, rasa: FakeRasa) -> None:
    service = await open_service(widget_secret=Secret("shop-secret"))
    expires = int(T0.timestamp()) + 900
    async with client_of(service) as api:
        conversation, token = await start(api, external_id="shop-1003", expires=expires,
                                          signature=widget_signature("shop-secret", "shop-1003", expires))
        said = await api.post(f"/api/conversations/{conversation}/messages", json={"text": "my order?"},
                              headers=token)
        assert said.status_code == 200
        assert rasa.heard[-1] == (conversation, "my order?", {"channel": "web", "customer_external_id": "shop-1003"})
        for expires_value in ("tomorrow", -5, 2**60):
            refused = await api.post("/api/conversations", json={"external_id": "shop-1003", "signature": "00",
                                                                  "expires": expires_value})
            assert refused.status_code == 400 and "expires" in refused.json()["error"]["detail"]


async def test_an_agent_works_a_conversation_over_rest(api: httpx.AsyncClient) -> None:
    grace = await sign_in(api, "grace")
    assert (await api.put("/api/me/presence", json={"presence": "away"}, headers=grace)).json() == {
        "presence": "away"}
    conversation, token = await start(api, name="Jo")
    await api.post(f"/api/conversations/{conversation}/messages", json={"text": "a person please"}, headers=token)
    queue = (await api.get("/api/queue", headers=grace)).json()["queue"]
    assert [(q["conversation_id"], q["position"], q["state"]) for q in queue] == [(conversation, 1, "queued")]
    await api.put("/api/me/presence", json={"presence": "online"}, headers=grace)  # routed to her
    base = f"/api/agent/conversations/{conversation}"
    accepted = (await api.post(f"{base}/accept", headers=grace)).json()
    assert (accepted["state"], accepted["accept_deadline"]) == ("assigned", None)
    reply = await api.post(f"{base}/messages", json={"text": "Hi Jo", "client_id": "r1"}, headers=grace)
    assert reply.json()["message"]["agent_name"] == "Grace Hopper"
    assert (await api.post(f"{base}/notes", json={"text": "VIP soon"}, headers=grace)).status_code == 201
    detail = (await api.get(base, headers=grace)).json()
    assert [n["text"] for n in detail["ticket"]["notes"]] == ["VIP soon"]
    assert [s["conversation_id"] for s in (await api.get("/api/agent/conversations", headers=grace)).json()[
        "conversations"]] == [conversation]
    refused = await api.post(f"{base}/transfer", json={"tier": 7}, headers=grace)
    assert refused.status_code == 400 and "1, 2 or 3" in refused.json()["error"]["detail"]
    resolved = await api.post(f"{base}/resolve", headers=grace)
    assert resolved.json()["state"] == "resolved"
    again = await api.post(f"{base}/resolve", headers=grace)
    assert again.status_code == 409 and again.json()["error"]["code"] == "state_conflict"
    assert (await api.get("/api/agent/conversations/c_nope", headers=grace)).status_code == 404


async def test_tickets_over_rest(api: httpx.AsyncClient) -> None:
    grace = await sign_in(api, "grace")
    conversation, token = await start(api)
    await api.post(f"/api/conversations/{conversation}/messages", json={"text": "I am furious"}, headers=token)
    tickets = (await api.get("/api/tickets", params={"priority": "high"}, headers=grace)).json()["tickets"]
    assert [t["conversation_id"] for t in tickets] == [conversation]
    number = tickets[0]["id"]
    patched = await api.patch(f"/api/tickets/{number}", json={"tags": ["late"], "priority": "urgent"}, headers=grace)
    assert (patched.json()["tags"], patched.json()["priority"]) == (["late"], "urgent")
    assert (await api.patch(f"/api/tickets/{number}", json={"priority": "whenever"}, headers=grace)).status_code \
        == 400
    assert (await api.get("/api/tickets/999", headers=grace)).status_code == 404
    assert (await api.get("/api/tickets", params={"limit": 10_000}, headers=grace)).status_code == 200
    assert {c["shortcut"] for c in (await api.get("/api/canned-responses", headers=grace)).json()["canned"]} >= {
        "hello"}
    team = (await api.get("/api/agents", headers=grace)).json()["agents"]
    assert {member["name"] for member in team} >= {"Grace Hopper", "Ada Lovelace"}


async def test_pages_and_the_api_description(api: httpx.AsyncClient) -> None:
    console = await api.get("/console")
    assert console.status_code == 200 and "script-src 'self'" in console.headers["content-security-policy"]
    assert console.headers["x-frame-options"] == "DENY"  # more in test_security.py
    assert (await api.get("/widget.js")).headers["content-type"].startswith("text/javascript")
    assert (await api.get("/static/console-queue.js")).status_code == 200
    assert (await api.get("/static/..%2Fapp.py")).status_code == 404
    assert (await api.get("/health")).json()["status"] == "ok"
    spec = (await api.get("/openapi.json")).json()
    for path in ("/api/conversations", "/api/auth/login", "/api/tickets",
                 "/api/agent/conversations/{conversation_id}/resolve"):
        assert path in spec["paths"]
