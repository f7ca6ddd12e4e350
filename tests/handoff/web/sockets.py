"""A WebSocket client that speaks ASGI to the application in process, on the test's own event loop.

What httpx's ASGI transport is for HTTP: the real application and gateway, no server and no thread, so the
in-process service (MemoryStore or Redis, SQLite or PostgreSQL) is shared with the test. It sees what a
client would: the accept or the close (with its code), then each frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

from starlette.types import ASGIApp, Message

from tests.handoff.world import WAIT

Frame = dict[str, Any]


class ClosedError(Exception):
    """The server closed the socket (``code``) while a frame was expected."""

    def __init__(self, code: int) -> None:
        super().__init__(f"closed with {code}")
        self.code = code


class AsgiSocket:
    """One client socket: :meth:`receive` the server's frames, :meth:`send` the client's."""

    def __init__(self) -> None:
        self.to_app: asyncio.Queue[Message] = asyncio.Queue()
        self.from_app: asyncio.Queue[Message] = asyncio.Queue()
        self.accepted = False
        self.close_code: int | None = None

    async def _next(self, timeout: float) -> Message:
        message = await asyncio.wait_for(self.from_app.get(), timeout)
        if message["type"] == "websocket.close":
            self.close_code = int(message.get("code", 1000))
            await self.to_app.put({"type": "websocket.disconnect", "code": self.close_code})
        return message

    async def receive(self, timeout: float = WAIT) -> Frame:
        """The next frame; raises :class:`ClosedError` if the server closes instead."""
        if self.close_code is not None:
            raise ClosedError(self.close_code)
        message = await self._next(timeout)
        if message["type"] == "websocket.close":
            raise ClosedError(self.close_code or 1000)
        return json.loads(message.get("text") or message.get("bytes") or "null")  # type: ignore[no-any-return]

    async def until(self, kind: str, timeout: float = WAIT) -> Frame:
        """The next frame of type ``kind`` (skipping others)."""
        while True:
            frame = await self.receive(timeout)
            if frame.get("type") == kind:
                return frame

    async def closed(self, timeout: float = WAIT) -> int:
        """Wait until the server closes the socket (reading past frames); its close code."""
        while self.close_code is None:
            await self._next(timeout)
        return self.close_code

    async def send(self, frame: Frame) -> None:
        await self.to_app.put({"type": "websocket.receive", "text": json.dumps(frame)})


@contextlib.asynccontextmanager
async def connect(app: ASGIApp, path: str, params: dict[str, str] | None = None,
                  headers: dict[str, str] | None = None) -> AsyncIterator[AsgiSocket]:
    """Open ``path`` (with its query ``params`` and ``headers``); yields once the server has accepted it (a
    refusal, as the gateway's, is a close after the accept) or closed it."""
    socket = AsgiSocket()
    scope = {"type": "websocket", "asgi": {"version": "3.0"}, "scheme": "ws", "http_version": "1.1",
             "path": path, "raw_path": path.encode(), "root_path": "", "query_string": urlencode(params or {}).encode(),
             "headers": [(k.lower().encode(), v.encode()) for k, v in {"host": "handoff.test", **(headers or {})}.items()],
             "client": ("127.0.0.1", 50000), "server": ("handoff.test", 80), "subprotocols": [], "state": {},
             "app": app}
    await socket.to_app.put({"type": "websocket.connect"})
    task = asyncio.create_task(app(scope, socket.to_app.get, socket.from_app.put))  # type: ignore[arg-type]
    try:
        socket.accepted = (await socket._next(WAIT))["type"] == "websocket.accept"
        yield socket
    finally:
        if socket.close_code is None:
            await socket.to_app.put({"type": "websocket.disconnect", "code": 1000})
        try:
            await asyncio.wait_for(task, WAIT)
        except TimeoutError:
            task.cancel()
