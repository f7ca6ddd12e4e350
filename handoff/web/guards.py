"""What the web layer does against abuse before a request reaches the service: who the client is (for the
rate limits), and a cap on request bodies.

The client is the connection's address, or, only when ``HANDOFF_CLIENT_IP_HEADER`` names a header (the one a
trusted proxy in front of the service sets, such as ``X-Forwarded-For``), the last address in that header:
the one the proxy itself appended, since anything before it came from the client and may be forged. Without
the setting the header is ignored, so a client cannot choose its own address.
"""

from __future__ import annotations

import json

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from handoff.settings import HandoffSettings


def client_address(connection: HTTPConnection, settings: HandoffSettings) -> str:
    """The address the rate limits count the request (or socket) against."""
    if settings.client_ip_header:
        forwarded = connection.headers.get(settings.client_ip_header, "")
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            return last[:64]
    return connection.client.host if connection.client else "unknown"


class BodyLimit:
    """Refuses a request body over ``limit`` bytes with a 413 before the application reads it: at once when
    ``Content-Length`` says so, else (a chunked body) as soon as the bytes read pass it."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        seen = 0
        refused = started = False

        async def counting_receive() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit and not started:
                    refused = True
                    await self._refuse(send)
                    return {"type": "http.disconnect"}  # the application stops reading; its answer is dropped
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counting_receive, guarded_send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"error": {"code": "too_large", "detail": f"The request body is over the limit of "
                                                                    f"{self.limit} bytes."}}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

