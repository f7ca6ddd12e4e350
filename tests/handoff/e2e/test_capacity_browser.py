"""The console's Capacity view in headless Chromium against a served instance (embedded profile) with a small
history (tests/handoff/web/capacity_history.py, tomorrow's 09:00 half hour short of agents): a supervisor sees
the forecast against the contacts that came and the agents required against those scheduled drawn by the
vendored uPlot under the console's CSP, then gives ada a shift over the short half hour in the what-if and sees
the understaffed count fall without pressing anything; an agent never sees the tab."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from handoff.adapters.tickets import TicketLog
from tests.handoff.e2e.browser import Desk, browsers, expect
from tests.handoff.e2e.harness import HandoffServer
from tests.handoff.web.capacity_history import build_capacity_history


async def test_browser_a_supervisor_sees_the_charts_and_a_what_if_recomputes(served: HandoffServer,
                                                                             tmp_path: Path) -> None:
    log = await TicketLog.open(served.env["DATABASE_URL"])
    try:
        await build_capacity_history(log, (datetime.now(UTC) + timedelta(days=1)).date())
    finally:
        await log.close()
    async with browsers(tmp_path) as open_browser:
        actor = await open_browser.open("ada")
        desk = Desk(actor, served.url)
        await desk.sign_in("ada")  # a supervisor in data/demo
        await desk.page.get_by_test_id("capacity-tab").click()
        both = re.compile(r"^[1-9]\d*,[1-9]\d*")  # each series has points
        forecast = desk.page.get_by_test_id("capacity-forecast-chart")
        await expect(forecast.locator("canvas")).to_have_count(1)
        await expect(forecast).to_have_attribute("data-points", both)
        plan = desk.page.get_by_test_id("capacity-plan-chart")
        await expect(plan.locator("canvas")).to_have_count(1)
        await expect(plan).to_have_attribute("data-points", both)
        box = await plan.locator("canvas").bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 100
        summary = desk.page.get_by_test_id("capacity-understaffed")
        await expect(summary).to_contain_text("open intervals understaffed")
        before = int(await summary.get_attribute("data-count") or "0")
        assert before >= 1
        await expect(desk.page.get_by_test_id("capacity-short-table").locator("tbody tr")).to_have_count(before)

        await desk.page.get_by_label("Shift of Ada Lovelace").fill("mon-sun 08:00-12:00")
        await expect(summary).to_contain_text("(what-if)")
        after = int(await summary.get_attribute("data-count") or "0")
        assert after < before
        assert actor.page_errors == [] and desk.refused == []

        agent = Desk(await open_browser.open("grace"), served.url)
        await agent.sign_in("grace")
        await expect(agent.page.get_by_test_id("capacity-tab")).to_be_hidden()
        assert (await agent.page.request.get(served.url + "/api/capacity/plan")).status == 403
