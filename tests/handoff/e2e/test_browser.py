"""The real widget and console in headless Chromium, against the real service and bot, in both profiles.

A customer on the demo shop talks to the bot through the widget and asks for a person; an agent in the
console gets the conversation, answers and resolves; what customers type stays text; the widget and the
console survive reloads and dropped sockets without losing or doubling a message.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from handoff.service.auth import widget_signature
from tests.handoff.e2e.browser import Desk, Shopper, SocketTap, browsers, eventually, expect, texts_of
from tests.handoff.e2e.harness import Agent, HandoffServer, running_handoff
from tests.servers import Assistant

HUMAN = "I want to talk to a human"


async def test_browser_customer_reaches_an_agent_who_replies_and_resolves(server: HandoffServer,
                                                                          tmp_path: Path) -> None:
    async with browsers(tmp_path) as open_browser:
        desk = Desk(await open_browser.open("grace"), server.url)
        await desk.sign_in("grace")
        shop = Shopper(await open_browser.open("customer"), server.url)
        await shop.visit()
        await shop.say("how much does shipping cost?")
        await expect(shop.said_by("bot").first).to_contain_text(re.compile(r"\$|deliver|ship", re.I))
        await expect(shop.state).to_have_text("Assistant")

        await shop.say(HUMAN)
        await expect(shop.state).to_have_text("Grace Hopper (agent)")
        await expect(shop.said_by("system").filter(has_text="Grace Hopper has joined")).to_have_count(1)
        conversation_id = (await shop.stored())["conversationId"]

        mine = desk.page.get_by_test_id("mine-item")
        await expect(mine).to_have_count(1)
        await expect(mine).to_have_attribute("data-conversation-id", conversation_id)
        await expect(desk.lines("how much does shipping cost?", "customer")).to_have_count(1)
        await expect(desk.lines(HUMAN, "customer")).to_have_count(1)
        await expect(desk.transcript.locator('[data-sender="bot"]').first).to_contain_text(re.compile(r"\$|deliver"))
        reason = desk.page.locator('[data-testid="reason"][data-code="explicit_request"]')
        await expect(reason).to_contain_text("Explicit request")
        await expect(desk.page.locator("#bot-summary")).not_to_be_empty()

        await desk.reply("Hi, Grace here. How can I help?")
        answer = shop.bubble("Hi, Grace here. How can I help?", "agent")
        await expect(answer).to_have_count(1)
        await expect(answer.locator(".who")).to_have_text("Grace Hopper")
        await expect(desk.lines("Hi, Grace here. How can I help?", "agent")).to_have_count(1)
        await expect(desk.transcript.locator('[data-status="sending"]')).to_have_count(0)

        await shop.say("My parcel is late")
        await expect(desk.lines("My parcel is late", "customer")).to_have_count(1)

        await desk.page.get_by_test_id("resolve").click()
        await expect(shop.state).to_have_text("Resolved")
        await expect(mine).to_have_count(0)
        await expect(desk.page.get_by_test_id("reply-input")).to_be_disabled()

        ticket_id = (await desk.api("/api/tickets?status=resolved"))["tickets"][0]["id"]
        await desk.page.get_by_test_id("tickets-tab").click()
        row = desk.page.locator(f'[data-testid="ticket-row"][data-ticket-id="{ticket_id}"]')
        await expect(row).to_contain_text("Resolved")
        await row.click()
        detail = desk.page.get_by_test_id("ticket-detail")
        await expect(detail).to_contain_text("Handoff requested")
        await expect(detail).to_contain_text("Hi, Grace here. How can I help?")
        desk.actor.check_clean()
        shop.actor.check_clean()


PAYLOADS = [
    '<img src=x onerror="window.__pwned=1;alert(1)">',
    "<script>window.__pwned=1;alert(2)</script>",
    '"><svg onload=window.__pwned=1>',
    "<a href=\"javascript:alert(3)\">click</a> & <b>bold</b> &amp; {{7*7}}",
]
INERT = "() => window.__pwned === undefined"


async def test_browser_customer_markup_stays_text(server: HandoffServer, tmp_path: Path) -> None:
    async with browsers(tmp_path) as open_browser:
        desk = Desk(await open_browser.open("grace"), server.url)
        await desk.sign_in("grace")
        shop = Shopper(await open_browser.open("customer"), server.url)
        await shop.visit()
        await shop.say(HUMAN)
        await expect(shop.state).to_have_text("Grace Hopper (agent)")
        await expect(desk.page.get_by_test_id("mine-item")).to_have_count(1)
        for payload in PAYLOADS:
            await shop.say(payload)
            await expect(desk.lines(payload, "customer")).to_have_count(1)  # live, as it arrives
        await desk.reply('<img src=x onerror="window.__pwned=1">agent <i>markup</i>')

        await desk.page.reload()  # and again from the stored transcript
        await desk.page.get_by_test_id("mine-item").click()
        for payload in PAYLOADS:
            await expect(desk.lines(payload, "customer")).to_have_count(1)
        shown = await desk.page.eval_on_selector_all(
            '#transcript [data-sender="customer"] .msg-text', "nodes => nodes.map((n) => n.textContent)")
        assert shown == [HUMAN, *PAYLOADS]
        await expect(desk.transcript.locator("img, script, svg, a, b, i")).to_have_count(0)

        await expect(shop.bubble('<img src=x onerror="window.__pwned=1">agent <i>markup</i>', "agent")).to_have_count(1)
        for payload in PAYLOADS:
            await expect(shop.bubble(payload, "customer")).to_have_count(1)
        await expect(shop.page.get_by_test_id("bw-messages").locator("img, script, svg, a, b, i")).to_have_count(0)

        ticket_id = (await desk.api("/api/tickets"))["tickets"][0]["id"]
        await desk.page.get_by_test_id("tickets-tab").click()
        await desk.page.locator(f'[data-testid="ticket-row"][data-ticket-id="{ticket_id}"]').click()
        detail = desk.page.get_by_test_id("ticket-detail")
        await expect(detail).to_contain_text(PAYLOADS[0])
        await expect(detail.locator("img, script, svg, a, b, i")).to_have_count(0)

        for actor in (desk.actor, shop.actor):
            assert await actor.page.evaluate(INERT), "injected markup ran"
            actor.check_clean()  # no dialog, no uncaught error


async def test_browser_widget_survives_reloads_and_dropped_sockets(server: HandoffServer, tmp_path: Path) -> None:
    async with browsers(tmp_path) as open_browser:
        desk = Desk(await open_browser.open("grace"), server.url)
        await desk.sign_in("grace")
        shop = Shopper(await open_browser.open("customer"), server.url)
        tap = SocketTap()
        await tap.install(shop.page, "/ws/customer")
        await shop.visit()
        await shop.say(HUMAN)
        await expect(shop.said_by("system").filter(has_text="has joined")).to_have_count(1)
        before = await shop.stored()
        shown = await shop.page.evaluate(SHOWN)

        # away from the shop while the agent writes; back: the same conversation, every message once
        await shop.page.goto("about:blank")
        await expect(desk.page.get_by_test_id("reply-input")).to_be_enabled()
        await desk.reply("Are you still there?")
        await expect(desk.lines("Are you still there?", "agent")).to_have_count(1)
        await shop.page.goto(server.url + "/")
        await expect(shop.page.get_by_test_id("bw-panel")).to_be_visible()  # it stays open
        await expect(shop.bubble("Are you still there?", "agent")).to_have_count(1)
        assert await shop.page.evaluate(SHOWN) == [*shown, "Are you still there?"]
        await shop.page.reload()
        await expect(shop.state).to_have_text("Grace Hopper (agent)")
        await desk.reply("Take your time.")  # once it shows, the reloaded widget has had its catch-up too
        await expect(shop.bubble("Take your time.", "agent")).to_have_count(1)
        assert await shop.page.evaluate(SHOWN) == [*shown, "Are you still there?", "Take your time."]
        assert (await shop.stored())["conversationId"] == before["conversationId"]

        # the link drops as the message goes out: the service has it, the widget never heard back
        connections = tap.connections
        tap.drop_after_next_message = True
        await shop.say("sent as the link dropped")
        await expect(desk.lines("sent as the link dropped", "customer")).to_have_count(1)
        await expect(shop.bubble("sent as the link dropped", "customer")).to_have_attribute("data-status", "sent")
        assert tap.connections > connections, "the widget did not reconnect"

        # the link is down while the customer writes: kept, then sent once it is back
        await tap.cut(stay_down=True)
        await expect(shop.page.locator("#brightwood-widget .notice")).to_have_text("Reconnecting…")
        await shop.say("typed while offline")
        pending = shop.bubble("typed while offline", "customer")
        await expect(pending).to_have_attribute("data-status", "sending")
        tap.restore()
        await expect(pending).to_have_attribute("data-status", "sent")
        await expect(desk.lines("typed while offline", "customer")).to_have_count(1)
        await expect(shop.page.locator("#brightwood-widget .notice")).to_be_hidden()

        detail = await desk.api(f"/api/agent/conversations/{before['conversationId']}")
        said = texts_of(detail["messages"], "customer")
        assert said == [HUMAN, "sent as the link dropped", "typed while offline"]
        assert (await shop.stored())["outbox"] == []
        await expect(shop.bubble("sent as the link dropped", "customer")).to_have_count(1)
        await expect(desk.lines("sent as the link dropped", "customer")).to_have_count(1)
        desk.actor.check_clean()
        shop.actor.check_clean()


SHOWN = """() => [...document.querySelector('#brightwood-widget').shadowRoot
    .querySelectorAll('[data-testid="bw-message"] .text')].map((n) => n.textContent)"""


async def test_browser_console_queue_and_reply_while_disconnected(server: HandoffServer, tmp_path: Path) -> None:
    async with browsers(tmp_path) as open_browser:
        desk = Desk(await open_browser.open("grace"), server.url)
        tap = SocketTap()
        await tap.install(desk.page, "/ws/agent")
        await desk.sign_in("grace")
        await desk.page.get_by_test_id("presence").select_option("away")
        assert await eventually(lambda: _presence(desk, "away")), "grace did not go away"

        first = Shopper(await open_browser.open("first"), server.url)
        await first.visit()
        await first.say(HUMAN)
        await expect(first.state).to_contain_text("Waiting for an agent — you are number 1")
        second = Shopper(await open_browser.open("second"), server.url)
        await second.visit()
        await second.say(HUMAN)
        await expect(second.state).to_contain_text("you are number 2")
        await expect(first.state).to_contain_text("you are number 1")
        waiting = desk.page.get_by_test_id("queue-item")
        await expect(waiting).to_have_count(2)
        first_id, second_id = (await first.stored())["conversationId"], (await second.stored())["conversationId"]
        await expect(waiting.nth(0)).to_have_attribute("data-conversation-id", first_id)
        await expect(waiting.nth(0).get_by_test_id("queue-position")).to_have_text("#1")
        await expect(waiting.nth(1)).to_have_attribute("data-conversation-id", second_id)
        await expect(waiting.nth(1).get_by_test_id("queue-position")).to_have_text("#2")
        await expect(waiting.nth(0)).to_contain_text("Explicit request")

        await desk.page.get_by_test_id("presence").select_option("online")
        await expect(waiting).to_have_count(0)
        await expect(desk.page.get_by_test_id("mine-item")).to_have_count(2)
        await expect(first.state).to_have_text("Grace Hopper (agent)")
        # the transcript fails to load once: the error says so, later messages still show, Retry loads it all
        detail_url = f"**/api/agent/conversations/{first_id}"
        await desk.page.route(detail_url, lambda route: route.fulfill(
            status=503, content_type="application/json",
            body=json.dumps({"error": {"code": "unavailable", "detail": "The ticket log is unavailable."}})))
        await desk.page.locator(f'[data-testid="mine-item"][data-conversation-id="{first_id}"]').click()
        await expect(desk.page.get_by_test_id("open-failed")).to_contain_text("unavailable")
        await desk.page.unroute(detail_url)
        await first.say("Hello? Is anyone there?")
        await expect(desk.lines("Hello? Is anyone there?", "customer")).to_have_count(1)
        await desk.page.get_by_test_id("retry-open").click()
        await expect(desk.lines(HUMAN, "customer")).to_have_count(1)
        await expect(desk.lines("Hello? Is anyone there?", "customer")).to_have_count(1)

        await tap.cut(stay_down=True)
        await expect(desk.page.get_by_test_id("banner")).to_be_visible()
        await desk.reply("Written while the console was offline")
        line = desk.lines("Written while the console was offline", "agent")
        await expect(line).to_have_attribute("data-status", "sending")
        await expect(desk.page.locator("#reply-status")).to_contain_text("kept")
        tap.restore()
        await expect(desk.page.get_by_test_id("banner")).to_be_hidden()
        await expect(first.bubble("Written while the console was offline", "agent")).to_have_count(1)
        await expect(line).to_have_count(1)
        await expect(desk.transcript.locator('[data-status="sending"]')).to_have_count(0)

        connections = tap.connections
        tap.drop_after_next_message = True  # the link drops as the reply goes out
        await desk.reply("Sent as the link dropped")
        await expect(first.bubble("Sent as the link dropped", "agent")).to_have_count(1)
        await expect(desk.lines("Sent as the link dropped", "agent")).to_have_count(1)
        await expect(desk.transcript.locator('[data-status="sending"]')).to_have_count(0)
        assert tap.connections > connections, "the console did not reconnect"
        detail = await desk.api(f"/api/agent/conversations/{first_id}")
        assert texts_of(detail["messages"], "agent") == ["Written while the console was offline",
                                                         "Sent as the link dropped"]
        await expect(second.bubble("Written while the console was offline")).to_have_count(0)
        for actor in (desk.actor, first.actor, second.actor):
            actor.check_clean()


async def _presence(desk: Desk, wanted: str) -> bool:
    agents = (await desk.api("/api/agents"))["agents"]
    return any(a["name"] == "Grace Hopper" and a["presence"] == wanted for a in agents)


async def test_browser_widget_starts_afresh_for_another_signed_in_customer(bot: Assistant, tmp_path: Path) -> None:
    """Maria chats signed in; Tom signs in on the same browser: his widget does not reopen her conversation, so
    the bot does not tell him about her order."""
    with running_handoff(tmp_path, "embedded", bot.rasa_url, bot.token,
                         extra_env={"HANDOFF_WIDGET_SECRET": "browser-shop"}) as servers:
        url = servers[0].url
        async with browsers(tmp_path) as open_browser:
            shop = Shopper(await open_browser.open("customer"), url)
            # the demo page, as a shop's page with a signed-in visitor: the widget's tag gets the shop's data-*
            await shop.page.add_init_script(SIGNED_IN_PAGE)

            async def visit_as(customer: str) -> None:
                expires = int(time.time()) + 600
                signature = widget_signature("browser-shop", customer, expires)
                await shop.page.goto(f"{url}/?external_id={customer}&expires={expires}&signature={signature}")
                await shop.page.get_by_test_id("bw-launcher").click()

            await visit_as("shop-1001")  # Maria
            await shop.say("where is my order 12345")
            await expect(shop.said_by("bot").first).to_contain_text("on its way")
            maria = (await shop.stored())["conversationId"]

            await visit_as("shop-1002")  # Tom, on the same browser
            await expect(shop.messages).to_have_count(0)
            await shop.say("where is my order 12345")
            await expect(shop.said_by("bot").first).to_contain_text("among the orders of your account")
            await expect(shop.page.get_by_text("on its way")).to_have_count(0)
            assert (await shop.stored())["conversationId"] != maria
            shop.actor.check_clean()


SIGNED_IN_PAGE = """
const q = new URLSearchParams(location.search);
if (q.get('external_id')) {
  new MutationObserver((_, observer) => {
    const tag = document.querySelector('script[src*="widget.js"]');
    if (!tag) return;
    Object.assign(tag.dataset, {externalId: q.get('external_id'), expires: q.get('expires'),
                                signature: q.get('signature')});
    observer.disconnect();
  }).observe(document, {childList: true, subtree: true});
}
"""
async def test_browser_console_signs_out_and_is_signed_out_by_a_deactivation(server: HandoffServer,
                                                                            tmp_path: Path) -> None:
    """Sign out ends the session (the console's request carries its CSRF header); an admin deactivating the
    agent closes the console's socket (4401) and the console shows the sign-in form at once."""
    async with browsers(tmp_path) as open_browser:
        desk = Desk(await open_browser.open("grace"), server.url)
        await desk.sign_in("grace")
        await desk.page.locator("#logout").click()
        await expect(desk.page.locator("#login-view")).to_be_visible()
        assert (await desk.page.request.get(server.url + "/api/me")).status == 401  # the cookie opens nothing now

        await desk.sign_in("grace")
        grace_id = (await desk.api("/api/me"))["id"]
        admin = await Agent.sign_in(server, "admin")
        changed = await admin.call("PATCH", f"/api/admin/agents/{grace_id}", json={"active": False})
        assert changed.status_code == 200, changed.text
        await expect(desk.page.locator("#login-view")).to_be_visible()
        await expect(desk.page.locator("#login-error")).to_contain_text("session has ended")
        assert (await desk.page.request.get(server.url + "/api/me")).status == 401
