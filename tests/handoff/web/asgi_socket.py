"""A WebSocket client for the application in process: the ASGI messages a server would exchange with it, on
the test's event loop, so a socket test runs on the in-process service (both profiles, the fake clock) without
a server. What the client gets is what uvicorn would put on the wire: frames, and the close code and reason.
"""

from __future__ import annotations

import asyncio
import json
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

from starlette.types import ASGIApp, Message

from tests.handoff.world import WAIT


class Closed(Exception):
    """The application closed the socket (or refused it)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"closed {code} {reason}")
        self.code, self.reason = code, reason


class AsgiSocket:
    """One socket to ``path`` of the application; use as ``async with AsgiSocket(app, ...) as socket``."""

    def __init__(self, app: ASGIApp, path: str, query: dict[str, str] | None = None,
                 headers: dict[str, str] | None = None, client: str = "203.0.113.7") -> None:
        self._app = app
        self._inbound: asyncio.Queue[Message] = asyncio.Queue()
        self._outbound: asyncio.Queue[Message] = asyncio.Queue()
        raw_headers = [(b"host", b"handoff.test")] + [(k.lower().encode(), v.encode("latin-1"))
                                                      for k, v in (headers or {}).items()]
        self._scope: dict[str, Any] = {
            "type": "websocket", "asgi": {"version": "3.0"}, "scheme": "ws", "http_version": "1.1",
            "path": path, "raw_path": path.encode(), "root_path": "",
            "query_string": urlencode(query or {}).encode(), "headers": raw_headers,
            "client": (client, 50000), "server": ("handoff.test", 80), "subprotocols": []}
        self._task: asyncio.Task[None] | None = None
        self.closed: Closed | None = None

    async def _receive(self) -> Message:
        return await self._inbound.get()

    async def _send(self, message: Message) -> None:
        await self._outbound.put(message)

    async def __aenter__(self) -> AsgiSocket:
        self._task = asyncio.create_task(self._app(self._scope, self._receive, self._send))
        await self._inbound.put({"type": "websocket.connect"})
        first = await self._next_message()
        if first["type"] != "websocket.accept":
            raise AssertionError(f"the socket was not accepted: {first}")
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        await self._inbound.put({"type": "websocket.disconnect", "code": 1000})
        assert self._task is not None
        await asyncio.wait_for(self._task, WAIT)  # the application's own failure, if any, fails the test

    async def _next_message(self) -> Message:
        if self.closed is not None:
            raise self.closed
        message = await asyncio.wait_for(self._outbound.get(), WAIT)
        if message["type"] == "websocket.close":
            self.closed = Closed(message.get("code", 1000), message.get("reason") or "")
            await self._inbound.put({"type": "websocket.disconnect", "code": self.closed.code})
            raise self.closed
        return message

    async def send_text(self, text: str) -> None:
        await self._inbound.put({"type": "websocket.receive", "text": text})

    async def send_bytes(self, data: bytes) -> None:
        await self._inbound.put({"type": "websocket.receive", "bytes": data})

    async def send_json(self, frame: Any) -> None:
        await self.send_text(json.dumps(frame))

    async def receive(self) -> dict[str, Any]:
        """The next frame, decoded; raises :class:`Closed` when the application closes the socket."""
        message = await self._next_message()
        frame: dict[str, Any] = json.loads(message["text"])
        return frame

    async def next(self, kind: str) -> dict[str, Any]:
        """The next frame of type ``kind`` (skipping others)."""
        while (frame := await self.receive())["type"] != kind:
            pass
        return frame
