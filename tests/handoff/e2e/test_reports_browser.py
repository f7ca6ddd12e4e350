"""The console's Reports view in headless Chromium against a served instance (embedded profile): a supervisor
sees today's KPI tiles against the targets, charts drawn by the vendored uPlot under the console's CSP, the
breakdown table and the CSV link; an agent never sees the tab. The bot is not needed: nobody talks to it."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.handoff.e2e.browser import Desk, browsers, expect
from tests.handoff.e2e.harness import HandoffServer


async def test_browser_a_supervisor_sees_kpis_and_charts_an_agent_no_tab(served: HandoffServer,
                                                                         tmp_path: Path) -> None:
    async with httpx.AsyncClient() as client:  # a customer opens a conversation: today's figures have one
        assert (await client.post(served.url + "/api/conversations", json={"name": "Jo"})).status_code == 201
    async with browsers(tmp_path) as open_browser:
        actor = await open_browser.open("ada")
        desk = Desk(actor, served.url)
        await desk.sign_in("ada")  # a supervisor in data/demo
        await desk.page.get_by_test_id("reports-tab").click()
        tiles = desk.page.get_by_test_id("kpi-tiles").locator(".kpi")
        await expect(tiles).to_have_count(7)
        await expect(desk.page.get_by_test_id("kpi-handoff_rate")).to_contain_text("target ≤ 40.0%")
        contained = desk.page.get_by_test_id("kpi-containment_rate")  # the bot alone so far: 100%, target met
        await expect(contained).to_contain_text("100.0%")
        await expect(contained).to_have_class(re.compile(r"\bmet\b"))
        charts = desk.page.get_by_test_id("report-chart")
        await expect(charts).to_have_count(4)
        await expect(charts.first.locator("canvas")).to_have_count(1)
        box = await charts.first.locator("canvas").bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 100
        await expect(desk.page.get_by_test_id("report-table").locator("tr.total")).to_have_count(1)
        href = await desk.page.get_by_test_id("report-csv").get_attribute("href")
        assert href is not None and href.startswith("/api/reports/export.csv?")
        csv = await desk.page.request.get(served.url + href)
        assert csv.ok and (await csv.text()).startswith("since,until,agent,label,conversations,")
        assert actor.page_errors == [] and desk.refused == []

        agent = Desk(await open_browser.open("grace"), served.url)
        await agent.sign_in("grace")
        await expect(agent.page.get_by_test_id("reports-tab")).to_be_hidden()
        assert (await agent.page.request.get(served.url + "/api/reports/today")).status == 403
