"""The Telegram transport against the local stand-in of the Bot API (tests/handoff/telegram_standin.py, a real HTTP
server on a free port): updates parsed as the published schema has them, ``sendMessage`` with an inline keyboard,
the webhook registered with its secret token, and what each failure of the API means for the outbox; the bot's
token in no error and no log line."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from handoff.adapters.notify import DeliveryFailed, DeliveryRefused
from handoff.adapters.telegram import ALLOWED_UPDATES, TelegramTransport, inbound_of
from handoff.core.channels import InboundIm, Rendered
from handoff.web.server import RedactSecrets, redact
from tests.handoff.telegram_standin import TelegramStandIn, running_standin

CHAT = 421337


@pytest.fixture
async def standin() -> AsyncIterator[TelegramStandIn]:
    async with running_standin() as server:
        yield server


@pytest.fixture
async def transport(standin: TelegramStandIn) -> AsyncIterator[TelegramTransport]:
    transport = TelegramTransport(standin.token, standin.api, timeout=5.0)
    yield transport
    await transport.close()


def test_a_private_chats_text_and_a_pressed_button_are_events_by_update_id() -> None:
    standin = TelegramStandIn(port=0)
    update = standin.message_update(CHAT, "Where is my parcel?", first_name="Jane")
    event, query = inbound_of(update)
    assert event == InboundIm("telegram", str(CHAT), str(update["update_id"]), "Where is my parcel?", "Jane")
    assert query is None
    pressed = standin.callback_update(CHAT, "No, keep it")
    event, query = inbound_of(pressed)
    assert event == InboundIm("telegram", str(CHAT), str(pressed["update_id"]), "", "Jane", "No, keep it")
    assert query == pressed["callback_query"]["id"]


@pytest.mark.parametrize("update", [
    {"update_id": 1, "edited_message": {"message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"},
                                        "text": "edited"}},
    {"update_id": 2, "message": {"message_id": 2, "date": 0, "chat": {"id": -100, "type": "group", "title": "G"},
                                 "text": "hi all"}},
    {"update_id": 3, "message": {"message_id": 3, "date": 0, "chat": {"id": 5, "type": "private"},
                                 "sticker": {"file_id": "x"}}},
    {"update_id": 4, "my_chat_member": {"chat": {"id": 5, "type": "private"}}},
    {"update_id": True, "message": {"chat": {"id": 5, "type": "private"}, "text": "a bool is no update id"}},
    {"message": {"chat": {"id": 5, "type": "private"}, "text": "no update id"}},
    [], "text", None,
], ids=["edited", "group", "sticker", "other-type", "bool-id", "no-id", "list", "string", "null"])
def test_what_the_channel_ignores(update: Any) -> None:
    assert inbound_of(update) == (None, None)


def test_a_button_press_without_data_is_answered_but_not_taken_in() -> None:
    pressed = TelegramStandIn(port=0).callback_update(CHAT, "")
    assert inbound_of(pressed) == (None, pressed["callback_query"]["id"])


async def test_send_is_send_message_with_the_buttons_as_an_inline_keyboard(
        standin: TelegramStandIn, transport: TelegramTransport) -> None:
    message_id = await transport.send(str(CHAT), Rendered("Shall I cancel it?", buttons=("Yes, cancel it", "No")))
    [sent] = standin.sent(CHAT)
    assert sent == {"chat_id": CHAT, "text": "Shall I cancel it?", "reply_markup": {"inline_keyboard": [
        [{"text": "Yes, cancel it", "callback_data": "Yes, cancel it"}], [{"text": "No", "callback_data": "No"}]]}}
    assert message_id.isdigit()
    await transport.send(str(CHAT), Rendered("<b>not bold</b> & plain"))
    assert standin.sent(CHAT)[-1] == {"chat_id": CHAT, "text": "<b>not bold</b> & plain"}  # no parse_mode


async def test_the_webhook_is_registered_with_its_secret_token_and_the_updates_it_takes(
        standin: TelegramStandIn) -> None:
    transport = TelegramTransport(standin.token, standin.api, webhook_url="https://support.example.com/channels/"
                                  "telegram/webhook", secret="s3cret_Token-1")
    await transport.start(lambda event: _never(event))
    await transport.close()
    assert standin.webhook == {"url": "https://support.example.com/channels/telegram/webhook",
                               "secret_token": "s3cret_Token-1", "allowed_updates": list(ALLOWED_UPDATES)}


async def _never(event: InboundIm) -> None:
    raise AssertionError(event)


async def test_an_outage_a_rate_limit_or_an_unknown_token_are_worth_trying_again(
        standin: TelegramStandIn, transport: TelegramTransport, caplog: pytest.LogCaptureFixture) -> None:
    standin.down = 503
    with pytest.raises(DeliveryFailed) as failed:
        await transport.send(str(CHAT), Rendered("hello"))
    assert not isinstance(failed.value, DeliveryRefused)
    assert str(failed.value) == "Telegram's Bot API is unavailable (503: Service Unavailable)"
    standin.down, standin.retry_after = None, 17
    with pytest.raises(DeliveryFailed, match=r"too many requests \(retry after 17 s\)") as failed:
        await transport.send(str(CHAT), Rendered("hello"))
    assert not isinstance(failed.value, DeliveryRefused)
    assert failed.value.retry_after == 17  # the outbox waits at least that long
    standin.retry_after = None
    wrong = TelegramTransport("999:not-the-token", standin.api)
    with caplog.at_level(logging.ERROR), pytest.raises(DeliveryFailed, match="does not know the bot's token"):
        await wrong.send(str(CHAT), Rendered("hello"))
    await wrong.close()
    closed = TelegramTransport(standin.token, "http://127.0.0.1:9", timeout=2.0)  # nobody listens
    with pytest.raises(DeliveryFailed, match="could not be reached"):
        await closed.send(str(CHAT), Rendered("hello"))
    await closed.close()
    assert standin.token not in caplog.text and "not-the-token" not in caplog.text


async def test_a_customer_who_blocked_the_bot_is_a_refusal_for_good(
        standin: TelegramStandIn, transport: TelegramTransport) -> None:
    standin.blocked.add(CHAT)
    with pytest.raises(DeliveryRefused, match=r"403: Forbidden: bot was blocked by the user"):
        await transport.send(str(CHAT), Rendered("hello"))
    with pytest.raises(DeliveryRefused, match="400: Bad Request: message text is empty"):
        await transport.send(str(CHAT + 1), Rendered("  "))


async def test_a_pressed_button_is_acknowledged(standin: TelegramStandIn, transport: TelegramTransport) -> None:
    taken: list[InboundIm] = []

    async def deliver(event: InboundIm) -> None:
        taken.append(event)

    await transport.start(deliver)
    pressed = standin.callback_update(CHAT, "No, keep it")
    await transport.take(pressed)
    await transport.close()  # lets the acknowledgement finish
    assert [event.button_payload for event in taken] == ["No, keep it"]
    assert [c.body for c in standin.calls if c.method == "answerCallbackQuery"] == [
        {"callback_query_id": pressed["callback_query"]["id"]}]


async def test_the_bots_token_is_blanked_in_httpx_request_lines(
        standin: TelegramStandIn, transport: TelegramTransport) -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    handler.addFilter(RedactSecrets())
    httpx_logger = logging.getLogger("httpx")
    httpx_logger.addHandler(handler)
    level = httpx_logger.level
    httpx_logger.setLevel(logging.INFO)
    try:
        await transport.send(str(CHAT), Rendered("hello"))
    finally:
        httpx_logger.removeHandler(handler)
        httpx_logger.setLevel(level)
    lines = [record.getMessage() for record in records]
    assert lines and all(standin.token not in line for line in lines)
    assert any("/bot[redacted]/sendMessage" in line for line in lines), lines
    assert redact("GET https://api.telegram.org/bot123456:AAE-x_y/getMe") == ("GET https://api.telegram.org/"
                                                                               "bot[redacted]/getMe")
