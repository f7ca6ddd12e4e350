"""The service as uvicorn serves it (handoff/web/server.py), on a real socket on port 0: logs without tokens,
the WebSocket frame cap, the header timeout."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from handoff.web.server import redact, server_config
from tests.handoff.web.conftest import Serve
from tests.handoff.world import WAIT

Running = Callable[..., Awaitable[tuple[str, Any]]]


@pytest.fixture
async def running(serve: Serve) -> AsyncIterator[Running]:
    """``await running(**settings)``: the application served by uvicorn on 127.0.0.1, port 0; its base URL
    and the service."""
    servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []

    async def start(**overrides: Any) -> tuple[str, Any]:
        app, service = await serve(**overrides)
        server = uvicorn.Server(server_config(app, service.settings, host="127.0.0.1", port=0, lifespan="off"))
        task = asyncio.create_task(server.serve())
        servers.append((server, task))
        while not server.started:
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        return f"127.0.0.1:{port}", service

    yield start
    for server, task in servers:
        server.should_exit = True
        await asyncio.wait_for(task, WAIT)


async def conversation(address: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=f"http://{address}") as api:
        data: dict[str, Any] = (await api.post("/api/conversations", json={})).json()
        return data


def test_redact_blanks_tokens_and_bearer_credentials() -> None:
    assert redact('"GET /ws/customer?conversation_id=c_1&token=v1.1.abc HTTP/1.1"') == (
        '"GET /ws/customer?conversation_id=c_1&token=[redacted] HTTP/1.1"')
    assert redact("Authorization: Bearer s3cr3t, next") == "Authorization: Bearer [redacted], next"
    assert redact("/x?access_token=a&b=c") == "/x?access_token=[redacted]&b=c"
    assert redact("/api/queue?topic=tokens") == "/api/queue?topic=tokens"


async def test_customer_tokens_never_reach_the_logs(running: Running, capsys: pytest.CaptureFixture[str]) -> None:
    address, _ = await running()
    data = await conversation(address)
    token = data["customer_token"]
    query = f"conversation_id={data['conversation_id']}&token={token}"
    async with connect(f"ws://{address}/ws/customer?{query}") as socket:
        assert '"hello"' in await asyncio.wait_for(socket.recv(), WAIT)
    async with httpx.AsyncClient(base_url=f"http://{address}") as api:
        await api.get(f"/api/conversations/{data['conversation_id']}/messages?token={token}",
                      headers={"Authorization": f"Bearer {token}"})
    await asyncio.sleep(0.2)
    logged = capsys.readouterr()
    lines = logged.out + logged.err
    assert "/ws/customer?conversation_id=" in lines and "/messages?token=[redacted]" in lines  # the logs ran
    assert token not in lines and token.rsplit(".", 1)[1] not in lines


async def test_a_websocket_message_over_the_cap_closes_with_1009_not_a_stack_trace(
        running: Running, capsys: pytest.CaptureFixture[str]) -> None:
    address, _ = await running(max_frame_bytes=4096)
    data = await conversation(address)
    query = f"conversation_id={data['conversation_id']}&token={data['customer_token']}"
    async with connect(f"ws://{address}/ws/customer?{query}", max_size=None) as socket:
        await socket.recv()
        await socket.send('{"type": "message", "text": "' + "x" * 5000 + '"}')
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(socket.recv(), WAIT)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    logged = capsys.readouterr()
    assert "Traceback" not in logged.out + logged.err


async def test_a_client_that_trickles_its_headers_is_cut_off(running: Running) -> None:
    address, _ = await running(header_timeout=0.5)
    host, port = address.split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"GET /health HTTP/1.1\r\nHost: handoff.test\r\n")  # and never the blank line
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 3.0) == b""  # closed by the server
    writer.close()
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"GET /health HTTP/1.1\r\nHost: handoff.test\r\n\r\n")
    assert (await asyncio.wait_for(reader.readline(), WAIT)).startswith(b"HTTP/1.1 200")
    await asyncio.sleep(0.8)  # a connection whose request was served in time is not cut by the timer
    writer.write(b"GET /health HTTP/1.1\r\nHost: handoff.test\r\nConnection: close\r\n\r\n")
    assert b"HTTP/1.1 200" in await asyncio.wait_for(reader.read(), WAIT)
    writer.close()
