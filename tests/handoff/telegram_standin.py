"""A local stand-in of Telegram's Bot API (https://core.telegram.org/bots/api) for the tests: a real HTTP server on a
free loopback port (Starlette under uvicorn, in the test's event loop).

It answers ``getMe``, ``setWebhook``, ``sendMessage`` and ``answerCallbackQuery`` at ``/bot<token>/<method>`` as the
published API does: a JSON body or a form, every answer ``{"ok": true, "result": ...}`` or ``{"ok": false,
"error_code", "description"[, "parameters": {"retry_after"}]}``, ``sendMessage`` returning a ``Message``
(``message_id``, ``from``, ``chat``, ``date``, ``text``, ``reply_markup``) and refusing what Telegram refuses (an
empty or over-long text, an inline button without text or with ``callback_data`` over 64 bytes, a wrong token).
It records every call, can be down (503), rate-limit (429 with ``retry_after``) or have been blocked by a chat
(403), and plays Telegram's side of the webhook: it POSTs ``Update`` objects with the secret token header, again
until the service answers 2xx, as often as the test likes (the same ``update_id`` included).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from scripts.servers import free_port

BOT_USER = {"id": 7000000001, "is_bot": True, "first_name": "Brightwood", "username": "brightwood_test_bot",
            "can_join_groups": False, "can_read_all_group_messages": False, "supports_inline_queries": False}
SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


def _error(code: int, description: str, retry_after: int | None = None) -> JSONResponse:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return JSONResponse(body, status_code=code)


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Call:
    method: str
    body: dict[str, Any]
    status: int


@dataclass
class TelegramStandIn:
    """The Bot API of one bot (``token``), on ``http://127.0.0.1:<port>``."""

    token: str = "123456789:AAH-test_token-of-the-stand-in"
    port: int = field(default_factory=free_port)
    down: int | None = None  # a status every method answers with (503: an outage)
    retry_after: int | None = None  # set: every method answers 429 with it
    blocked: set[int] = field(default_factory=set)  # chats whose customer blocked the bot
    calls: list[Call] = field(default_factory=list)
    webhook: dict[str, Any] = field(default_factory=dict)  # what setWebhook set
    webhook_url: str | None = None  # where updates go (setWebhook's, or the test's)
    secret_token: str | None = None
    _message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    _update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(500000001))
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/bot{token}/{method}", self._method, methods=["GET", "POST"])])

    # ---- the Bot API ---------------------------------------------------------------------------------------

    async def _method(self, request: Request) -> JSONResponse:
        method = request.path_params["method"]
        body = await self._body(request)
        answer = self._answer(request.path_params["token"], method, body)
        self.calls.append(Call(method, body, answer.status_code))
        self._changed.set()
        return answer

    @staticmethod
    async def _body(request: Request) -> dict[str, Any]:
        """The parameters, as the API takes them: query string, JSON, or a form (a form's objects as JSON)."""
        params: dict[str, Any] = dict(request.query_params)
        if request.method == "POST":
            if request.headers.get("content-type", "").startswith("application/json"):
                params.update(json.loads(await request.body() or b"{}"))
            else:
                for key, value in (await request.form()).items():
                    try:
                        params[key] = json.loads(str(value))
                    except ValueError:
                        params[key] = value
        return params

    def _answer(self, token: str, method: str, body: dict[str, Any]) -> JSONResponse:
        if token != self.token:
            return _error(401, "Unauthorized")
        if self.down is not None:
            return _error(self.down, "Service Unavailable" if self.down == 503 else "Internal Server Error")
        if self.retry_after is not None:
            return _error(429, f"Too Many Requests: retry after {self.retry_after}", self.retry_after)
        handler = {"getMe": self._get_me, "setWebhook": self._set_webhook, "sendMessage": self._send_message,
                   "answerCallbackQuery": self._answer_callback_query}.get(method)
        if handler is None:
            return _error(404, "Not Found: method not found")
        return handler(body)

    def _get_me(self, body: dict[str, Any]) -> JSONResponse:
        return JSONResponse({"ok": True, "result": BOT_USER})

    def _set_webhook(self, body: dict[str, Any]) -> JSONResponse:
        url = body.get("url")
        if not isinstance(url, str):
            return _error(400, "Bad Request: parameter \"url\" is required")
        if url and not url.startswith("https://"):
            return _error(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        secret = body.get("secret_token")
        if secret is not None and (not isinstance(secret, str) or not SECRET.fullmatch(secret)):
            return _error(400, "Bad Request: secret token contains unallowed characters")
        allowed = body.get("allowed_updates")
        if allowed is not None and not (isinstance(allowed, list) and all(isinstance(a, str) for a in allowed)):
            return _error(400, "Bad Request: can't parse allowed updates")
        self.webhook = dict(body)
        self.secret_token = secret
        return JSONResponse({"ok": True, "result": True, "description": "Webhook was set"})

    def _send_message(self, body: dict[str, Any]) -> JSONResponse:
        chat_id, text = body.get("chat_id"), body.get("text")
        if not isinstance(chat_id, int | str) or isinstance(chat_id, bool) or chat_id == "":
            return _error(400, "Bad Request: chat_id is empty")
        if not isinstance(text, str) or not text.strip():
            return _error(400, "Bad Request: message text is empty")
        if _utf16(text) > 4096:
            return _error(400, "Bad Request: message is too long")
        if "parse_mode" in body and body["parse_mode"] not in ("HTML", "Markdown", "MarkdownV2"):
            return _error(400, "Bad Request: unsupported parse_mode")
        markup = body.get("reply_markup")
        if markup is not None:
            rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                return _error(400, "Bad Request: can't parse inline keyboard button: field \"inline_keyboard\" "
                                   "must be an Array")
            for button in (b for row in rows for b in row):
                if not isinstance(button, dict) or not isinstance(button.get("text"), str) or not button["text"]:
                    return _error(400, "Bad Request: can't parse inline keyboard button: Text must be non-empty")
                data = button.get("callback_data")
                if not isinstance(data, str) or not 1 <= len(data.encode()) <= 64:
                    return _error(400, "Bad Request: BUTTON_DATA_INVALID")
        chat = int(chat_id) if str(chat_id).lstrip("-").isdigit() else chat_id
        if chat in self.blocked:
            return _error(403, "Forbidden: bot was blocked by the user")
        message: dict[str, Any] = {"message_id": next(self._message_ids), "from": BOT_USER,
                                   "chat": {"id": chat, "type": "private", "first_name": "Customer"},
                                   "date": int(time.time()), "text": text}
        if markup is not None:
            message["reply_markup"] = markup
        return JSONResponse({"ok": True, "result": message})

    def _answer_callback_query(self, body: dict[str, Any]) -> JSONResponse:
        if not isinstance(body.get("callback_query_id"), str) or not body["callback_query_id"]:
            return _error(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        return JSONResponse({"ok": True, "result": True})

    # ---- what the service sent -----------------------------------------------------------------------------

    def sent(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """The ``sendMessage`` calls Telegram took (to ``chat_id``), oldest first."""
        return [call.body for call in self.calls if call.method == "sendMessage" and call.status == 200
                and (chat_id is None or int(call.body["chat_id"]) == chat_id)]

    async def next_sent(self, chat_id: int, containing: str = "", after: int = 0, timeout: float = 60.0
                        ) -> dict[str, Any]:
        """The first message taken for ``chat_id`` after the first ``after`` ones whose text contains
        ``containing``, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            for body in self.sent(chat_id)[after:]:
                if containing in body["text"]:
                    return body
            left = deadline - time.monotonic()
            if left <= 0:
                texts = [body["text"] for body in self.sent(chat_id)]
                raise AssertionError(f"no message with {containing!r} to chat {chat_id}; sent: {texts}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, 1.0))

    async def calls_of(self, method: str, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The bodies of the calls of ``method`` so far, waiting up to ``timeout`` seconds for a first one."""
        deadline = time.monotonic() + timeout
        while not any(call.method == method for call in self.calls) and time.monotonic() < deadline:
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), 0.5)
        return [call.body for call in self.calls if call.method == method]

    # ---- Telegram's side of the webhook --------------------------------------------------------------------

    def message_update(self, chat_id: int, text: str, first_name: str = "Jane", chat_type: str = "private"
                       ) -> dict[str, Any]:
        """An ``Update`` with a new ``update_id``: a customer's text message."""
        user = {"id": chat_id, "is_bot": False, "first_name": first_name, "language_code": "en"}
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        chat.update({"first_name": first_name} if chat_type == "private" else {"title": "A group"})
        return {"update_id": next(self._update_ids), "message": {
            "message_id": next(self._message_ids), "from": user, "chat": chat, "date": int(time.time()),
            "text": text}}

    def callback_update(self, chat_id: int, data: str, message: dict[str, Any] | None = None,
                        first_name: str = "Jane") -> dict[str, Any]:
        """An ``Update`` with a new ``update_id``: the customer pressed an inline button (``data``) of ``message``
        (a ``sendMessage`` the service made)."""
        user = {"id": chat_id, "is_bot": False, "first_name": first_name}
        shown = {"message_id": next(self._message_ids), "from": BOT_USER, "date": int(time.time()),
                 "chat": {"id": chat_id, "type": "private", "first_name": first_name},
                 "text": (message or {}).get("text", ""), **({"reply_markup": message["reply_markup"]}
                                                              if message and "reply_markup" in message else {})}
        return {"update_id": next(self._update_ids), "callback_query": {
            "id": str(next(self._message_ids) * 7919), "from": user, "message": shown,
            "chat_instance": str(chat_id * 31), "data": data}}

    async def post(self, update: dict[str, Any], url: str | None = None, secret: str | None = None) -> int:
        """POST ``update`` once to the webhook (with the secret token header, as Telegram does); the status."""
        headers = {"Content-Type": "application/json"}
        token = secret if secret is not None else self.secret_token
        if token is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = token
        target = url or self.webhook_url
        assert target, "no webhook: call setWebhook or set webhook_url"
        async with httpx.AsyncClient(timeout=30.0) as client:
            response = await client.post(target, content=json.dumps(update).encode(), headers=headers)
        return response.status_code

    async def deliver(self, update: dict[str, Any], url: str | None = None, attempts: int = 30,
                      pause: float = 0.5) -> int:
        """POST ``update`` until the webhook answers 2xx, as Telegram retries; the number of tries it took."""
        for attempt in range(1, attempts + 1):
            with contextlib.suppress(httpx.HTTPError):
                if 200 <= await self.post(update, url) < 300:
                    return attempt
            await asyncio.sleep(pause)
        raise AssertionError(f"the webhook did not take update {update['update_id']} in {attempts} tries")


@contextlib.asynccontextmanager
async def running_standin(**options: Any) -> AsyncIterator[TelegramStandIn]:
    """The stand-in serving on its port until the block ends."""
    standin = TelegramStandIn(**options)
    server = uvicorn.Server(uvicorn.Config(standin.app(), host="127.0.0.1", port=standin.port, log_level="warning",
                                           lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise AssertionError("the Bot API stand-in did not start")
        await asyncio.sleep(0.02)
    try:
        yield standin
    finally:
        server.should_exit = True
        await task
