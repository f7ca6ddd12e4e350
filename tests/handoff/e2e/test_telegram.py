"""The Telegram channel end to end, in both profiles (production: two instances on one Redis and one PostgreSQL,
updates spread over them as a load balancer would): the local stand-in of the Bot API (a real HTTP server,
tests/handoff/telegram_standin.py) plays Telegram, POSTing a customer's updates to the served instances' webhook
with the secret token, the real bot behind them. The bot answers; its buttons come as an inline keyboard and a
pressed button is the bot's answer; the customer asks for a person and an agent's words from the console's socket
reach the chat; an update Telegram sends again (to the other instance) is stored once; the Bot API's outage holds
the agent's next reply, which is retried, shown to the agent, and arrives once after the recovery. Every behaviour
is specified in process, on a fake clock, in tests/handoff/web/test_telegram_webhook.py."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.handoff.e2e.conftest import PROFILES
from tests.handoff.e2e.harness import Agent, running_handoff
from tests.handoff.e2e.test_xmpp import customer_said
from tests.handoff.frames import of_type
from tests.handoff.telegram_standin import TelegramStandIn, running_standin
from tests.servers import Assistant

SECRET = "e2e-webhook_secret-0123456789"
JANE = 777000123


class Balancer:
    """Telegram's webhook behind a load balancer: each update to the next instance in turn."""

    def __init__(self, standin: TelegramStandIn, urls: list[str]) -> None:
        self.standin, self.urls, self.turn = standin, urls, 0

    async def deliver(self, update: dict[str, Any]) -> None:
        url = self.urls[self.turn % len(self.urls)]
        self.turn += 1
        await self.standin.deliver(update, f"{url}/channels/telegram/webhook")

    async def says(self, text: str) -> None:
        await self.deliver(self.standin.message_update(JANE, text, first_name="Jane"))


@pytest.mark.parametrize("profile", PROFILES)
async def test_a_customer_chats_on_telegram_with_the_bot_and_its_buttons_then_an_agent_through_an_outage(
        profile: str, bot: Assistant, tmp_path: Path) -> None:
    async with running_standin(secret_token=SECRET) as standin:
        env = {"HANDOFF_CHANNELS": "web,telegram", "HANDOFF_TELEGRAM_TOKEN": standin.token,
               "HANDOFF_TELEGRAM_SECRET": SECRET, "HANDOFF_TELEGRAM_API": standin.api}
        instances = 2 if profile == "production" else 1
        with running_handoff(tmp_path, profile, bot.rasa_url, bot.token, extra_env=env,
                             instances=instances) as servers:
            telegram = Balancer(standin, [server.url for server in servers])
            agent = await Agent.sign_in(servers[-1], "ada")
            console = await agent.connect()
            await console.next(of_type("hello"))

            await telegram.says("hello")
            assert (await standin.next_sent(JANE, timeout=90))["text"]  # the real bot's greeting

            # the bot's buttons: an inline keyboard; a press is the button
            seen = len(standin.sent(JANE))
            await telegram.says("I want to cancel my order 23456")
            asked = await standin.next_sent(JANE, after=seen, timeout=60)
            if "order number" in asked["text"]:
                seen = len(standin.sent(JANE))
                await telegram.says("23456")
                asked = await standin.next_sent(JANE, after=seen, timeout=60)
            assert "e-mail address or the postcode" in asked["text"], asked
            await telegram.says("tom.okafor@example.com")
            offer = await standin.next_sent(JANE, "Shall I cancel it now?", timeout=60)
            assert offer["reply_markup"] == {"inline_keyboard": [
                [{"text": "Yes, cancel it", "callback_data": "Yes, cancel it"}],
                [{"text": "No, keep it", "callback_data": "No, keep it"}]]}
            pressed = standin.callback_update(JANE, "No, keep it", offer)
            await telegram.deliver(pressed)
            assert "order 23456 stays as it is" in (await standin.next_sent(JANE, "stays as it is", timeout=60))["text"]
            assert await standin.calls_of("answerCallbackQuery") == [
                {"callback_query_id": pressed["callback_query"]["id"]}]

            # a person, from the console's socket
            await telegram.says("I want to talk to a human please")
            assigned = await console.next(of_type("assigned"), timeout=90)
            conversation_id = assigned["conversation"]["conversation_id"]
            assert assigned["conversation"]["channel"] == "telegram"
            await agent.say(console, conversation_id, "Hi Jane, Ada here. Let me look at your order.")
            reply = await standin.next_sent(JANE, "Ada here", timeout=60)
            assert reply["text"] == "Ada Lovelace: Hi Jane, Ada here. Let me look at your order."

            # Telegram sends an update again (it did not hear the first 200), to the other instance: stored once
            again = standin.message_update(JANE, "My order is 23456")
            await telegram.deliver(again)
            await telegram.deliver(again)
            await telegram.says("It has not arrived")
            await console.seen(customer_said("It has not arrived"), timeout=60)
            assert sum(1 for frame in console.frames if customer_said("My order is 23456")(frame)) == 1

            # the Bot API is down: the agent's reply is retried with back-off, shown, and arrives once
            standin.down = 503
            await agent.say(console, conversation_id, "Found it: it ships tomorrow.")
            retrying = await console.next(of_type("delivery", status="retrying", conversation_id=conversation_id),
                                          timeout=30)
            assert retrying["channel"] == "telegram" and "unavailable (503" in retrying["error"]
            standin.down = None
            await console.next(of_type("delivery", status="sent", conversation_id=conversation_id), timeout=90)
            assert "ships tomorrow" in (await standin.next_sent(JANE, "ships tomorrow", timeout=30))["text"]
            await asyncio.sleep(3)
            assert sum(1 for body in standin.sent(JANE) if "ships tomorrow" in body["text"]) == 1
            await console.close()
            for server in servers:
                assert standin.token not in server.log.read_text()  # the bot's token in no log line
