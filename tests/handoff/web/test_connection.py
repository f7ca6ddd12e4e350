"""A socket closed under the service while it answers (the client left, or the server refused a frame over the
size limit) ends the connection quietly: no "socket failed" traceback in the log, which the served-instance
fuzzer (tests/handoff/e2e/test_fuzz_sockets.py) found."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from starlette.websockets import WebSocket

from handoff.core.errors import BadRequest
from handoff.web.gateway import Connection


class ClosedAfterFirstFrame:
    """The ASGI side of a socket as uvicorn's websockets-sansio implementation behaves: once the protocol has
    closed the connection (a frame over ``ws_max_size``), every further send raises RuntimeError."""

    def __init__(self) -> None:
        frame = {"type": "websocket.receive", "text": "{\"type\": \"x\"}"}
        self.received = [{"type": "websocket.connect"}, frame, frame]
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        await asyncio.sleep(0.05)  # the answer to the frame before is sent meanwhile (and fails)
        if self.received:
            return self.received.pop(0)
        return {"type": "websocket.disconnect", "code": 1009}

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "websocket.send":
            raise RuntimeError("Unexpected ASGI message 'websocket.send', after sending 'websocket.close'.")
        self.sent.append(message)


async def test_a_socket_closed_while_answering_ends_quietly(caplog: pytest.LogCaptureFixture) -> None:
    asgi = ClosedAfterFirstFrame()
    websocket = WebSocket({"type": "websocket", "path": "/ws/agent", "headers": []}, asgi.receive, asgi.send)
    await websocket.accept()
    connection = Connection(websocket)

    async def handle(frame: dict[str, Any]) -> None:
        raise BadRequest("Unknown frame type.")  # answered with an error frame, which cannot be sent any more

    with caplog.at_level(logging.DEBUG):
        await asyncio.wait_for(connection.serve(handle), 5)  # returns: no exception out of the connection
    assert "Traceback" not in caplog.text
