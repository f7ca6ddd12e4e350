"""How uvicorn serves the application: its limits and timeouts, and logs without secrets.

- Connections: at most ``HANDOFF_MAX_CONNECTIONS`` at once (sockets included; past it, HTTP gets a 503),
  request headers complete within ``HANDOFF_HEADER_TIMEOUT`` seconds of the connection or of the request's
  first byte (uvicorn has no such timeout: :class:`HeaderTimeout` adds it, so a client trickling headers
  cannot hold a connection), idle keep-alive connections closed after ``HANDOFF_KEEPALIVE_TIMEOUT``.
- WebSocket messages over ``HANDOFF_MAX_FRAME_BYTES`` close the socket with 1009 (message too big), as the
  ``websockets`` protocol does it; no permessage-deflate (docs/benchmarks.md, "Idle connections").
- Client addresses are the connection's: uvicorn's proxy headers are off, since only the setting
  ``HANDOFF_CLIENT_IP_HEADER`` may make a header count (:mod:`handoff.web.guards`).
- Logs: :class:`RedactSecrets` on every handler blanks ``token=`` values, bearer tokens and Telegram bot tokens in
  Bot API URLs, so neither the access log, the WebSocket lines ("WebSocket /ws/customer?...") nor httpx's request
  lines ("HTTP Request: POST https://api.telegram.org/bot.../sendMessage") print a secret.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import re
from typing import Any, Literal

import uvicorn
from uvicorn.config import LOGGING_CONFIG
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from handoff.settings import HandoffSettings

SECRETS = re.compile(r"(?i)((?:^|[?&;\s\"'])(?:token|access_token|customer_token|authorization)=)[^&\s\"']*"
                     r"|(?i:(bearer\s+))[^\s\"',]+"
                     r"|(/bot)\d+:[A-Za-z0-9_-]+")  # a Telegram bot's token in a Bot API URL (/bot<token>/sendMessage)


def redact(text: str) -> str:
    """``text`` with the values of ``token=``-like query parameters, bearer tokens and Telegram bot tokens in
    URLs blanked."""
    return SECRETS.sub(lambda m: (m.group(1) or m.group(2) or m.group(3)) + "[redacted]", text)


class RedactSecrets(logging.Filter):
    """A handler filter that blanks tokens in a record's message and its arguments (uvicorn logs the path
    with its query string as an argument)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(a) for a in record.args)
        return True


def _redacted(arg: Any) -> Any:
    """A record's argument with its secrets blanked: a string, or an object printed as one (httpx logs its
    request's URL as an ``httpx.URL``); numbers as they are (``%d``)."""
    if isinstance(arg, str):
        return redact(arg)
    if arg is None or isinstance(arg, int | float):
        return arg
    text = str(arg)
    cleaned = redact(text)
    return arg if cleaned == text else cleaned


def log_config() -> dict[str, Any]:
    """uvicorn's logging configuration with :class:`RedactSecrets` on its handlers (the service's own
    records go through the root handlers, which ``python -m handoff`` gives the same filter)."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact": {"()": RedactSecrets}}
    for handler in config["handlers"].values():
        handler["filters"] = ["redact"]
    return config


class HeaderTimeout(HttpToolsProtocol):
    """uvicorn's HTTP protocol, closing a connection whose request headers are not complete in time."""

    header_timeout = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer: asyncio.TimerHandle | None = self.loop.call_later(self.header_timeout, self._too_slow)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if getattr(self, "_header_timer", None) is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._too_slow)

    def on_headers_complete(self) -> None:
        self._stop_timer()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        super().connection_lost(exc)

    def _stop_timer(self) -> None:
        timer, self._header_timer = getattr(self, "_header_timer", None), None
        if timer is not None:
            timer.cancel()

    def _too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()


SHUTDOWN_GRACE = 10
"""Seconds a SIGTERM waits for requests and socket handlers in flight (a bot's turn) before cancelling them."""


def server_config(app: Any, settings: HandoffSettings, *, host: str | None = None, port: int | None = None,
                  lifespan: Literal["on", "off"] = "on") -> uvicorn.Config:
    """uvicorn's configuration for the service (``python -m handoff serve``; the tests use it on port 0)."""
    protocol = type("HandoffHttp", (HeaderTimeout,), {"header_timeout": settings.header_timeout})
    return uvicorn.Config(
        app, host=settings.host if host is None else host, port=settings.port if port is None else port,
        http=protocol, ws="websockets-sansio", ws_max_size=settings.max_frame_bytes, ws_per_message_deflate=False,
        timeout_keep_alive=int(settings.keepalive_timeout), limit_concurrency=settings.max_connections,
        proxy_headers=False, log_level=settings.log_level.lower(), log_config=log_config(),
        lifespan=lifespan, timeout_graceful_shutdown=SHUTDOWN_GRACE)
