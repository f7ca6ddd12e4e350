"""The capacity page's REST endpoints (handoff/web/api_capacity.py) on the real application over a small history
(tests/handoff/web/capacity_history.py): the forecast against the contacts that came, the plan, a what-if that
changes the understaffed intervals and writes nothing, the simulator (one at a time), and the sentences for bad
input."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import httpx
import pytest

from handoff.adapters.tickets import TicketLog
from tests.handoff.web.capacity_history import build_capacity_history
from tests.handoff.web.conftest import Serve
from tests.handoff.web.test_admin import sign_in
from tests.handoff.world import FakeClock

PLANNED = date(2026, 12, 7)  # a Monday: tomorrow on the clock below
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


@pytest.fixture
async def api(serve: Serve, database_url: str, clock: FakeClock) -> httpx.AsyncClient:
    clock.now = NOW.timestamp()
    log = await TicketLog.open(database_url)
    try:
        await build_capacity_history(log, PLANNED)
    finally:
        await log.close()
    app, _ = await serve()
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://handoff.test")


def nine(plan: dict) -> dict:
    return next(row for row in plan["intervals"] if row["start"] == "2026-12-07T09:00:00+00:00")


async def test_the_plan_and_a_what_if_that_staffs_the_short_half_hour(api: httpx.AsyncClient) -> None:
    supervisor = await sign_in(api, "ada")
    plan = (await api.get("/api/capacity/plan", params={"days": 1}, headers=supervisor)).json()
    assert plan["available"] and plan["first"] == "2026-12-07" and plan["timezone"] == "UTC"
    assert plan["target"] == {"service_level": 0.9, "within": 120.0, "occupancy": 0.85, "shrinkage": 0.3}
    assert plan["measured"]["handle_seconds"] == 600.0 and plan["measured"]["tickets"] == 16
    assert nine(plan)["demand"] > 2 and nine(plan)["scheduled"] == 1.0 and nine(plan)["understaffed"]
    assert plan["understaffed_intervals"] >= 1
    roster = {agent["name"]: agent for agent in plan["roster"]}
    assert set(roster) == {"Ada Lovelace", "Grace Hopper", "Linus Berg", "Site Admin"}
    assert roster["Grace Hopper"]["shift"] == [] and len(roster["Ada Lovelace"]["shift"]) == 7

    edited = [agent | {"shift": [{"weekday": 0, "start": "08:00", "end": "12:00"}]}
              if agent["name"] == "Ada Lovelace" else agent for agent in plan["roster"]]
    body = {"first": "2026-12-07", "days": 1, "agents": edited}
    what_if = (await api.post("/api/capacity/what-if", json=body, headers=supervisor)).json()
    assert nine(what_if)["scheduled"] == 2.0 and not nine(what_if)["understaffed"]
    assert what_if["understaffed_intervals"] == plan["understaffed_intervals"] - 1
    assert nine(what_if)["demand"] == nine(plan)["demand"]  # the plan's own demand
    stricter = {**body, "target": {"service_level": 0.99, "within": 5, "occupancy": 0.85, "shrinkage": 0.5}}
    strict = (await api.post("/api/capacity/what-if", json=stricter, headers=supervisor)).json()
    assert nine(strict)["required"] > nine(what_if)["required"] and nine(strict)["understaffed"]
    added = {**body, "agents": [*plan["roster"], {"id": "new", "capacity": 3, "shift": []}]}
    assert not nine((await api.post("/api/capacity/what-if", json=added, headers=supervisor)).json())["understaffed"]
    again = (await api.get("/api/capacity/plan", params={"days": 1}, headers=supervisor)).json()
    assert again["roster"] == plan["roster"] and again["intervals"] == plan["intervals"]  # nothing was written


async def test_the_forecast_against_the_contacts_that_came(api: httpx.AsyncClient) -> None:
    supervisor = await sign_in(api, "ada")
    found = (await api.get("/api/capacity/forecast", params={"since": "2026-11-30", "until": "2026-12-01"},
                           headers=supervisor)).json()
    assert found["forecast_error"] is None and found["interval_seconds"] == 1800 and len(found["intervals"]) == 48
    rows = {row["start"]: row for row in found["intervals"]}
    assert rows["2026-11-30T09:00:00+00:00"]["actual"] == 4 and found["actual_total"] == 4
    assert rows["2026-11-30T09:00:00+00:00"]["forecast"] > 1 and found["wape"] is not None
    later = (await api.get("/api/capacity/forecast", headers=supervisor)).json()  # last 7 days and today
    assert (later["since"], later["until"]) == ("2026-11-29", "2026-12-07")
    assert [row["actual"] for row in later["intervals"]][-1] is None  # not begun yet


async def test_the_simulator_one_at_a_time(api: httpx.AsyncClient) -> None:
    supervisor = await sign_in(api, "ada")
    body = {"since": "2026-11-30", "until": "2026-12-01", "seeds": 2,
            "routing": "strategies:\n  - {name: workload, weight: 1.0}\n",
            "agents": [{"id": "solo", "name": "Solo", "capacity": 1, "shift": []}]}
    first, second = await asyncio.gather(api.post("/api/capacity/simulate", json=body, headers=supervisor),
                                         api.post("/api/capacity/simulate", json=body, headers=supervisor))
    assert sorted([first.status_code, second.status_code]) == [200, 409]
    refused = second if second.status_code == 409 else first
    assert "A simulation is already running here" in refused.json()["error"]["detail"]
    result = (first if first.status_code == 200 else second).json()
    assert result["seeds"] == [0, 1] and [agent["id"] for agent in result["candidate_roster"]] == ["solo"]
    assert result["current"]["overall"]["queued"]["mean"] == 4
    after = await api.post("/api/capacity/simulate", json=body, headers=supervisor)  # the lock is released
    assert after.status_code == 200


async def test_bad_input_is_400_with_a_sentence_and_agents_are_refused(api: httpx.AsyncClient) -> None:
    supervisor, agent = await sign_in(api, "ada"), await sign_in(api, "grace")
    assert (await api.get("/api/capacity/plan", headers=agent)).status_code == 403
    window = {"weekday": 0, "start": "10:00", "end": "09:00"}
    for method, path, payload, sentence in [
            ("GET", "/api/capacity/plan", {"interval": 20}, "15, 30 or 60 minutes"),
            ("GET", "/api/capacity/plan", {"days": 40}, "days"),
            ("GET", "/api/capacity/forecast", {"since": "2026-12-01", "until": "2026-11-01"}, "The period is empty"),
            ("GET", "/api/capacity/forecast", {"since": "2026-01-01", "until": "2026-12-01"}, "at most 31 days"),
            ("POST", "/api/capacity/what-if", {"agents": [{"id": "a", "shift": [window]}]}, "ends after it starts"),
            ("POST", "/api/capacity/what-if", {"agents": [{"id": "a"}, {"id": "a"}]}, "names an agent twice"),
            ("POST", "/api/capacity/what-if", {"agents": [{"id": "a", "timezone": "Mars/Olympus"}]}, "not a time zone"),
            ("POST", "/api/capacity/simulate", {"since": "2026-11-30", "until": "2026-12-01", "routing": "a: [1"},
             "not valid YAML"),
            ("POST", "/api/capacity/simulate", {"since": "2026-11-30", "until": "2026-12-01",
                                                "routing": "strategies: [{name: psychic}]"}, "not valid"),
            ("POST", "/api/capacity/simulate", {"since": "2026-11-30", "until": "2026-12-01", "routing": "- 1"},
             "is a mapping"),
            ("POST", "/api/capacity/simulate", {"since": "2026-11-30", "until": "2026-12-01",
                                                "routing": "a: &a [1, 1]\nb: &b [*a, *a]\nstrategies: [*b, *b]"},
             "may not use YAML aliases"),
            ("POST", "/api/capacity/simulate", {"since": "2026-10-01", "until": "2026-12-01"}, "at most 31 days")]:
        if method == "GET":
            response = await api.get(path, params=payload, headers=supervisor)
        else:
            response = await api.post(path, json=payload, headers=supervisor)
        assert response.status_code == 400, (path, payload, response.text)
        assert sentence in response.json()["error"]["detail"], (path, payload, response.text)


async def test_without_history_the_page_says_why(serve: Serve) -> None:
    app, _ = await serve()  # data/demo: accounts, no ticket
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://handoff.test") as api:
        supervisor = await sign_in(api, "ada")
        plan = (await api.get("/api/capacity/plan", headers=supervisor)).json()
        assert not plan["available"] and "has a handle time" in plan["reason"] and len(plan["roster"]) == 4
        found = (await api.get("/api/capacity/forecast", headers=supervisor)).json()
        assert found["forecast_error"].startswith("Too little history to forecast from")
        assert {row["forecast"] for row in found["intervals"]} == {None} and found["wape"] is None
