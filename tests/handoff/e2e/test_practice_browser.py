"""Team training's Practice tab in headless Chromium against a served instance (embedded profile; practice needs no
bot; the real knowledge base and sentence encoder in process): an agent practises on a colleague's well-rated
conversation turn by turn, seeing after each reply the real reply, the article and the score; a supervisor reviews
the session; the agent sees the review. The customer's details never reach the page, and what they wrote stays
text."""

from __future__ import annotations

import time
from pathlib import Path

from handoff.adapters.tickets import TicketLog
from tests.handoff.e2e.browser import Desk, browsers, expect
from tests.handoff.e2e.harness import HandoffServer
from tests.handoff.qa_history import handled_ticket, rated, with_customer

PAYLOAD = '<img src=x onerror="window.__pwned=1">'
WORDS = (f"Hi, I'm Jo Tester, jo.tester@example.com. Can I return the boots from order 4455667? {PAYLOAD}",
         "Hi Jo! Yes: unworn items can be returned within 30 days for a full refund.",
         "Great, how do I send them back? I live at 12 Baker Street, NW1 6XE, phone 07700 900123.",
         "Print the prepaid returns label from your order page and drop the parcel at any post office.")
SECRETS = ("Jo Tester", "jo.tester@example.com", "4455667", "Baker Street", "NW1 6XE", "07700 900123")


async def well_rated_conversation(server: HandoffServer) -> None:
    """Linus resolved Jo Tester's returns question an hour ago (her profile in the log); she rated it 5."""
    log = await TicketLog.open(server.env["DATABASE_URL"])
    try:
        linus = await log.people.agent_by_username("linus")
        assert linus is not None
        ticket = await handled_ticket(log, linus.agent_id, at=time.time() - 3600, handle=300, words=WORDS,
                                      category="returns")
        await with_customer(log, ticket, name="Jo Tester", email="jo.tester@example.com", at=time.time())
        await rated(log, ticket, 5, at=time.time() - 1800)
    finally:
        await log.close()


async def test_practice_session_then_review_in_the_browser(served: HandoffServer, tmp_path: Path) -> None:
    await well_rated_conversation(served)
    async with browsers(tmp_path) as open_browser:
        grace = Desk(await open_browser.open("grace"), served.url)
        await grace.sign_in("grace")
        page = grace.page
        await page.get_by_test_id("practice-tab").click()
        await page.get_by_test_id("practice-start").click()
        session = page.get_by_test_id("practice-session")
        first = session.locator('[data-testid="practice-turn"][data-turn="0"]')
        await expect(first.get_by_test_id("practice-customer")).to_have_text(
            f"Hi, I'm [name], [email]. Can I return the boots from order [order]? {PAYLOAD}")
        await expect(session.locator("img")).to_have_count(0)

        await page.get_by_test_id("practice-reply").fill("Yes, unworn items can go back within 30 days for a refund.")
        await page.get_by_test_id("practice-send").click()
        await expect(first.get_by_test_id("practice-actual")).to_have_text(
            "Hi [name]! Yes: unworn items can be returned within 30 days for a full refund.")
        await expect(first.get_by_test_id("practice-article")).not_to_be_empty()
        await expect(first.get_by_test_id("practice-score")).to_contain_text("Score: ")
        await expect(first.locator(".practice-why li").first).to_contain_text("cosine")
        second = session.locator('[data-testid="practice-turn"][data-turn="1"]')
        await expect(second.get_by_test_id("practice-customer")).to_have_text(
            "Great, how do I send them back? I live at [address], [postcode], phone [phone].")
        await page.get_by_test_id("practice-reply").fill("Print the returns label and post the parcel.")
        await page.get_by_test_id("practice-send").click()
        await expect(page.get_by_test_id("practice-total")).to_contain_text("of 100")
        await expect(page.get_by_test_id("practice-reply")).to_have_count(0)
        await expect(page.get_by_test_id("presence")).to_have_value("online")  # practice leaves presence alone
        content = await page.content()
        assert not [secret for secret in SECRETS if secret in content]
        assert await page.evaluate("window.__pwned") is None

        ada = Desk(await open_browser.open("ada"), served.url)
        await ada.sign_in("ada")
        await ada.page.get_by_test_id("practice-tab").click()
        row = ada.page.get_by_test_id("practice-review-row").filter(has_text="Grace Hopper")
        await row.get_by_test_id("practice-open-review").click()
        await expect(ada.page.get_by_test_id("practice-mine").first).to_have_text(
            "Yes, unworn items can go back within 30 days for a refund.")
        await ada.page.get_by_test_id("practice-review-score").fill("72")
        await ada.page.get_by_test_id("practice-review-comment").fill(f"Good. Mention the label's page. {PAYLOAD}")
        await ada.page.get_by_test_id("practice-reply-comment-1").fill("Say where the label is.")
        await ada.page.get_by_test_id("practice-review-save").click()
        await expect(ada.page.get_by_test_id("practice-review")).to_contain_text("72.0 of 100")
        await expect(ada.page.get_by_test_id("practice-review-row")).to_have_count(0)
        await expect(ada.page.get_by_test_id("practice-progress-row").filter(has_text="Grace Hopper")).to_contain_text(
            "72.0")

        await page.get_by_test_id("conversations-tab").click()
        await page.get_by_test_id("practice-tab").click()
        await page.get_by_test_id("practice-session-row").first.click()
        await expect(page.get_by_test_id("practice-review")).to_contain_text("Review by Ada Lovelace: 72.0 of 100")
        await expect(page.get_by_test_id("practice-review-comment-shown")).to_have_text(
            f"Good. Mention the label's page. {PAYLOAD}")
        await expect(page.get_by_test_id("practice-reply-review")).to_have_text("Reviewer: Say where the label is.")
        await expect(page.get_by_test_id("practice-review-form")).to_have_count(0)  # nobody reviews their own
        await expect(page.locator('[data-testid="practice-progress-row"]')).to_have_count(1)
        await expect(page.get_by_test_id("practice-chart").locator("canvas")).to_have_count(1)
        assert await page.evaluate("window.__pwned") is None
        for actor in (grace, ada):
            assert actor.refused == []
            actor.actor.check_clean()
