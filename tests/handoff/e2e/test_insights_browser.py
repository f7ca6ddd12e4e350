"""The Insights view in a real browser: a supervisor finds the week's topics and reads their examples, the
customers' words shown as text (markup inert), and a conversation's sentiment line.

The bot is down on purpose (nothing listens at its address), so every customer's first message goes to a
person (``bot_unavailable``): the hand-offs the topics are found in, with no assistant to start.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from scripts.servers import free_port
from tests.handoff.e2e.browser import Desk, browsers, expect
from tests.handoff.e2e.harness import running_handoff

REFUNDS = [f"Where is my refund for the returned {item}? I sent it back weeks ago" for item in
           ("jacket", "shoes", "dress", "boots", "lamp", "kettle")]
PARCELS = [f"My parcel with the {item} was never delivered, tracking has not moved" for item in
           ("jacket", "shoes", "dress", "boots", "lamp")]
MARKUP = '<img src=x onerror="window.__pwned=1">My parcel with the coat was never delivered, tracking has not moved'


@pytest.mark.parametrize("profile", ["embedded"])
async def test_browser_insights_show_a_topic_with_its_examples_as_text(profile: str, tmp_path: Path) -> None:
    with running_handoff(tmp_path, profile, f"http://127.0.0.1:{free_port()}", "no-token") as (server, *_):
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            for text in [*REFUNDS, *PARCELS, MARKUP]:
                started = (await client.post("/api/conversations", json={})).json()
                headers = {"Authorization": f"Bearer {started['customer_token']}"}
                said = await client.post(f"/api/conversations/{started['conversation_id']}/messages",
                                         json={"text": text}, headers=headers)
                assert said.status_code == 200, said.text
        async with browsers(tmp_path) as open_browser:
            desk = Desk(await open_browser.open("ada"), server.url)
            await desk.sign_in("ada")
            await desk.page.get_by_test_id("insights-tab").click()
            view = desk.page.get_by_test_id("insights-view")
            await expect(view.get_by_test_id("insights-status")).to_have_text("not found yet for this week")
            await view.get_by_test_id("insights-refresh").click()

            parcel = view.get_by_test_id("insights-topic").filter(has_text="parcel")
            await expect(parcel).to_have_count(1)
            await expect(view.get_by_test_id("insights-topic")).to_have_count(2)
            await expect(parcel.locator("td").nth(1)).to_have_text("6")
            await parcel.locator("summary").click()
            examples = parcel.get_by_test_id("insights-example")
            await expect(examples).to_have_count(3)
            shown = await examples.all_text_contents()
            assert all("parcel" in text for text in shown)
            await expect(view.locator("[data-testid=insights-topics] img, [data-testid=insights-topics] script"))\
                .to_have_count(0)
            if any(text == MARKUP for text in shown):  # the markup, when it is an example, is text
                await expect(examples.filter(has_text="onerror")).to_have_count(1)

            await parcel.locator("button", has_text="sentiment").first.click()
            await expect(view.get_by_test_id("insights-direction")).to_have_text("steady")
            await expect(view.locator(".sparkline circle")).to_have_count(1)
            assert await desk.page.evaluate("() => window.__pwned === undefined")
            desk.actor.check_clean()
