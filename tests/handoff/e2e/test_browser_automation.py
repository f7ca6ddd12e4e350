"""The console's Automation view in headless Chromium, against the real service: a supervisor sees the rules of
the automation file with what each did, the log of their actions, and, from an action's ticket link, the ticket's
history naming the rule."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.handoff.e2e.browser import Desk, browsers, eventually, expect
from tests.handoff.e2e.harness import Agent, Customer, running_handoff

RULES = {"rules": [
    {"name": "tag-everything", "kind": "on_arrival", "set": {"tags": ["automated"], "priority": "high"}},
    {"name": "quiet-customer", "kind": "idle_customer", "after": 900, "notice": "We are closing this chat."}]}


async def test_browser_automation_view_lists_the_rules_and_what_they_did(tmp_path: Path) -> None:
    rules = tmp_path / "automation.yml"
    rules.write_text(yaml.safe_dump(RULES))
    # No bot listens on RASA_URL: the customer's first message hands off at once (bot_unavailable).
    with running_handoff(tmp_path, "embedded", "http://127.0.0.1:9", "token",
                         {"HANDOFF_AUTOMATION": str(rules)}) as [server]:
        customer = await Customer.start(server, name="Jo <b>Tester</b>")
        socket = await customer.connect()
        await customer.say(socket, "Hello, is anybody there?")  # queued, or out of hours an offline ticket
        await socket.close()
        ada = await Agent.sign_in(server, "ada")

        async def tagged() -> list[dict[str, object]]:
            return list((await ada.call("GET", "/api/automation/events")).json()["events"])

        [event] = await eventually(tagged)
        async with browsers(tmp_path) as open_browser:
            desk = Desk(await open_browser.open("ada"), server.url)
            await desk.sign_in("ada")
            await desk.page.get_by_test_id("automation-tab").click()
            view = desk.page.get_by_test_id("automation-view")
            rows = view.get_by_test_id("automation-rule")
            await expect(rows).to_have_count(2)
            tagging = view.locator('[data-rule="tag-everything"]')
            await expect(tagging).to_contain_text("On arrival")
            await expect(tagging).to_contain_text("Tag it automated; raise the priority to at least high")
            await expect(tagging.locator("meter")).to_have_attribute("value", "1")
            await expect(view.locator('[data-rule="quiet-customer"]')).to_contain_text(
                "The customer has not answered the agent for 15 minutes")
            logged = view.get_by_test_id("automation-event")
            await expect(logged).to_have_count(1)
            await expect(logged).to_contain_text("Tagged automated; priority Normal → High")
            await logged.get_by_role("button", name=str(event["ticket_number"])).click()
            detail = desk.page.get_by_test_id("ticket-detail")
            await expect(detail).to_contain_text("tag-everything")
            await expect(detail).to_contain_text("Tagged automated")
            desk.actor.check_clean()
