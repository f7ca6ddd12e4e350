"""The console's Alerts view (handoff/web/static/console-alerts.js) in a real headless Chromium, on a served
handoff instance whose rule fires as soon as it is evaluated: the tab's badge counts it, the view lists it as
firing with its value against the threshold, the rule and its history."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.handoff.e2e.browser import Desk, browsers, expect
from tests.handoff.e2e.harness import running_handoff

RULE = {"name": "queue-quiet", "metric": "queue_length", "below": 5, "severity": "critical", "repeat": "1h",
        "description": "Fewer than five customers wait <b>now</b>."}


async def test_browser_alerts_view_lists_a_firing_alert(tmp_path: Path) -> None:
    rules = tmp_path / "alerts.yml"
    rules.write_text(yaml.safe_dump({"rules": [RULE]}))
    env = {"HANDOFF_ALERTS": str(rules), "HANDOFF_ALERT_INTERVAL": "1", "HANDOFF_SUGGESTIONS": "false"}
    # no customer talks to the bot here: its address only has to be well-formed
    with running_handoff(tmp_path, "embedded", "http://127.0.0.1:9", "unused", env) as (server,):
        async with browsers(tmp_path) as open_browser:
            desk = Desk(await open_browser.open("ada"), server.url)
            await desk.sign_in("ada")
            page = desk.page
            await expect(page.get_by_test_id("alerts-badge")).to_have_text("1")
            await page.get_by_test_id("alerts-tab").click()
            active = page.get_by_test_id("alert-active")
            await expect(active).to_have_count(1)
            await expect(active).to_contain_text("queue-quiet")
            await expect(active).to_contain_text("critical")
            await expect(active.locator(".alert-value")).to_have_text("0 (below 5)")
            rule = page.get_by_test_id("alert-rule")
            await expect(rule).to_have_attribute("data-phase", "firing")
            await expect(rule).to_contain_text("Fewer than five customers wait <b>now</b>.")  # text, not markup
            await expect(page.get_by_test_id("alert-history")).to_contain_text("firing")
            desk.actor.check_clean()
