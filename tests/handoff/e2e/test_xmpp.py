"""The XMPP channel end to end, in both profiles (production: two instances on one Redis): a real Prosody started
by the test, served instances signed in as the bot's account, the real bot behind them, a customer's own XMPP
account writing. The bot answers, the customer asks for a person, an agent takes over from the console's socket,
the customer reads the agent's words; Prosody restarts mid-conversation and the agent's next reply, retried, arrives
once; a stanza sent twice is stored once. Every behaviour is specified in process, on a fake clock, in
tests/handoff/service/test_im.py (and the transport against Prosody in tests/handoff/adapters/test_xmpp.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from scripts.xmpp_chat import XmppChat
from tests.handoff.e2e.browser import Desk, browsers, expect
from tests.handoff.e2e.conftest import PROFILES
from tests.handoff.e2e.harness import Agent, running_handoff
from tests.handoff.frames import Frame, of_type
from tests.servers import Assistant, running_prosody

BOT, CUSTOMER = ("support", "bot-secret"), ("jane", "jane-secret")


def customer_said(text: str) -> object:
    def match(frame: Frame) -> bool:
        message = frame.get("message") or {}
        return frame.get("type") == "message" and message.get("sender") == "customer" and message.get("text") == text
    return match


@pytest.mark.parametrize("profile", PROFILES)
async def test_a_customer_chats_over_xmpp_with_the_bot_then_an_agent_through_an_outage(
        profile: str, bot: Assistant, tmp_path: Path) -> None:
    with running_prosody(tmp_path, dict([BOT, CUSTOMER])) as prosody:
        env = {"HANDOFF_CHANNELS": "web,xmpp", "HANDOFF_XMPP_JID": prosody.jid(BOT[0]),
               "HANDOFF_XMPP_PASSWORD": BOT[1], "HANDOFF_XMPP_SERVER": f"127.0.0.1:{prosody.config.port}",
               "HANDOFF_XMPP_TLS": "optional"}
        instances = 2 if profile == "production" else 1
        with running_handoff(tmp_path, profile, bot.rasa_url, bot.token, extra_env=env,
                             instances=instances) as servers:
            agent = await Agent.sign_in(servers[-1], "ada")
            console = await agent.connect()
            await console.next(of_type("hello"))
            customer = XmppChat(prosody.jid(CUSTOMER[0]), CUSTOMER[1], prosody.server)
            await customer.connect()
            customer.say(prosody.jid(BOT[0]), "hello")
            assert await customer.next(timeout=90)  # the real bot's greeting

            customer.say(prosody.jid(BOT[0]), "I want to talk to a human please")
            assigned = await console.next(of_type("assigned"), timeout=90)
            conversation_id = assigned["conversation"]["conversation_id"]
            assert assigned["conversation"]["channel"] == "xmpp"
            await agent.say(console, conversation_id, "Hi Jane, Ada here. Let me look at your order.")
            assert "Ada here. Let me look at your order." in await customer.next("Ada here", timeout=60)

            # the same stanza twice (a client resending after a lost connection): stored once
            customer.say(prosody.jid(BOT[0]), "My order is 12345", stanza_id="resent-1")
            customer.say(prosody.jid(BOT[0]), "My order is 12345", stanza_id="resent-1")
            customer.say(prosody.jid(BOT[0]), "It has not arrived", stanza_id="after-1")
            await console.seen(customer_said("It has not arrived"), timeout=60)
            assert sum(1 for frame in console.frames if customer_said("My order is 12345")(frame)) == 1

            # Prosody restarts: the agent's reply meanwhile is retried, the agent sees it, it arrives once
            await customer.close()
            prosody.stop()
            await agent.say(console, conversation_id, "Found it: it ships tomorrow.")
            retrying = await console.next(of_type("delivery", status="retrying", conversation_id=conversation_id),
                                          timeout=30)
            assert retrying["channel"] == "xmpp" and "not connected" in retrying["error"]
            prosody.restart()
            await console.next(of_type("delivery", status="sent", conversation_id=conversation_id), timeout=90)
            customer = XmppChat(prosody.jid(CUSTOMER[0]), CUSTOMER[1], prosody.server)
            await customer.connect()  # the server kept it while the customer was away
            assert "Found it: it ships tomorrow." in await customer.next("ships tomorrow", timeout=30)
            await asyncio.sleep(3)
            later = [customer.received.get_nowait() for _ in range(customer.received.qsize())]
            assert not [body for body in later if "ships tomorrow" in body]  # once
            await customer.close()
            await console.close()
            holders = [s for s in servers if "this instance holds the session" in s.log.read_text()]
            assert len(holders) == 1  # one XMPP session for the deployment


async def test_browser_the_console_shows_the_xmpp_channel_and_the_delivery(bot: Assistant, tmp_path: Path) -> None:
    with running_prosody(tmp_path, dict([BOT, CUSTOMER])) as prosody:
        env = {"HANDOFF_CHANNELS": "web,xmpp", "HANDOFF_XMPP_JID": prosody.jid(BOT[0]),
               "HANDOFF_XMPP_PASSWORD": BOT[1], "HANDOFF_XMPP_SERVER": f"127.0.0.1:{prosody.config.port}",
               "HANDOFF_XMPP_TLS": "optional"}
        with running_handoff(tmp_path, "embedded", bot.rasa_url, bot.token, extra_env=env) as [server]:
            async with browsers(tmp_path) as open_browser:
                desk = Desk(await open_browser.open("grace"), server.url)
                await desk.sign_in("grace")
                customer = XmppChat(prosody.jid(CUSTOMER[0]), CUSTOMER[1], prosody.server)
                await customer.connect()
                customer.say(prosody.jid(BOT[0]), "<b>I want to talk to a human</b>")

                mine = desk.page.get_by_test_id("mine-item")
                await expect(mine).to_have_count(1, timeout=90_000)
                await expect(mine.locator(".badge.channel")).to_have_text("Xmpp")
                await expect(desk.page.locator("#conv-meta")).to_contain_text("XMPP")
                await expect(desk.transcript).to_contain_text("<b>I want to talk to a human</b>")  # inert text
                await desk.reply("Hello, Grace here.")
                await expect(desk.transcript.get_by_test_id("delivery")).to_have_text("Sent by XMPP.")
                assert "Grace here." in await customer.next("Grace here", timeout=30)
                await customer.close()
                assert not desk.actor.page_errors and not desk.refused
