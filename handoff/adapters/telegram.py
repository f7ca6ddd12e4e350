"""The Telegram channel's transport: a bot of Telegram's Bot API (https://core.telegram.org/bots/api), its updates
in by webhook, the service's messages out with ``sendMessage``.

In: Telegram POSTs each ``Update`` to the service's webhook (``POST /channels/telegram/webhook``,
:mod:`handoff.web.channels`), with the secret token given to ``setWebhook`` in ``X-Telegram-Bot-Api-Secret-Token``.
:func:`inbound_of` turns an update into an :class:`~handoff.core.channels.InboundIm`: a ``message`` with text (or a
caption) from a private chat, or a ``callback_query`` (an inline button pressed: its ``callback_data``, see
:func:`handoff.core.channels.callback_data`). Its event id is the ``update_id`` (Telegram sends an update again
until the webhook answers 2xx: the IM core takes it in once); its address the chat's id. Everything else is
acknowledged and ignored: edited messages, messages without text (stickers, photos without a caption), group and
channel chats (the bot serves one customer a chat), other update types.

Out: :meth:`TelegramTransport.send` calls ``sendMessage`` (the text as is, no ``parse_mode``; the buttons as an
inline keyboard). What the Bot API answers decides what the outbox does:

- 200 ``ok``: sent (the ``message_id`` kept);
- 429, 5xx, no answer, 401/404 (a token Telegram does not know): :class:`DeliveryFailed`, tried again with
  back-off (after a 429 no sooner than its ``retry_after``), the agent told each time;
- 400 and 403 (``Forbidden: bot was blocked by the user``, a chat gone, a message Telegram will never take):
  :class:`DeliveryRefused`, given up at once and the agent told; the customer's next message opens the way again.

The token is in every Bot API URL (``/bot<token>/method``): it is never put in an error or a log line of ours,
and the server's log filter (:class:`handoff.web.server.RedactSecrets`) blanks it in httpx's request lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

import httpx

from handoff.adapters.notify import DeliveryFailed, DeliveryRefused
from handoff.core.channels import Deliver, InboundIm, Rendered, inline_keyboard

logger = logging.getLogger(__name__)
CHANNEL = "telegram"
DEFAULT_API = "https://api.telegram.org"
ALLOWED_UPDATES = ("message", "callback_query")  # what setWebhook asks for: the rest is never sent
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def _name(user: Any) -> str | None:
    if not isinstance(user, Mapping):
        return None
    name = " ".join(str(user.get(key) or "") for key in ("first_name", "last_name")).strip()
    return name or (str(user["username"]) if user.get("username") else None)


def _private_chat(message: Any) -> str | None:
    """The chat id of a message of a private chat, else None."""
    if not isinstance(message, Mapping):
        return None
    chat = message.get("chat")
    if not isinstance(chat, Mapping) or chat.get("type") != "private" or not isinstance(chat.get("id"), int):
        return None
    return str(chat["id"])


def update_id_of(update: Any) -> int | None:
    """An update's ``update_id`` (None: not an Update)."""
    if isinstance(update, Mapping) and isinstance(update.get("update_id"), int) \
            and not isinstance(update["update_id"], bool):
        return int(update["update_id"])
    return None


def inbound_of(update: Any) -> tuple[InboundIm | None, str | None]:
    """What an ``Update`` brings the service: the customer's event (None: an update the channel ignores) and the
    id of the callback query to answer (a button pressed), if any."""
    update_id = update_id_of(update)
    if update_id is None:
        return None, None
    event_id = str(update_id)
    message = update.get("message")
    if isinstance(message, Mapping):
        chat = _private_chat(message)
        text = message.get("text", message.get("caption"))
        if chat is None or not isinstance(text, str) or not text.strip():
            return None, None
        return InboundIm(CHANNEL, chat, event_id, text, _name(message.get("from"))), None
    query = update.get("callback_query")
    if isinstance(query, Mapping) and isinstance(query.get("id"), str):
        chat = _private_chat(query.get("message"))
        data = query.get("data")
        if chat is None or not isinstance(data, str) or not data.strip():
            return None, query["id"]  # answered all the same, so the customer's button stops spinning
        return InboundIm(CHANNEL, chat, event_id, "", _name(query.get("from")), data), query["id"]
    return None, None


class TelegramTransport:
    """A Telegram bot for the ``telegram`` channel (an :class:`~handoff.service.ports.ImTransport`; a webhook one:
    every instance sends, and takes in what the webhook route hands it).

    ``api``: the Bot API's address (a local stand-in in the tests); ``webhook_url`` and ``secret``: when both are
    given, :meth:`start` registers the webhook (``setWebhook`` with ``secret_token`` and ``allowed_updates``)."""

    channel = CHANNEL
    exclusive = False

    def __init__(self, token: str, api: str = DEFAULT_API, *, webhook_url: str | None = None,
                 secret: str | None = None, timeout: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._token = token
        self._api = api.rstrip("/")
        self._webhook_url, self._secret = webhook_url, secret
        self._timeout = timeout
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._deliver: Deliver | None = None
        self._answers: set[asyncio.Task[None]] = set()

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout, transport=self._transport)
        return self._client

    async def start(self, deliver: Deliver) -> None:
        """Remember where updates go; register the webhook when configured to (a failure is logged: Telegram
        keeps the webhook it had, and messages out are retried anyway)."""
        self._deliver = deliver
        if self._webhook_url and self._secret:
            try:
                await self.call("setWebhook", {"url": self._webhook_url, "secret_token": self._secret,
                                               "allowed_updates": list(ALLOWED_UPDATES)})
            except DeliveryFailed as exc:
                logger.warning("telegram: the webhook could not be registered (%s)", exc)
            else:
                logger.info("telegram: webhook registered")

    async def call(self, method: str, body: Mapping[str, Any]) -> Any:
        """One Bot API method; its ``result``.

        Raises:
            DeliveryFailed: no answer, 429, 5xx, or a token Telegram does not know: worth trying again.
            DeliveryRefused: 400 or 403 (the customer blocked the bot, the chat is gone): never worth it.
        """
        url = f"{self._api}/bot{self._token}/{method}"
        try:
            response = await self._http().post(url, json=dict(body))
        except httpx.TimeoutException:
            raise DeliveryFailed("Telegram's Bot API did not answer in time") from None
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"Telegram's Bot API could not be reached ({type(exc).__name__})") from None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        answer = answer if isinstance(answer, Mapping) else {}
        description = str(answer.get("description") or "")[:200]
        if response.status_code == 200 and answer.get("ok") is True:
            return answer.get("result")
        status = response.status_code
        if status == 429:
            parameters = answer.get("parameters")
            wait = parameters.get("retry_after") if isinstance(parameters, Mapping) else None
            seconds = float(wait) if isinstance(wait, int | float) and not isinstance(wait, bool) and wait > 0 else None
            raise DeliveryFailed(f"Telegram: too many requests (retry after {wait if seconds else '?'} s)", seconds)
        if status in (400, 403):
            raise DeliveryRefused(f"Telegram refused the message ({status}: {description or 'no reason given'})")
        if status in (401, 404):
            logger.error("telegram: the Bot API does not know the bot's token (HANDOFF_TELEGRAM_TOKEN)")
            raise DeliveryFailed(f"Telegram does not know the bot's token ({status})")
        raise DeliveryFailed(f"Telegram's Bot API is unavailable ({status}{': ' + description if description else ''})")

    async def send(self, address: str, rendered: Rendered) -> str:
        """``sendMessage`` to the chat ``address``; the sent message's ``message_id``.

        Raises:
            DeliveryFailed: not sent; the outbox tries again later.
            DeliveryRefused: refused for good (blocked by the customer); the outbox gives it up.
        """
        body: dict[str, Any] = {"chat_id": int(address) if address.lstrip("-").isdigit() else address,
                                "text": rendered.text}
        markup = inline_keyboard(rendered.buttons)
        if markup is not None:
            body["reply_markup"] = markup
        result = await self.call("sendMessage", body)
        return str(result.get("message_id")) if isinstance(result, Mapping) else ""

    async def take(self, update: Any) -> None:
        """An ``Update`` the webhook got: the customer's event handed to the service (once, by ``update_id``), a
        pressed button acknowledged.

        Raises:
            Exception: the service could not store it (the webhook answers 5xx: Telegram sends it again).
        """
        event, query_id = inbound_of(update)
        if event is not None:
            if self._deliver is None:
                raise RuntimeError("the Telegram transport is not started")
            await self._deliver(event)
        elif update_id_of(update) is not None:
            logger.debug("telegram: update %s ignored (not a private chat's text or button)", update_id_of(update))
        if query_id is not None:
            self.answer_callback(query_id)

    def answer_callback(self, query_id: str) -> None:
        """``answerCallbackQuery`` in the background (the customer's button stops showing progress); a failure is
        logged only: the press was taken in either way."""
        async def answer() -> None:
            try:
                await self.call("answerCallbackQuery", {"callback_query_id": query_id})
            except DeliveryFailed as exc:
                logger.info("telegram: a button press was not acknowledged (%s)", exc)

        task = asyncio.create_task(answer())
        self._answers.add(task)
        task.add_done_callback(self._answers.discard)

    async def close(self) -> None:
        """Let the acknowledgements under way finish (a few seconds), close the HTTP client."""
        if self._answers:
            await asyncio.wait(list(self._answers), timeout=3.0)
        for task in list(self._answers):
            task.cancel()
        self._deliver = None
        if self._client is not None:
            client, self._client = self._client, None
            with contextlib.suppress(Exception):
                await client.aclose()
