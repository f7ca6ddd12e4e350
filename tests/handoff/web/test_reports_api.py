"""The reports' REST endpoints (handoff/web/api_reports.py) on the real application: what a supervisor gets
after a hand-off, the CSV file, and the sentences for bad periods and breakdowns."""

from __future__ import annotations

import httpx

from tests.handoff.web.conftest import Serve
from tests.handoff.web.test_admin import sign_in


async def test_a_supervisor_reads_the_metrics_of_the_day(serve: Serve) -> None:
    app, service = await serve()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://handoff.test") as api:
        supervisor = await sign_in(api, "ada")
        data = (await api.post("/api/conversations", json={"name": "Jo"})).json()
        auth = {"Authorization": f"Bearer {data['customer_token']}"}
        await api.post(f"/api/conversations/{data['conversation_id']}/messages", json={"text": "a human please"},
                       headers=auth)
        today = (await api.get("/api/reports/today", headers=supervisor)).json()
        assert (today["total"]["conversations"], today["total"]["handoffs"], today["total"]["tickets"]) == (1, 1, 1)
        assert {tile["target"] for tile in today["tiles"]} == set(service.targets.as_dict())
        summary = (await api.get("/api/reports/summary", params={"by": "channel"}, headers=supervisor)).json()
        assert summary["timezone"] == "UTC" and summary["reasons"] == {"explicit_request": 1}
        assert [(row["key"], row["metrics"]["handoff_rate"]) for row in summary["rows"]] == [("web", 1.0)]
        series = (await api.get("/api/reports/timeseries", params={"bucket": "week", "metric": "tickets"},
                                headers=supervisor)).json()
        assert sum(point["metrics"]["tickets"] for point in series["points"]) == 1
        export = await api.get("/api/reports/export.csv", params={"bucket": "day"}, headers=supervisor)
        assert export.status_code == 200 and export.headers["content-type"] == "text/csv; charset=utf-8"
        assert export.text.splitlines()[0].startswith("since,until,group,label,conversations,contained,")


async def test_bad_periods_breakdowns_and_metrics_are_400_with_a_sentence(serve: Serve) -> None:
    app, _ = await serve()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://handoff.test") as api:
        supervisor = await sign_in(api, "ada")
        for path, params, sentence in [
                ("/api/reports/summary", {"since": "2026-13-01"}, "since must be a date"),
                ("/api/reports/summary", {"since": "2026-11-02", "until": "2026-11-01"}, "The period is empty"),
                ("/api/reports/summary", {"by": "mood"}, "broken down by one of"),
                ("/api/reports/timeseries", {"bucket": "month"}, "The bucket is day or week"),
                ("/api/reports/timeseries", {"metric": "happiness"}, "Unknown metric"),
                ("/api/reports/export.csv", {"by": "x"}, "broken down by one of")]:
            response = await api.get(path, params=params, headers=supervisor)
            assert response.status_code == 400, (path, params)
            assert sentence in response.text, (path, params)
