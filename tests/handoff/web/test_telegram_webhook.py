"""The Telegram channel in process, on both profiles: Telegram's webhook route (``POST /channels/telegram/webhook``)
on the application, the real transport talking to the local stand-in of the Bot API (a real HTTP server), the IM
core behind them, a fake clock. The secret token checked before the body is read; an update taken once however
often it is sent; the bot's buttons an inline keyboard and a press the button; an agent's reply through an outage,
retried and shown; a customer who blocked the bot given up and shown; a database outage answered 503 so that
Telegram sends the update again. End to end with the real bot: tests/handoff/e2e/test_telegram.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from starlette.datastructures import Secret

from handoff.adapters.telegram import TelegramTransport
from handoff.service import HandoffService
from handoff.settings import HandoffSettings
from handoff.web.app import create_app
from tests.handoff.conftest import OpenService
from tests.handoff.frames import of_type
from tests.handoff.proxy import Proxy
from tests.handoff.telegram_standin import TelegramStandIn, running_standin
from tests.handoff.world import Agent, FakeClock, FakeRasa

SECRET = "webhook-Secret_0123456789"
JANE = 5550001
URL = "/channels/telegram/webhook"


@dataclass
class Telegram:
    service: HandoffService
    client: httpx.AsyncClient
    standin: TelegramStandIn

    async def post(self, update: Any, secret: str | None = SECRET, content: bytes | None = None) -> httpx.Response:
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        if content is not None:
            return await self.client.post(URL, content=content, headers=headers)
        return await self.client.post(URL, json=update, headers=headers)

    async def settled(self) -> None:
        assert self.service.im is not None
        await self.service.im.settle()

    async def history(self, conversation_id: str) -> list[tuple[str, str]]:
        return [(m.sender, m.text) for m in await self.service.customers.history(conversation_id)]

    async def conversation(self) -> str:
        conversation_id = await self.service._log.im.conversation_of("telegram", str(JANE))
        assert conversation_id is not None
        return str(conversation_id)


def telegram_options(standin: TelegramStandIn) -> dict[str, Any]:
    return {"channels": ("web", "telegram"), "telegram_token": Secret(standin.token),
            "telegram_secret": Secret(SECRET),
            "im_transports": {"telegram": TelegramTransport(standin.token, standin.api, timeout=5.0)}}


async def with_ada(telegram: Telegram) -> tuple[Agent, str]:
    """Jane asks for a person on Telegram and Ada (signed in) gets the conversation."""
    agent = await Agent.sign_in(telegram.service, "ada")
    await telegram.post(telegram.standin.message_update(JANE, "I want to talk to a person"))
    await agent.inbox.next(of_type("assigned"))
    await telegram.settled()
    return agent, await telegram.conversation()


@pytest.fixture
async def standin() -> AsyncIterator[TelegramStandIn]:
    async with running_standin() as server:
        yield server


@pytest.fixture
async def served(open_service: OpenService, standin: TelegramStandIn
                 ) -> AsyncIterator[Callable[..., Any]]:
    """Opens a service with the Telegram channel (or other ``options``) and its application, in process."""
    clients: list[httpx.AsyncClient] = []
    contexts: list[Any] = []

    async def serve(**options: Any) -> Telegram:
        service = await open_service(**{**telegram_options(standin), **options})

        async def opener(settings: HandoffSettings) -> HandoffService:
            return service

        app = create_app(service.settings, opener)
        context = app.router.lifespan_context(app)
        await context.__aenter__()
        contexts.append(context)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://handoff.test")
        clients.append(client)
        return Telegram(service, client, standin)

    yield serve
    for client in clients:
        await client.aclose()
    for context in contexts:
        await context.__aexit__(None, None, None)


@pytest.fixture
async def telegram(served: Callable[..., Any]) -> Telegram:
    return await served()  # type: ignore[no-any-return]


async def test_the_secret_token_is_checked_before_the_body_is_read(telegram: Telegram) -> None:
    update = telegram.standin.message_update(JANE, "hello")
    for secret in (None, "", "wrong", SECRET[:-1], SECRET + "x"):
        response = await telegram.post(update, secret=secret, content=b"{not json")
        assert response.status_code == 401, secret
        assert response.json()["error"]["code"] == "not_authenticated"
    assert (await telegram.post(None, content=b"{not json")).status_code == 400
    assert (await telegram.post(update, secret=None)).status_code == 401
    assert await telegram.service._log.im.conversation_of("telegram", str(JANE)) is None


async def test_a_service_without_the_channel_has_no_webhook(served: Callable[..., Any]) -> None:
    telegram = await served(channels=("web",), im_transports=None)
    response = await telegram.post(telegram.standin.message_update(JANE, "hello"))
    assert response.status_code == 404


async def test_an_update_sent_again_is_taken_once(telegram: Telegram, rasa: FakeRasa) -> None:
    update = telegram.standin.message_update(JANE, "hello", first_name="Jane")
    for _ in range(3):  # Telegram sends it again when it did not hear the 200
        assert (await telegram.post(update)).status_code == 200
    await telegram.settled()
    conversation_id = await telegram.conversation()
    record = await telegram.service.customers.get(conversation_id)
    assert (record.channel, record.customer_name) == ("telegram", "Jane")
    assert await telegram.history(conversation_id) == [("customer", "hello"),
                                                       ("bot", "I can help with orders, shipping and returns.")]
    assert len(rasa.heard) == 1
    assert [body["text"] for body in telegram.standin.sent(JANE)] == ["I can help with orders, shipping and returns."]


async def test_the_bots_buttons_are_an_inline_keyboard_and_a_press_is_the_button(
        telegram: Telegram, rasa: FakeRasa) -> None:
    rasa.replies_to["my order"] = [{"text": "Shall I cancel order 23456?", "buttons": [
        {"title": "Yes, cancel it", "payload": "/affirm"}, {"title": "No, keep it", "payload": "/deny"}]}]
    assert (await telegram.post(telegram.standin.message_update(JANE, "my order"))).status_code == 200
    await telegram.settled()
    [offer] = telegram.standin.sent(JANE)
    assert offer["text"] == "Shall I cancel order 23456?"
    assert offer["reply_markup"] == {"inline_keyboard": [
        [{"text": "Yes, cancel it", "callback_data": "Yes, cancel it"}],
        [{"text": "No, keep it", "callback_data": "No, keep it"}]]}
    pressed = telegram.standin.callback_update(JANE, "No, keep it", offer)
    assert (await telegram.post(pressed)).status_code == 200
    assert (await telegram.post(pressed)).status_code == 200  # sent again: taken once
    await telegram.settled()
    assert rasa.heard[-1][1] == "/deny"  # the bot is told the payload
    conversation_id = await telegram.conversation()
    assert (await telegram.history(conversation_id))[2] == ("customer", "No, keep it")  # the agent reads the title
    assert sum(1 for m in await telegram.history(conversation_id) if m == ("customer", "No, keep it")) == 1
    answered = await telegram.standin.calls_of("answerCallbackQuery")
    assert {"callback_query_id": pressed["callback_query"]["id"]} in answered


async def test_group_chats_edits_and_other_updates_are_acknowledged_and_ignored(telegram: Telegram) -> None:
    standin = telegram.standin
    group = standin.message_update(-100123, "hello all", chat_type="group")
    edited = standin.message_update(JANE, "edited")
    edited["edited_message"] = edited.pop("message")
    for update in (group, edited, {"update_id": 77, "poll": {"id": "1"}}, {"no": "update"}, [1, 2]):
        assert (await telegram.post(update)).status_code == 200
    await telegram.settled()
    assert await telegram.service._log.im.conversation_of("telegram", str(JANE)) is None
    assert await telegram.service._log.im.conversation_of("telegram", "-100123") is None
    assert standin.sent() == []


async def test_an_agents_reply_through_an_outage_is_retried_shown_and_sent_once(
        telegram: Telegram, clock: FakeClock) -> None:
    service, standin = telegram.service, telegram.standin
    agent, conversation_id = await with_ada(telegram)
    standin.down = 503
    await agent.say(conversation_id, "Your refund is on its way.")
    await telegram.settled()
    retrying = await agent.inbox.next(of_type("delivery", status="retrying", conversation_id=conversation_id,
                                              channel="telegram"))
    assert retrying["error"] == "Telegram's Bot API is unavailable (503: Service Unavailable)"
    assert retrying["next_try"] == clock() + 5.0
    standin.down, standin.retry_after = None, 30
    clock.advance(5)
    await service.sweep()
    limited = await agent.inbox.next(of_type("delivery", status="retrying", conversation_id=conversation_id))
    assert "retry after 30 s" in limited["error"] and limited["next_try"] == clock() + 30.0  # not the 10 s due
    standin.retry_after = None
    clock.advance(29)
    await service.sweep()
    assert "Ada Lovelace: Your refund is on its way." not in [body["text"] for body in standin.sent(JANE)]
    clock.advance(1)
    await service.sweep()
    await agent.inbox.next(of_type("delivery", status="sent", conversation_id=conversation_id))
    clock.advance(600)
    await service.sweep()
    texts = [body["text"] for body in standin.sent(JANE)]
    assert texts.count("Ada Lovelace: Your refund is on its way.") == 1


async def test_a_customer_who_blocked_the_bot_is_given_up_and_the_agent_told(
        telegram: Telegram, clock: FakeClock) -> None:
    service, standin = telegram.service, telegram.standin
    agent, conversation_id = await with_ada(telegram)
    standin.blocked.add(JANE)
    await agent.say(conversation_id, "Are you still there?")
    await telegram.settled()
    failed = await agent.inbox.next(of_type("delivery", status="failed", conversation_id=conversation_id))
    assert failed["error"] == "Telegram refused the message (403: Forbidden: bot was blocked by the user)"
    assert failed["next_try"] is None
    tries = len([c for c in standin.calls if c.method == "sendMessage"])
    clock.advance(3600)
    await service.sweep()
    assert len([c for c in standin.calls if c.method == "sendMessage"]) == tries  # not tried again


@pytest.mark.parametrize("profile", ["production"])  # a database on the network that can go away
async def test_an_update_that_cannot_be_kept_is_answered_503_and_taken_when_sent_again(
        served: Callable[..., Any], database_url: str) -> None:
    proxy = await Proxy("127.0.0.1", 5432).start()
    try:
        parts = urlsplit(database_url)
        telegram = await served(database_url=urlunsplit(parts._replace(
            netloc=f"{parts.username}@127.0.0.1:{proxy.port}")))
        update = telegram.standin.message_update(JANE, "hello")
        proxy.cut()
        assert (await telegram.post(update)).status_code == 503  # Telegram sends it again later
        proxy.restore()
        assert (await telegram.post(update)).status_code == 200
        assert (await telegram.post(update)).status_code == 200
        await telegram.settled()
        conversation_id = await telegram.conversation()
        assert [m for m in await telegram.history(conversation_id) if m[0] == "customer"] == [("customer", "hello")]
    finally:
        await proxy.close()
