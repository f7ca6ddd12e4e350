"""The trainers' workbench (the console's NLU inbox) in headless Chromium against a served instance (embedded
profile) whose inbox holds what the bot was unsure about: tess, the demo trainer, signs in to the inbox alone
(no conversations, tickets or presence, no agent socket), sees near-duplicates grouped with the model's intents,
labels a group with an intent in one click, ticks two groups and marks them out of scope in bulk, dismisses one
message of a group, and the training data file holds exactly the confirmed examples. A customer's script stays
text. An agent never sees the tab; when she files a handed-off customer's ticket under another category in the
ticket editor, the customer's message reaches the trainer with her category."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from handoff.adapters.tickets import TicketLog
from handoff.core.inbox import key
from handoff.core.model import ConversationId, CustomerId
from tests.handoff.e2e.browser import Desk, browsers, expect
from tests.handoff.e2e.harness import PASSWORD, Customer, HandoffServer, running_handoff
from tests.handoff.frames import of_type

SCRIPT = '<img src=x onerror="document.body.dataset.pwned=1">do you sell gift cards'
UNSURE = {  # what customers said: the model's top intents
    "where on earth is my parcel": [("delivery_tracking", 0.34), ("order_status", 0.31)],
    "Where is my parcel???": [("delivery_tracking", 0.4), ("order_status", 0.33)],
    "where's my parcel gone": [("order_status", 0.36), ("delivery_tracking", 0.35)],
    SCRIPT: [("delivery_tracking", 0.2)],
    "can you recommend a lasagne recipe": [("product_availability", 0.12)],
    "what's the weather in Paris": [("shipping_options", 0.1)],
}


@pytest.fixture
def inboxed(tmp_path: Path) -> Iterator[HandoffServer]:
    """One server (embedded) writing the inbox's training data under tmp_path, never the repository's."""
    with running_handoff(tmp_path, "embedded", "http://127.0.0.1:9", "unused-token",
                         extra_env={"HANDOFF_INBOX_FILE": str(tmp_path / "nlu" / "inbox.yml")}) as servers:
        yield servers[0]


async def fill_inbox(url: str) -> None:
    """Each message of :data:`UNSURE` said in a conversation of its own and kept as a fallback."""
    log = await TicketLog.open(url)
    try:
        now = datetime.now(UTC)
        for text, ranking in UNSURE.items():
            customer, conversation = CustomerId(f"cu_{uuid.uuid4().hex[:9]}"), ConversationId(uuid.uuid4().hex)
            await log.people.upsert_customer(customer, now=now)
            await log.conversations.create_conversation(conversation, customer, "web", now)
            message, _ = await log.conversations.add_message(conversation, "customer", text, now=now)
            intents = [{"name": name, "confidence": confidence} for name, confidence in ranking]
            assert await log.inbox.note(message.id, ["fallback"], intents, now) is not None
        assert key("Where is my parcel???") == "where is my parcel"
    finally:
        await log.close()


async def test_browser_a_trainer_labels_groups_one_by_one_and_in_bulk(inboxed: HandoffServer, tmp_path: Path) -> None:
    await fill_inbox(inboxed.env["DATABASE_URL"])
    training = Path(inboxed.env["HANDOFF_INBOX_FILE"])
    async with browsers(tmp_path) as open_browser:
        actor = await open_browser.open("tess")
        desk = Desk(actor, inboxed.url)
        page = desk.page
        await page.goto(inboxed.url + "/console")
        await page.get_by_test_id("login-username").fill("tess")
        await page.get_by_test_id("login-password").fill(PASSWORD)
        await page.get_by_test_id("login-submit").click()
        await expect(page.get_by_test_id("inbox-view")).to_be_visible()  # a trainer lands on the workbench
        for hidden in ("conversations-tab", "tickets-tab", "board-tab", "presence"):
            await expect(page.get_by_test_id(hidden)).to_be_hidden()
        await expect(page.get_by_test_id("inbox-tab")).to_be_visible()
        await expect(page.get_by_test_id("inbox-grouping")).to_contain_text("by meaning")

        groups = page.get_by_test_id("inbox-group")
        await expect(groups).to_have_count(4)  # the three parcels group by meaning
        parcels = groups.filter(has_text="where on earth is my parcel")
        await expect(parcels.get_by_test_id("inbox-size")).to_have_text("×3")
        await expect(parcels.get_by_test_id("inbox-intents")).to_contain_text("delivery_tracking 36%")
        script = groups.filter(has_text="onerror")
        await expect(script.get_by_test_id("inbox-text")).to_have_text(SCRIPT)  # text, not markup
        assert await page.evaluate("document.body.dataset.pwned") is None
        assert await page.locator("#inbox-view img").count() == 0

        await parcels.get_by_test_id("inbox-label-top").click()  # one click: the group's top intent
        await expect(groups).to_have_count(3)
        await expect(page.get_by_test_id("inbox-status")).to_contain_text("Labelled (3)")

        for text in ("lasagne", "weather"):
            await groups.filter(has_text=text).get_by_test_id("inbox-group-tick").check()
        await expect(page.get_by_test_id("inbox-selected")).to_have_text("2 ticked")
        await page.get_by_test_id("inbox-oos-selected").click()
        await expect(groups).to_have_count(1)

        await script.locator("summary").click()
        await script.get_by_test_id("inbox-item-dismiss").click()
        await expect(page.get_by_test_id("inbox-empty")).to_be_visible()

        await page.get_by_test_id("inbox-status").select_option("labelled")
        await expect(groups).to_have_count(1)
        await expect(groups.get_by_test_id("inbox-size")).to_have_text("×3")
        assert actor.page_errors == [] and desk.refused == []

        agent = Desk(await open_browser.open("grace"), inboxed.url)
        await agent.sign_in("grace")
        await expect(agent.page.get_by_test_id("inbox-tab")).to_be_hidden()
        assert (await agent.page.request.get(inboxed.url + "/api/inbox")).status == 403

        # An agent's handling: the bot is down, so the customer's message is handed to grace, who files the
        # ticket under returns; the message reaches the trainer's inbox with her category.
        customer = await Customer.start(inboxed)
        socket = await customer.connect()
        await socket.next(of_type("hello"))
        await customer.say(socket, "the toaster I sent back, any news")
        await socket.next(lambda f: f.get("type") == "state" and f.get("state") == "assigned")
        await socket.close()
        await agent.page.get_by_test_id("tickets-tab").click()
        await agent.page.get_by_test_id("ticket-row").first.click()
        await agent.page.get_by_test_id("ticket-category").fill("returns")
        await agent.page.get_by_test_id("ticket-save").click()
        await expect(agent.page.locator(".toast").last).to_have_text("Ticket updated.")
        await page.get_by_test_id("inbox-status").select_option("new")
        hinted = groups.filter(has_text="the toaster I sent back")
        await expect(hinted).to_have_count(1)
        await expect(hinted.locator(".badge.hint")).to_have_text("Agent: returns")
        await expect(hinted.locator("[data-reason=agent_category]")).to_have_text("Agent set category")

    data = yaml.safe_load(training.read_text())
    assert data["version"] == "3.1"
    assert {e["intent"]: e["examples"] for e in data["nlu"]} == {
        "delivery_tracking": "- Where is my parcel???\n- where on earth is my parcel\n- where's my parcel gone\n",
        "out_of_scope": "- can you recommend a lasagne recipe\n- what's the weather in Paris\n"}
