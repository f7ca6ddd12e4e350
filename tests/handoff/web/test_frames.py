"""Whatever a client sends on either socket, it gets a clear answer (an ``error`` frame, or a close 4401/4404
for a bad token or conversation), never a stack trace or a 1011, and the socket keeps serving: property-based
tests (hypothesis) of both sockets' frame handling, in process, in both profiles."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.handoff.web.asgi_socket import AsgiSocket, Closed
from tests.handoff.web.conftest import Serve
from tests.handoff.world import PASSWORD

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
ANSWERS = {"ack", "error", "pong", "message", "typing", "state"}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)
frame_objects = st.fixed_dictionaries(
    {"type": st.sampled_from(["message", "typing", "ping", "hello", ""]) | json_values},
    optional={"text": st.text(max_size=80) | json_values, "client_id": st.text(max_size=80) | json_values,
              "conversation_id": st.text(max_size=20) | json_values})
raw_frames = st.one_of(
    frame_objects.map(json.dumps),
    st.text(max_size=200),  # not JSON, or JSON of the wrong shape
    st.binary(max_size=200),
    st.integers(1, 50_000).map(lambda depth: "[" * depth + "]" * depth),  # deeply nested
    st.integers(1, 50_000).map(lambda depth: '{"type": "message", "text": ' + "[" * depth + "]" * depth + "}"))


async def holds(prop: Callable[..., Awaitable[None]], **strategies: st.SearchStrategy[Any]) -> None:
    """Run the async property ``prop`` under hypothesis: hypothesis drives (and shrinks) it from a thread, each
    example runs on this event loop, where the application and its service live."""
    loop = asyncio.get_running_loop()

    @FUZZ
    @given(**strategies)
    def example(**drawn: Any) -> None:
        asyncio.run_coroutine_threadsafe(prop(**drawn), loop).result(timeout=60)

    await asyncio.to_thread(example)


async def survives(socket: AsgiSocket, raw: str | bytes) -> None:
    """Send ``raw``, then a ping: every frame up to the pong is an answer, and the socket is still open."""
    if isinstance(raw, bytes):
        await socket.send_bytes(raw)
    else:
        await socket.send_text(raw)
    await socket.send_json({"type": "ping"})
    while (frame := await socket.receive())["type"] != "pong":
        assert frame["type"] in ANSWERS, frame
        if frame["type"] == "error":
            assert frame["detail"] and "Traceback" not in frame["detail"]


def no_errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not failures, [r.getMessage() for r in failures]


async def conversation(app: FastAPI) -> dict[str, Any]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://handoff.test") as api:
        data: dict[str, Any] = (await api.post("/api/conversations", json={})).json()
        return data


async def test_the_customer_socket_answers_any_frame_clearly(serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    app, _ = await serve(messages_per_minute=10_000)
    data = await conversation(app)
    query = {"conversation_id": data["conversation_id"], "token": data["customer_token"]}

    async def check(raw: str | bytes) -> None:
        async with AsgiSocket(app, "/ws/customer", query) as socket:
            await socket.next("hello")
            await survives(socket, raw)

    await holds(check, raw=raw_frames)
    no_errors_logged(caplog)


async def test_the_agent_socket_answers_any_frame_clearly(serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    app, _ = await serve()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://handoff.test") as api:
        token = (await api.post("/api/auth/login", json={"username": "grace", "password": PASSWORD})).json()["token"]

    async def check(raw: str | bytes) -> None:
        async with AsgiSocket(app, "/ws/agent", {"token": token}) as socket:
            await socket.next("hello")
            await survives(socket, raw)

    await holds(check, raw=raw_frames)
    no_errors_logged(caplog)


async def test_bad_tokens_and_ids_close_the_sockets_with_4401_or_4404(
        serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    app, _ = await serve()
    data = await conversation(app)
    texts = st.text(max_size=120)

    async def check(conversation_id: str, token: str, after: str) -> None:
        query = {"conversation_id": conversation_id, "token": token, "after": after}
        async with AsgiSocket(app, "/ws/customer", query) as socket:
            with pytest.raises(Closed) as closed:
                await socket.receive()
            expected = 4401 if conversation_id == data["conversation_id"] else 4404
            assert closed.value.code == expected
        async with AsgiSocket(app, "/ws/agent", {"token": token}) as socket:  # no such session
            with pytest.raises(Closed) as closed:
                await socket.receive()
            assert closed.value.code == 4401

    await holds(check, conversation_id=st.sampled_from([data["conversation_id"]]) | texts, token=texts, after=texts)
    no_errors_logged(caplog)


async def test_bad_tokens_get_a_401_over_rest(serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    app, _ = await serve()
    data = await conversation(app)

    async def check(token: str) -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://handoff.test") as api:
            response = await api.get(f"/api/conversations/{data['conversation_id']}/messages",
                                      headers={"Authorization": f"Bearer {token}".encode("latin-1")})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"

    await holds(check, token=st.text(st.characters(codec="latin-1", exclude_characters="\r\n\x00"), max_size=120))
    no_errors_logged(caplog)
