"""The QA tab in headless Chromium against the real service and bot, in both profiles: a supervisor draws a review
sample, scores the conversation a customer rated low, sees the agent's roll-up change, and closes the
follow-up item the rating opened; what the customer wrote stays text."""

from __future__ import annotations

import time
from pathlib import Path

from handoff.adapters.tickets import TicketLog
from tests.handoff.e2e.browser import Desk, browsers, expect
from tests.handoff.e2e.harness import Agent, Customer, HandoffServer
from tests.handoff.frames import message_from, of_type
from tests.handoff.qa_history import rated

PAYLOAD = '<img src=x onerror="window.__pwned=1">my parcel <b>never</b> came'
TOP = {"greeting": "2", "accuracy": "5", "tone": "5", "resolution": "5", "notes": "2", "data_protection": "1"}


async def handled_and_rated(server: HandoffServer) -> tuple[int, int]:
    """Grace takes a customer's conversation, answers and resolves it; the customer rates it 1 with a comment
    (written as the feedback part writes it). The ticket's and the follow-up item's ids."""
    grace = await Agent.sign_in(server, "grace")
    desk = await grace.connect()
    await desk.next(of_type("hello"))
    customer = await Customer.start(server, name="Jo Tester")
    socket = await customer.connect()
    await socket.next(of_type("hello"))
    await customer.say(socket, "I want to talk to a human")
    ticket_id = (await desk.next(of_type("assigned")))["conversation"]["ticket_id"]
    await customer.say(socket, PAYLOAD)
    await desk.next(message_from("customer", "parcel"))
    await grace.say(desk, customer.conversation_id, "Sorry Jo, a new one is on its way.")
    resolved = await grace.call("POST", f"/api/agent/conversations/{customer.conversation_id}/resolve")
    assert resolved.status_code == 200
    await socket.close()
    await desk.close()
    log = await TicketLog.open(server.env["DATABASE_URL"])
    try:
        item = await rated(log, ticket_id, 1, "<b>Rude</b> & slow", at=time.time())
    finally:
        await log.close()
    assert item is not None
    return ticket_id, item


async def test_browser_qa_sample_review_rollup_and_follow_up(server: HandoffServer, tmp_path: Path) -> None:
    ticket_id, item_id = await handled_and_rated(server)
    async with browsers(tmp_path) as open_browser:
        desk = Desk(await open_browser.open("ada"), server.url)
        await desk.sign_in("ada")
        page = desk.page
        await page.get_by_test_id("qa-tab").click()
        await page.get_by_test_id("qa-scores-tab").click()
        await page.get_by_test_id("qa-scores-load").click()
        await expect(page.get_by_test_id("qa-scores-table")).to_contain_text("No reviews in this period.")

        await page.get_by_test_id("qa-sample-tab").click()
        await page.get_by_test_id("qa-draw").click()
        row = page.locator(f'[data-testid="qa-sample-row"][data-ticket-id="{ticket_id}"]')
        await expect(row).to_contain_text("Low rating")
        await expect(row).to_contain_text("Grace Hopper")
        await row.click()
        transcript = page.get_by_test_id("qa-transcript")
        await expect(transcript.locator('[data-sender="customer"] .msg-text').filter(has_text="never")).to_have_text(
            PAYLOAD)
        await expect(transcript.locator("img, b")).to_have_count(0)
        for key, value in TOP.items():
            await page.get_by_test_id(f"qa-score-{key}").select_option(value)
        await page.get_by_test_id("qa-comment-tone").fill("Warm and clear.")
        await page.get_by_test_id("qa-notes").fill("A model answer.")
        await page.get_by_test_id("qa-save").click()
        await expect(page.get_by_test_id("qa-total")).to_have_text("Your score: 100.0%")

        await page.get_by_test_id("qa-scores-tab").click()
        grace = page.locator('[data-testid="qa-score-row"]').filter(has_text="Grace Hopper")
        await expect(grace.locator(".qa-reviews")).to_have_text("1")
        await expect(grace.locator(".qa-average")).to_have_text("100.0%")

        await page.get_by_test_id("qa-followups-tab").click()
        await page.locator(f'[data-testid="qa-followup-row"][data-follow-up-id="{item_id}"]').click()
        await expect(page.get_by_test_id("qa-followup-comment")).to_have_text("<b>Rude</b> & slow")
        await page.get_by_test_id("qa-followup-assign").click()
        await expect(page.get_by_test_id("qa-followup-assignee")).to_have_text("Assigned to: Ada Lovelace")
        await page.get_by_test_id("qa-followup-note").fill("Called Jo; a voucher is on its way.")
        await page.get_by_test_id("qa-followup-add-note").click()
        await expect(page.get_by_test_id("qa-followup-notes")).to_contain_text("a voucher is on its way")
        await page.get_by_test_id("qa-followup-close").click()
        await expect(page.get_by_test_id("qa-followup-reopen")).to_be_visible()
        await expect(page.locator(f'[data-testid="qa-followup-row"][data-follow-up-id="{item_id}"]')).to_have_count(0)
        stored = await desk.api(f"/api/followups/{item_id}")
        assert (stored["status"], stored["assignee_name"]) == ("done", "Ada Lovelace")
        review = (await desk.api(f"/api/qa/tickets/{ticket_id}"))["mine"]
        assert (review["total"], review["notes"], review["scores"][2]["comment"]) == (100.0, "A model answer.",
                                                                                     "Warm and clear.")
        assert await page.evaluate("() => window.__pwned === undefined"), "injected markup ran"
        desk.actor.check_clean()
