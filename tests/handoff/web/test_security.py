"""The console's defences over HTTP and its socket: sign-in throttling (429 with ``Retry-After``), sessions that
end with their sockets (4401), CSRF on cookie requests, the security headers, and the admins' account API.

The application is the real one in process (httpx's ASGI transport; sockets through tests/handoff/web/sockets.py),
on the in-process service of tests/handoff/conftest.py, in both profiles; in production, two instances share
one Redis and database, as behind a load balancer: what one instance does, the other's sockets feel.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi import FastAPI

from handoff.service import HandoffService
from handoff.settings import HandoffSettings
from handoff.web.app import create_app
from handoff.web.deps import COOKIE
from tests.handoff.conftest import OpenService
from tests.handoff.web.sockets import connect
from tests.handoff.world import PASSWORD, SUPERVISOR, Customer, FakeClock

CONSOLE = {"X-Requested-With": "console"}


@dataclass
class Site:
    """The instances of the application (one embedded, two in production) and clients of them."""

    instances: list[tuple[FastAPI, HandoffService]]
    stack: AsyncExitStack
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    @property
    def app(self) -> FastAPI:
        return self.instances[0][0]

    @property
    def last(self) -> FastAPI:
        """The other instance in production (the same one embedded)."""
        return self.instances[-1][0]

    @property
    def service(self) -> HandoffService:
        return self.instances[0][1]

    async def client(self, address: str = "127.0.0.1", app: FastAPI | None = None) -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app or self.app, client=(address, 40000)),
                                   base_url="http://handoff.test")
        return await self.stack.enter_async_context(client)

    async def sign_in(self, username: str, client: httpx.AsyncClient | None = None) -> dict[str, str]:
        response = await (client or await self.client()).post(
            "/api/auth/login", json={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['token']}"}


@pytest.fixture
async def site(open_service: OpenService, profile: str) -> AsyncIterator[Site]:
    async with AsyncExitStack() as stack:
        instances = []
        for _ in range(2 if profile == "production" else 1):
            service = await open_service()

            async def opener(settings: HandoffSettings, service: HandoffService = service) -> HandoffService:
                return service

            app = create_app(service.settings, opener)
            await stack.enter_async_context(app.router.lifespan_context(app))
            instances.append((app, service))
        yield Site(instances, stack)


def token_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


# ---- sign-in throttling -------------------------------------------------------------------------------

async def test_failed_sign_ins_lock_the_username_out_for_a_growing_time(site: Site, clock: FakeClock) -> None:
    client = await site.client()

    async def attempt(password: str = "not-the-password") -> httpx.Response:
        return await client.post("/api/auth/login", json={"username": "grace", "password": password})

    assert [(await attempt()).status_code for _ in range(6)] == [401] * 6  # five free, the sixth locks
    locked = await attempt(PASSWORD)  # even the right password waits: no guess is checked while locked
    assert (locked.status_code, locked.headers["retry-after"]) == (429, "1")
    assert locked.json()["error"]["code"] == "rate_limited" and "Try again in 1 seconds" in locked.json()[
        "error"]["detail"]
    clock.advance(1.0)
    assert (await attempt()).status_code == 401
    assert (await attempt()).headers["retry-after"] == "2"  # doubled
    clock.advance(2.0)
    assert (await attempt()).status_code == 401
    assert (await attempt()).headers["retry-after"] == "4"
    other = await site.client("10.0.0.9", site.last)  # another address, another instance: the same lock-out
    refused = await other.post("/api/auth/login", json={"username": "grace", "password": PASSWORD})
    assert refused.status_code == 429 and refused.headers["retry-after"] == "4"
    assert (await other.post("/api/auth/login", json={"username": "linus", "password": PASSWORD})).status_code \
        == 200  # other usernames are not locked
    clock.advance(4.0)
    assert (await attempt(PASSWORD)).status_code == 200
    assert [(await attempt()).status_code for _ in range(6)] == [401] * 6  # success forgave grace's failures


async def test_failed_sign_ins_lock_the_address_out(site: Site, clock: FakeClock) -> None:
    """A guesser spreading one try over many usernames runs into the lock-out of their address."""
    guesser, colleague = await site.client("203.0.113.7"), await site.client("198.51.100.2")
    names = ["ada", "grace", "linus", "admin", "nobody"]
    for n in range(21):  # 4 or 5 tries per username: none of them is locked itself
        failed = await guesser.post("/api/auth/login", json={"username": names[n % 5], "password": f"guess-{n}"})
        assert failed.status_code == 401
    refused = await guesser.post("/api/auth/login", json={"username": "grace", "password": PASSWORD})
    assert (refused.status_code, refused.headers["retry-after"]) == (429, "1")
    assert (await colleague.post("/api/auth/login", json={"username": "grace", "password": PASSWORD})).status_code \
        == 200


# ---- sessions end with their sockets ---------------------------------------------------------------

async def test_signing_out_ends_the_session_and_closes_its_sockets(site: Site) -> None:
    first, second = await site.sign_in("grace"), await site.sign_in("grace")  # two browsers
    async with connect(site.last, "/ws/agent", {"token": token_of(first)}) as mine, \
            connect(site.last, "/ws/agent", {"token": token_of(second)}) as other:
        await mine.until("hello")
        await other.until("hello")
        client = await site.client()
        assert (await client.post("/api/auth/logout", headers=first)).status_code == 204
        assert await mine.closed() == 4401  # on the other instance too
        assert (await client.get("/api/me", headers=first)).status_code == 401
        await other.send({"type": "ping"})
        assert (await other.until("pong"))["type"] == "pong"  # the other session lives on
        assert (await client.get("/api/me", headers=second)).status_code == 200


async def test_a_socket_whose_session_expired_is_closed_at_its_next_frame(open_service: OpenService,
                                                                           clock: FakeClock) -> None:
    """No event announces an expiry (and the bus is at most once): each frame the agent sends is checked against
    the session first (the store's copy expires in real time, the ticket log's by the service's clock)."""
    service = await open_service(session_ttl=1.0)

    async def opener(settings: HandoffSettings) -> HandoffService:
        return service

    app = create_app(service.settings, opener)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://handoff.test") as client:
        signed_in = await client.post("/api/auth/login", json={"username": "grace", "password": PASSWORD})
        async with connect(app, "/ws/agent", {"token": signed_in.json()["token"]}) as socket:
            await socket.until("hello")
            await socket.send({"type": "ping"})
            await socket.until("pong")
            await asyncio.sleep(1.2)
            clock.advance(1.2)
            await socket.send({"type": "ping"})
            assert await socket.closed() == 4401


async def test_the_console_reconnects_with_its_session_after_a_restart(open_service: OpenService) -> None:
    """Sessions are kept in the ticket log too: a restart that empties the store (a new embedded process, a
    Redis that kept nothing) signs nobody out, and the console's socket comes back with its cookie's token."""
    async with AsyncExitStack() as stack:
        async def start(forget: bool) -> FastAPI:
            service = await open_service(forget=forget)

            async def opener(settings: HandoffSettings) -> HandoffService:
                return service

            app = create_app(service.settings, opener)
            await stack.enter_async_context(app.router.lifespan_context(app))
            return app

        before = await start(forget=False)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=before), base_url="http://handoff.test") as c:
            token = (await c.post("/api/auth/login", json={"username": "grace", "password": PASSWORD})).json()["token"]
        await stack.aclose()  # the instance stops

        after = await start(forget=True)
        async with connect(after, "/ws/agent", {"token": token}) as socket:
            hello = await socket.until("hello")
            assert hello["agent"]["username"] == "grace"
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=after), base_url="http://handoff.test",
                                     cookies={COOKIE: token}) as client:
            assert (await client.get("/api/me")).json()["username"] == "grace"


async def test_deactivating_an_agent_ends_everything_of_theirs_at_once(site: Site) -> None:
    client, admin = await site.client(), await site.sign_in("admin")
    await client.put("/api/me/presence", json={"presence": "away"}, headers=admin)
    grace = await site.sign_in("grace")
    customer = await Customer.start(site.service, name="Jo")
    await customer.say("a person please")
    assert (await customer.record()).agent_id is not None
    grace_id = (await client.get("/api/me", headers=grace)).json()["id"]
    async with connect(site.last, "/ws/agent", {"token": token_of(grace)}) as socket:
        hello = await socket.until("hello")
        assert [c["conversation_id"] for c in hello["conversations"]] == [customer.conversation_id]
        changed = await client.patch(f"/api/admin/agents/{grace_id}", json={"active": False}, headers=admin)
        assert changed.status_code == 200 and changed.json()["active"] is False
        assert await socket.closed() == 4401
    assert (await client.get("/api/me", headers=grace)).status_code == 401
    record = await customer.record()
    assert (record.state.value, record.agent_id, grace_id in record.excluded) == ("queued", None, True)
    ticket = await site.service.helpdesk.ticket(SUPERVISOR, record.ticket_id or 0)
    assert ticket["transitions"][-1]["cause"] == "agent_offline"
    await customer.inbox.next(lambda f: f.get("type") == "message" and "another colleague" in str(f))
    refused = await client.post("/api/auth/login", json={"username": "grace", "password": PASSWORD})
    assert refused.status_code == 401
    assert grace_id not in {a["id"] for a in (await client.get("/api/agents", headers=admin)).json()["agents"]}
    back = await client.patch(f"/api/admin/agents/{grace_id}", json={"active": True}, headers=admin)
    assert back.json()["active"] is True
    await site.sign_in("grace")


# ---- the admins' account API -------------------------------------------------------------------------

async def test_admins_manage_accounts(site: Site) -> None:
    client, admin = await site.client(), await site.sign_in("admin")
    created = await client.post("/api/admin/agents", headers=admin, json={
        "username": "mary", "name": "Mary Jackson", "password": "first-password", "role": "agent",
        "capacity": 2, "tiers": [1, 2], "languages": ["en", "fr"], "skills": ["returns"],
        "timezone": "Europe/Paris"})
    assert created.status_code == 201, created.text
    mary = created.json()
    assert (mary["username"], mary["role"], mary["tiers"], mary["active"]) == ("mary", "agent", [1, 2], True)
    assert "password_hash" not in mary and "password" not in str(mary)
    listed = (await client.get("/api/admin/agents", headers=admin)).json()["agents"]
    assert {a["username"] for a in listed} == {"ada", "admin", "grace", "linus", "tess", "mary"}
    session = await client.post("/api/auth/login", json={"username": "mary", "password": "first-password"})
    old = {"Authorization": f"Bearer {session.json()['token']}"}
    promoted = await client.patch(f"/api/admin/agents/{mary['id']}", headers=admin,
                                  json={"role": "supervisor", "capacity": 4, "tiers": [1, 2, 3]})
    assert (promoted.json()["role"], promoted.json()["capacity"], promoted.json()["tiers"]) == (
        "supervisor", 4, [1, 2, 3])
    assert (await client.get("/api/me", headers=old)).status_code == 401  # a new role: sign in again
    reset = await client.post(f"/api/admin/agents/{mary['id']}/password", headers=admin,
                              json={"password": "second-password"})
    assert reset.status_code == 204
    assert (await client.post("/api/auth/login", json={"username": "mary", "password": "first-password"})
            ).status_code == 401
    again = await client.post("/api/auth/login", json={"username": "mary", "password": "second-password"})
    assert again.json()["agent"]["role"] == "supervisor"
    # her week, as routing and the capacity roster read it: Monday 09:00-17:00, a Saturday night shift
    week = [{"weekday": 0, "start": "09:00", "end": "17:00"}, {"weekday": 5, "start": "22:00", "end": "00:00"},
            {"weekday": 6, "start": "00:00", "end": "06:00"}]
    rostered = await client.patch(f"/api/admin/agents/{mary['id']}", headers=admin, json={"shift": week})
    assert rostered.status_code == 200 and rostered.json()["shift"] == week
    assert (await client.get("/api/me", headers={"Authorization": f"Bearer {again.json()['token']}"})
            ).status_code == 200  # a new shift does not sign her out
    listed = {a["username"]: a for a in (await client.get("/api/admin/agents", headers=admin)).json()["agents"]}
    assert listed["mary"]["shift"] == week
    assert (await client.patch(f"/api/admin/agents/{mary['id']}", headers=admin, json={"shift": []})
            ).json()["shift"] == []  # always on shift again


@pytest.mark.parametrize(("method", "path", "body", "status", "problem"), [
    ("POST", "/api/admin/agents", {"username": "grace", "name": "G", "password": "long-enough"}, 409, "taken"),
    ("POST", "/api/admin/agents", {"username": "x", "name": "X", "password": "short"}, 400, "password"),
    ("POST", "/api/admin/agents", {"username": "x y", "name": "X", "password": "long-enough"}, 400, "username"),
    ("POST", "/api/admin/agents", {"username": "x", "name": "X", "password": "long-enough", "tiers": [4]}, 400,
     "tiers"),
    ("POST", "/api/admin/agents", {"username": "x", "name": "X", "password": "long-enough",
                                   "timezone": "Mars/Olympus"}, 400, "time zone"),
    ("PATCH", "/api/admin/agents/a_nobody", {"capacity": 2}, 404, "no account"),
    ("PATCH", "/api/admin/agents/{admin}", {"active": False}, 409, "only active admin"),
    ("PATCH", "/api/admin/agents/{admin}", {"role": "supervisor"}, 409, "only active admin"),
    ("PATCH", "/api/admin/agents/{admin}", {"capacity": 0}, 400, "capacity"),
    ("PATCH", "/api/admin/agents/{admin}", {"shift": [{"weekday": 0, "start": "22:00", "end": "06:00"}]}, 400,
     "night shift"),
    ("PATCH", "/api/admin/agents/{admin}", {"shift": [{"weekday": 7, "start": "09:00", "end": "17:00"}]}, 400,
     "weekday"),
    ("PATCH", "/api/admin/agents/{admin}", {"shift": [{"weekday": 1, "start": "9am", "end": "17:00"}]}, 400,
     "start"),
    ("POST", "/api/admin/agents/a_nobody/password", {"password": "long-enough"}, 404, "no account"),
])
async def test_account_changes_that_cannot_be_made_are_refused_clearly(
        site: Site, method: str, path: str, body: dict[str, object], status: int, problem: str) -> None:
    client, admin = await site.client(), await site.sign_in("admin")
    me = (await client.get("/api/me", headers=admin)).json()["id"]
    response = await client.request(method, path.format(admin=me), json=body, headers=admin)
    assert response.status_code == status and problem in response.json()["error"]["detail"], response.text


# ---- CSRF and security headers ---------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/api/auth/logout", None), ("PUT", "/api/me/presence", {"presence": "away"}),
    ("POST", "/api/agent/conversations/c_x/resolve", None), ("PATCH", "/api/tickets/1", {"tags": ["x"]}),
    ("POST", "/api/admin/agents", {"username": "eve", "name": "Eve", "password": "long-enough"})])
async def test_cookie_requests_that_change_things_need_the_consoles_header(site: Site, method: str, path: str,
                                                                           body: dict[str, object] | None) -> None:
    browser = await site.client()  # keeps the session cookie, as a browser does
    await site.sign_in("admin", browser)
    forged = await browser.request(method, path, json=body)  # what a form on another site could send
    assert forged.status_code == 403 and "X-Requested-With" in forged.json()["error"]["detail"]
    foreign = await browser.request(method, path, json=body, headers={**CONSOLE, "Origin": "https://evil.example"})
    assert foreign.status_code == 403 and "other sites" in foreign.json()["error"]["detail"]
    assert (await browser.get("/api/me")).status_code == 200  # reading needs no header
    allowed = await browser.request(method, path, json=body, headers={**CONSOLE, "Origin": "http://handoff.test"})
    assert allowed.status_code not in (401, 403), allowed.text


async def test_scripts_with_a_bearer_token_need_no_header(site: Site) -> None:
    client = await site.client()
    grace = await site.sign_in("grace")
    assert (await client.put("/api/me/presence", json={"presence": "away"}, headers=grace)).status_code == 200
    assert (await client.post("/api/auth/logout", headers=grace)).status_code == 204


async def test_sign_in_from_another_site_is_refused(site: Site) -> None:
    client = await site.client()
    body = {"username": "grace", "password": PASSWORD}
    assert (await client.post("/api/auth/login", json=body, headers={"Origin": "https://evil.example"})
            ).status_code == 403
    assert (await client.post("/api/auth/login", json=body, headers={"Origin": "http://handoff.test"})
            ).status_code == 200


def directives(policy: str) -> dict[str, str]:
    return {name: value.strip() for name, _, value in (d.strip().partition(" ") for d in policy.split(";"))}


@pytest.mark.parametrize("path", ["/console", "/static/console.js", "/static/console-lib.js",
                                  "/static/console.css"])
async def test_the_console_and_its_files_carry_their_security_headers(site: Site, path: str) -> None:
    response = await (await site.client()).get(path)
    assert response.status_code == 200
    csp = directives(response.headers["content-security-policy"])
    assert (csp["connect-src"], csp["frame-ancestors"], csp["script-src"], csp["default-src"]) == (
        "'self'", "'none'", "'self'", "'self'")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/api/me", 401), ("GET", "/api/conversations/c_x/messages", 401), ("GET", "/nowhere", 404),
    ("GET", "/static/nothing.js", 404), ("POST", "/api/conversations", 400), ("GET", "/health", 200),
    ("DELETE", "/api/queue", 405)])
async def test_errors_and_data_carry_headers_that_keep_them_from_being_pages(site: Site, method: str, path: str,
                                                                             status: int) -> None:
    response = await (await site.client()).request(method, path, content=b"{")
    assert response.status_code == status
    csp = directives(response.headers["content-security-policy"])
    assert csp["frame-ancestors"] == "'none'" and csp["default-src"] in ("'none'", "'self'")
    assert response.headers["x-content-type-options"] == "nosniff"
