"""The e-mail channel end to end, in both profiles: a served instance with its SMTP listener, the real bot behind
it and a real SMTP relay (aiosmtpd) catching what it sends. A customer e-mails asking for a person, an agent
answers from the console's socket, and the answer arrives by SMTP threaded under the customer's mail. Every
behaviour is specified in process, on a fake clock, in tests/handoff/service/test_mail.py."""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest

from tests.handoff.e2e.browser import Desk, browsers, expect
from tests.handoff.e2e.conftest import PROFILES
from tests.handoff.e2e.harness import Agent, running_handoff
from tests.handoff.frames import of_type
from tests.handoff.service.mail_relay import CatchingRelay, free_port
from tests.servers import Assistant


def mail_env(relay: CatchingRelay, tmp_path: Path) -> tuple[int, dict[str, str]]:
    """A free port for the listener, and the served instance's e-mail settings."""
    listen = free_port()
    return listen, {"HANDOFF_CHANNELS": "web,email", "HANDOFF_MAIL_PORT": str(listen),
                    "HANDOFF_MAIL_ADDRESS": "support@shop.test", "HANDOFF_SMTP_HOST": "127.0.0.1",
                    "HANDOFF_SMTP_PORT": str(relay.port), "HANDOFF_MAIL_ATTACHMENTS": str(tmp_path / "mail")}


async def send(listen: int, mail: EmailMessage) -> None:
    def deliver() -> None:
        with smtplib.SMTP("127.0.0.1", listen, timeout=30) as smtp:
            smtp.send_message(mail)
    await asyncio.to_thread(deliver)


@pytest.mark.parametrize("profile", PROFILES)
async def test_a_customer_emails_and_the_agents_answer_arrives_threaded(profile: str, bot: Assistant,
                                                                        relay: CatchingRelay,
                                                                        tmp_path: Path) -> None:
    listen, env = mail_env(relay, tmp_path)
    with running_handoff(tmp_path, profile, bot.rasa_url, bot.token, extra_env=env) as [server]:
        agent = await Agent.sign_in(server, "ada")
        console = await agent.connect()
        await console.next(of_type("hello"))
        mail = EmailMessage()
        mail["From"], mail["To"] = "Jane Doe <jane.doe@example.org>", "support@shop.test"
        mail["Subject"], mail["Message-ID"] = "My order", make_msgid(domain="example.org")
        mail.set_content("Hello, I want to talk to a human about my order please.\n\nJane\n")
        await send(listen, mail)

        assigned = await console.next(of_type("assigned"), timeout=60)
        summary = assigned["conversation"]
        assert (summary["channel"], summary["customer"]["email"]) == ("email", "jane.doe@example.org")
        await agent.say(console, summary["conversation_id"], "Hi Jane, I'm looking at your order now.")
        await console.seen(of_type("delivery", status="sent"), timeout=30)
        [answer] = await relay.wait_for(1, timeout=30)
        assert relay.recipients == [["jane.doe@example.org"]]
        assert answer["In-Reply-To"] == mail["Message-ID"] and answer["References"] == mail["Message-ID"]
        assert answer["Subject"] == "Re: My order" and answer["Message-ID"].endswith("@shop.test>")
        assert answer.get_content().startswith("Hi Jane, I'm looking at your order now.")
        await console.close()


async def test_browser_the_console_shows_the_channel_the_attachment_and_the_delivery(bot: Assistant,
                                                                                    relay: CatchingRelay,
                                                                                    tmp_path: Path) -> None:
    listen, env = mail_env(relay, tmp_path)
    with running_handoff(tmp_path, "embedded", bot.rasa_url, bot.token, extra_env=env) as [server]:
        async with browsers(tmp_path) as open_browser:
            desk = Desk(await open_browser.open("grace"), server.url)
            await desk.sign_in("grace")
            mail = EmailMessage()
            mail["From"], mail["To"] = "Anna <anna@example.org>", "support@shop.test"
            mail["Subject"], mail["Message-ID"] = "Broken vase", make_msgid(domain="example.org")
            mail.set_content("The vase arrived broken, I want to talk to a human.\n")
            mail.add_attachment(b"%PDF-1.4 invoice", maintype="application", subtype="pdf", filename="invoice.pdf")
            await send(listen, mail)

            mine = desk.page.get_by_test_id("mine-item")
            await expect(mine).to_have_count(1)
            await expect(mine.locator(".badge.channel")).to_have_text("Email")
            await expect(desk.page.locator("#conv-meta")).to_contain_text("E-mail")
            link = desk.transcript.get_by_test_id("attachment").locator("a")
            await expect(link).to_have_text("invoice.pdf (16 bytes)")
            download = await desk.page.request.get(server.url + str(await link.get_attribute("href")))
            assert download.ok and await download.body() == b"%PDF-1.4 invoice"

            await desk.reply("Sorry Anna, a new vase is on its way.")
            await expect(desk.transcript.get_by_test_id("delivery")).to_have_text("Sent by e-mail.")
            [answer] = await relay.wait_for(1, timeout=30)
            assert answer["In-Reply-To"] == mail["Message-ID"]
            assert not desk.actor.page_errors and not desk.refused
