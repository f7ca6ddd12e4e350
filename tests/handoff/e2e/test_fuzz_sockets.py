"""Property-based frames over real sockets: a served instance (``python -m handoff serve``, both profiles)
gets generated frames on the customer socket and on the agent socket, well-formed and not: unknown types,
fields of the wrong type, NUL characters, long texts, non-JSON text, binary frames, deeply nested JSON.

Whatever arrives, the socket answers with frames of the protocol (an ``error`` frame naming the problem, an
``ack``, a ``pong``) and no stack trace, never closes (but with 1009 for a frame over 64 KiB, WebSocket's
own "too big"), and still answers a ``ping`` afterwards; the server logs no traceback. The bot is not needed (its URL answers nothing, so a
message is handed to a person), which keeps the run short. The frame handling is specified in process by
the limits tests; this is the end-to-end check that the served instance behaves the same.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scripts.servers import free_port
from tests.handoff.e2e.harness import PASSWORD, HandoffServer, running_handoff

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "30"))
WAIT = 5.0
CLOSE_TOO_BIG, FRAME_LIMIT = 1009, 65536  # uvicorn's websockets refuse frames over 64 KiB with 1009
SESSIONS: dict[str, str] = {}  # server URL -> grace's session token
TYPES = ["message", "typing", "ping", "hello", "ack", "", "MESSAGE", "x" * 300]
text = st.one_of(st.text(max_size=50), st.just("\x00"), st.text(min_size=2001, max_size=2100),
                 st.just("😀" * 10), st.integers(), st.none(), st.lists(st.integers(), max_size=3))
json_frame = st.fixed_dictionaries({"type": st.one_of(st.sampled_from(TYPES), st.integers(), st.none())},
                                   optional={"text": text, "client_id": text, "conversation_id": text,
                                             "extra": st.recursive(st.none() | st.integers() | st.text(max_size=5),
                                                                   lambda inner: st.lists(inner, max_size=3),
                                                                   max_leaves=10)})
raw_frame = st.one_of(
    json_frame.map(json.dumps),
    st.text(max_size=100),  # mostly not JSON
    st.binary(max_size=100),
    st.integers(1, 5000).map(lambda depth: "[" * depth + "]" * depth),
    st.just('{"type": "message", "text": "' + "x" * 70_000 + '"}'))


@pytest.fixture(scope="module", params=["embedded", "production"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HandoffServer]:
    with running_handoff(tmp_path_factory.mktemp("fuzz"), request.param, f"http://127.0.0.1:{free_port()}",
                         "no-bot") as servers:
        yield servers[0]


async def _customer_url(server: HandoffServer) -> str:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        data = (await http.post("/api/conversations", json={"name": "Fuzz"})).json()
    return f"{server.ws_url}/ws/customer?conversation_id={data['conversation_id']}&token={data['customer_token']}"


async def _agent_url(server: HandoffServer) -> str:
    if server.url not in SESSIONS:  # one sign-in per server (Argon2 is slow on purpose)
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            SESSIONS[server.url] = (await http.post("/api/auth/login", json={"username": "grace",
                                                                             "password": PASSWORD})).json()["token"]
    return f"{server.ws_url}/ws/agent?token={SESSIONS[server.url]}"


async def _exchange(url: str, frames: list[str | bytes]) -> list[dict[str, Any]]:
    """Send the frames, then a ping; return what came back up to the pong. Fails on a close or a trace."""
    received: list[dict[str, Any]] = []
    async with websockets.connect(url, max_size=None) as connection:
        received.append(json.loads(await asyncio.wait_for(connection.recv(), WAIT)))  # hello
        try:
            for frame in [*frames, json.dumps({"type": "ping"})]:
                await connection.send(frame)
            while received[-1].get("type") != "pong":
                raw = await asyncio.wait_for(connection.recv(), WAIT)
                assert "Traceback" not in str(raw)
                received.append(json.loads(raw))
        except websockets.ConnectionClosed as closed:
            too_big = closed.rcvd is None or closed.rcvd.code == CLOSE_TOO_BIG
            if too_big and max(map(len, frames)) > FRAME_LIMIT:
                # the standard answer to a frame over the limit: 1009, or, when the client is still sending
                # the rest of its frames as the server closes, a connection that simply ends
                return received
            shown = [f"{len(f)}-long {type(f).__name__}" if len(f) > 200 else f for f in frames]
            raise AssertionError(f"the socket closed ({closed.rcvd}) after {shown!r:.600}") from None
    return received


def _fuzz_socket(server: HandoffServer, make_url: Any) -> None:
    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(frames=st.lists(raw_frame, min_size=1, max_size=8))
    def one(frames: list[str | bytes]) -> None:
        async def run() -> None:
            url = await make_url(server)
            for frame in await _exchange(url, frames):
                assert isinstance(frame.get("type"), str)
                if frame["type"] == "error":
                    assert frame["code"] and frame["detail"], frame

        asyncio.run(run())

    one()


def _log_has_no_traceback(log: Path) -> None:
    assert "Traceback" not in log.read_text(errors="replace"), log.read_text(errors="replace")[-3000:]


def test_customer_socket_answers_any_frame_with_the_protocol(server: HandoffServer) -> None:
    _fuzz_socket(server, _customer_url)
    _log_has_no_traceback(server.log)


def test_agent_socket_answers_any_frame_with_the_protocol(server: HandoffServer) -> None:
    _fuzz_socket(server, _agent_url)
    _log_has_no_traceback(server.log)
