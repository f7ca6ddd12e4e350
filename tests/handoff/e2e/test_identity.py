"""Customer identity across channels end to end, in both profiles: a served instance with its SMTP listener, the
local mail catcher of ``make run`` (aiosmtpd filing what the service sends as a Maildir) as its relay, and real
clients. A customer the shop signed in on the widget has a ticket, links an e-mail address with the code mailed
to it, then writes from that address by SMTP: the conversation is hers, with her value tier, her past ticket and
her last agent; mail from an unverified address stays a customer of its own. Every rule is specified in process,
on a fake clock, in tests/handoff/service/test_identities.py. No bot runs: each conversation goes to a person
(``bot_unavailable``), which is what routing needs."""

from __future__ import annotations

import asyncio
import mailbox
import re
import smtplib
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import httpx
import pytest

from handoff.service.auth import widget_signature
from tests.conftest import ROOT
from tests.handoff.e2e.browser import Desk, Shopper, browsers, expect
from tests.handoff.e2e.conftest import PROFILES
from tests.handoff.e2e.harness import Agent, Customer, running_handoff
from tests.handoff.e2e.test_browser import SIGNED_IN_PAGE
from tests.handoff.service.mail_relay import free_port

SHOP = "e2e-shop"
ADDRESS = "maria.private@example.org"
WAIT = 30.0


@contextmanager
def local_catcher(folder: Path) -> Iterator[int]:
    """``make run``'s catcher (scripts/run.py): aiosmtpd's Mailbox handler on a free loopback port."""
    port = free_port()
    process = subprocess.Popen([str(ROOT / ".venv/app/bin/python"), "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
                                "-c", "aiosmtpd.handlers.Mailbox", str(folder)], cwd=ROOT)
    try:
        deadline = time.monotonic() + WAIT
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the local mail catcher (aiosmtpd) did not start") from None
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


async def caught_code(folder: Path, address: str) -> str:
    """The code of the verification mail the catcher filed for ``address``."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if folder.joinpath("new").is_dir():
            for message in mailbox.Maildir(folder, create=False):
                if message["To"] == address and message["Subject"] == "Your verification code":
                    body = message.get_payload(decode=True)
                    found = re.search(rb"\b([A-Z2-9]{8})\b", body if isinstance(body, bytes) else b"")
                    if found:
                        return found.group(1).decode()
        await asyncio.sleep(0.2)
    raise AssertionError(f"no verification mail for {address} reached the catcher")


async def send(listen: int, sender: str, text: str) -> None:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, "support@shop.test", "My order"
    mail["Message-ID"] = make_msgid(domain="example.org")
    mail.set_content(text)

    def deliver() -> None:
        with smtplib.SMTP("127.0.0.1", listen, timeout=30) as smtp:
            smtp.send_message(mail)
    await asyncio.to_thread(deliver)


async def assigned(agents: list[Agent], channel: str, seen: set[str]) -> tuple[Agent, dict[str, Any]]:
    """The agent a new conversation of ``channel`` went to, and its detail (as the console reads it)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        for agent in agents:
            async with agent.http() as http:
                for summary in (await http.get("/api/agent/conversations")).json()["conversations"]:
                    if summary["channel"] == channel and summary["conversation_id"] not in seen:
                        seen.add(summary["conversation_id"])
                        detail = await http.get(f"/api/agent/conversations/{summary['conversation_id']}")
                        return agent, {**detail.json(), "summary": summary}
        await asyncio.sleep(0.2)
    raise AssertionError(f"no {channel} conversation was assigned")


@pytest.mark.parametrize("profile", PROFILES)
async def test_a_verified_address_makes_her_mail_hers_and_an_unverified_one_stays_apart(profile: str,
                                                                                       tmp_path: Path) -> None:
    outbox = tmp_path / "mail-out"
    with local_catcher(outbox) as catcher:
        listen = free_port()
        env = {"HANDOFF_CHANNELS": "web,email", "HANDOFF_MAIL_PORT": str(listen),
               "HANDOFF_MAIL_ADDRESS": "support@shop.test", "HANDOFF_SMTP_HOST": "127.0.0.1",
               "HANDOFF_SMTP_PORT": str(catcher), "HANDOFF_MAIL_ATTACHMENTS": str(tmp_path / "mail"),
               "HANDOFF_WIDGET_SECRET": SHOP}
        with running_handoff(tmp_path, profile, "http://127.0.0.1:9", "unused-token", extra_env=env) as [server]:
            agents = [await Agent.sign_in(server, "ada"), await Agent.sign_in(server, "grace")]
            seen: set[str] = set()
            expires = int(time.time()) + 3600
            maria = await Customer.start(server, external_id="shop-1001", expires=expires,
                                         signature=widget_signature(SHOP, "shop-1001", expires))
            widget = await maria.connect()
            await widget.next(lambda f: f.get("type") == "hello")
            await maria.say(widget, "I need a person about my order")
            first_agent, first = await assigned(agents, "web", seen)
            async with first_agent.http() as http:
                resolved = await http.post(f"/api/agent/conversations/{first['conversation_id']}/resolve")
                assert resolved.status_code == 200, resolved.text

            async with maria_http(server.url, maria.token) as http:
                base = f"/api/conversations/{maria.conversation_id}/identities"
                asked = await http.post(base + "/email", json={"address": ADDRESS})
                assert asked.status_code == 202, asked.text
                code = await caught_code(outbox, ADDRESS)
                wrong = await http.post(base + "/email/confirm", json={"address": ADDRESS, "code": "ABCDEFGH"})
                assert wrong.status_code == 400
                confirmed = await http.post(base + "/email/confirm", json={"address": ADDRESS, "code": code})
                assert confirmed.status_code == 200, confirmed.text
                listed = (await http.get(base)).json()
                assert [(i["channel"], i["address"], i["verified_by"]) for i in listed["identities"]] == [
                    ("email", ADDRESS, "email_verified")]

            await send(listen, f"Maria <{ADDRESS}>", "Hello, I want to talk to a person about my order.")
            agent, hers = await assigned(agents, "email", seen)
            assert hers["customer"]["id"] == first["customer"]["id"]
            assert (hers["customer"]["name"], hers["customer"]["value_tier"]) == ("Maria Jensen", "vip")
            assert hers["summary"]["customer"]["value_tier"] == "vip"  # routing's profile: hers
            assert agent is first_agent  # sticky: her last agent, from the widget
            assert [(t["channel"], t["id"]) for t in hers["past_tickets"]] == [("web", first["ticket"]["id"])]
            assert [(i["address"], i["verified_by"]) for i in hers["identities"]] == [(ADDRESS, "email_verified")]

            await send(listen, "Someone <someone@example.org>", "Hello, I want to talk to a person about an order.")
            _, stranger = await assigned(agents, "email", seen)
            assert stranger["customer"]["id"] != first["customer"]["id"]
            assert stranger["customer"]["value_tier"] == "standard" and stranger["identities"] == []
            assert stranger["past_tickets"] == []


def maria_http(url: str, token: str) -> httpx.AsyncClient:
    """The widget's REST client: the conversation's token as a bearer token."""
    return httpx.AsyncClient(base_url=url, timeout=WAIT, headers={"Authorization": f"Bearer {token}"})


async def test_browser_the_customer_panel_shows_the_linked_identities_as_text(tmp_path: Path) -> None:
    """An agent's console lists the customer's links (channel, address, how verified), read only, as text."""
    hostile = "<img/src=x/onerror=document.title='owned'>"
    with running_handoff(tmp_path, "embedded", "http://127.0.0.1:9", "unused-token",
                         extra_env={"HANDOFF_WIDGET_SECRET": SHOP}) as [server]:
        async with browsers(tmp_path) as open_browser:
            desk = Desk(await open_browser.open("grace"), server.url)
            await desk.sign_in("grace")
            expires, claims = int(time.time()) + 3600, f"email:{ADDRESS} telegram:{hostile}"
            maria = await Customer.start(server, external_id="shop-1001", expires=expires, identities=claims,
                                         signature=widget_signature(SHOP, "shop-1001", expires, claims))
            widget = await maria.connect()
            await widget.next(lambda f: f.get("type") == "hello")
            await maria.say(widget, "I need a person please")
            await expect(desk.page.get_by_test_id("mine-item")).to_have_count(1)
            identities = desk.page.get_by_test_id("identity")
            await expect(identities).to_have_count(2)
            await expect(identities.nth(0)).to_contain_text(f"E-mail {ADDRESS}")
            await expect(identities.nth(0)).to_contain_text("the shop says so")
            await expect(identities.nth(1)).to_contain_text(hostile)  # shown as the text it is
            assert await desk.page.title() != "owned" and await desk.page.locator("#identities img").count() == 0
            assert not desk.actor.page_errors and not desk.refused
            await widget.close()


async def test_browser_a_signed_in_customer_links_an_address_and_a_chat_app_in_the_widget(tmp_path: Path) -> None:
    """On the shop's page, signed in by the shop: the widget's accounts view mails a code to the address (through
    the local catcher), takes it back, lists the link, gives a chat-app code, and removes the link."""
    outbox = tmp_path / "mail-out"
    with local_catcher(outbox) as catcher:
        env = {"HANDOFF_CHANNELS": "web,email", "HANDOFF_MAIL_PORT": str(free_port()),
               "HANDOFF_MAIL_ADDRESS": "support@shop.test", "HANDOFF_SMTP_HOST": "127.0.0.1",
               "HANDOFF_SMTP_PORT": str(catcher), "HANDOFF_WIDGET_SECRET": SHOP}
        with running_handoff(tmp_path, "embedded", "http://127.0.0.1:9", "unused-token", extra_env=env) as [server]:
            async with browsers(tmp_path) as open_browser:
                shop = Shopper(await open_browser.open("customer"), server.url)
                await shop.page.add_init_script(SIGNED_IN_PAGE)
                expires = int(time.time()) + 600
                signature = widget_signature(SHOP, "shop-1001", expires)
                await shop.page.goto(f"{server.url}/?external_id=shop-1001&expires={expires}&signature={signature}")
                page = shop.page
                await page.get_by_test_id("bw-launcher").click()
                await page.get_by_test_id("bw-accounts-toggle").click()
                await expect(page.get_by_test_id("bw-identities")).to_contain_text("None yet.")
                await page.get_by_test_id("bw-email").fill(ADDRESS)
                await page.get_by_test_id("bw-email-send").click()
                await expect(page.get_by_test_id("bw-accounts-hint")).to_contain_text(f"We sent a code to {ADDRESS}")
                await page.get_by_test_id("bw-code").fill("ABCDEFGH")
                await page.get_by_test_id("bw-code-send").click()
                await expect(page.get_by_test_id("bw-accounts-hint")).to_contain_text("not right")
                await page.get_by_test_id("bw-code").fill(await caught_code(outbox, ADDRESS))
                await page.get_by_test_id("bw-code-send").click()
                await expect(page.get_by_test_id("bw-accounts-hint")).to_contain_text(f"{ADDRESS} is linked")
                await expect(page.get_by_test_id("bw-identity")).to_have_count(1)
                await expect(page.get_by_test_id("bw-identity")).to_contain_text(f"E-mail: {ADDRESS}verified")
                await page.get_by_test_id("bw-link-code").click()
                await expect(page.get_by_test_id("bw-accounts-hint")).to_contain_text(re.compile(r"link [A-Z2-9]{8}"))
                await page.get_by_role("button", name=f"Remove {ADDRESS}").click()
                await expect(page.get_by_test_id("bw-accounts-hint")).to_have_text("Removed.")
                await expect(page.get_by_test_id("bw-identities")).to_contain_text("None yet.")
                shop.actor.check_clean()
