"""Customer feedback in the real widget, against the real service and bot: a helpful vote under the bot's
help-centre answer, and the rating asked once an agent resolves, which outlives reloads until answered."""

from __future__ import annotations

from pathlib import Path

from tests.handoff.e2e.browser import Desk, Shopper, browsers, eventually, expect
from tests.handoff.e2e.harness import HandoffServer

HUMAN = "I want to talk to a human"


async def test_browser_customer_votes_on_an_answer_and_rates_after_the_resolve(server: HandoffServer,
                                                                                 tmp_path: Path) -> None:
    async with browsers(tmp_path) as open_browser:
        desk = Desk(await open_browser.open("grace"), server.url)
        await desk.sign_in("grace")
        shop = Shopper(await open_browser.open("customer"), server.url)
        await shop.visit()
        await shop.say("how much does shipping cost?")
        vote = shop.page.get_by_test_id("bw-vote")
        await expect(vote).to_have_count(1)  # the answer came from the help centre
        await vote.get_by_role("button", name="Yes, this answer helped").click()
        await expect(vote).to_contain_text("Glad it helped")

        await shop.say(HUMAN)
        await expect(shop.state).to_have_text("Grace Hopper (agent)")
        await desk.reply("Standard delivery is free over 60 euros.")
        await desk.page.get_by_test_id("resolve").click()
        survey = shop.page.get_by_test_id("bw-survey")
        await expect(survey).to_contain_text("How did we do?")

        await shop.page.reload()  # still asked: the request is pending and unanswered
        await expect(survey).to_have_count(1)
        await expect(shop.page.get_by_test_id("bw-vote").get_by_role(
            "button", name="Yes, this answer helped")).to_have_attribute("aria-pressed", "true")
        await survey.get_by_role("button", name="4 of 5: good").click()
        await survey.get_by_label("Anything to add? (optional)").fill("Quick, thanks. <b>not bold</b>")
        await survey.get_by_test_id("bw-survey-send").click()
        await expect(shop.page.get_by_test_id("bw-survey-thanks")).to_have_text("Thank you for your rating (4 of 5).")
        await shop.page.reload()
        await expect(shop.page.get_by_test_id("bw-survey-thanks")).to_have_text("Thank you for your rating (4 of 5).")

        conversation_id = (await shop.stored())["conversationId"]
        ada = Desk(await open_browser.open("ada"), server.url)  # a supervisor reads what was kept
        await ada.sign_in("ada")
        kept = await eventually(lambda: ada.api(f"/api/agent/conversations/{conversation_id}/feedback"))
        by_kind = {row["kind"]: row for row in kept["feedback"]}
        assert (by_kind["csat"]["score"], by_kind["csat"]["comment"], by_kind["csat"]["path"]) == (
            4, "Quick, thanks. <b>not bold</b>", "handoff")
        assert by_kind["csat"]["agent_id"] is not None and by_kind["csat"]["ticket_id"] is not None
        assert "request_human" in by_kind["csat"]["intents"]  # read from the bot's tracker
        assert by_kind["helpful"]["score"] == 1 and by_kind["helpful"]["article_id"]
        for actor in (desk.actor, shop.actor):
            actor.check_clean()
