"""Every QA metric against a hand-built history with known answers (tests/handoff/adapters/tickets/history.py),
on SQLite and PostgreSQL: the facts the ticket log reads, measured and bucketed by the reports' service part."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest

from handoff.adapters.tickets import TicketLog
from handoff.core.errors import BadRequest, NotAllowed
from handoff.core.model import AgentId, Role
from handoff.core.targets import Targets
from handoff.service.auth import Principal
from handoff.service.reports import Reports
from tests.handoff.adapters.tickets.history import NOW, build_history

SUPERVISOR = Principal(AgentId("a_sup"), "sup", "Sup", Role.SUPERVISOR)
AGENT = Principal(AgentId("a_agent"), "agent", "Agent", Role.AGENT)
BERLIN = ZoneInfo("Europe/Berlin")
PERIOD = {"since": "2026-11-25", "until": "2026-11-27"}

TOTAL: dict[str, Any] = {
    "conversations": 6, "contained": 2, "containment_rate": 0.3333, "handoffs": 4, "handoff_rate": 0.6667,
    "tickets": 5,
    "queue_wait_mean": 130.0, "queue_wait_p50": 60.0, "queue_wait_p90": 252.0,
    "first_response_mean": 156.667, "first_response_p50": 100.0, "first_response_p90": 276.0,
    "handle_time_mean": 1070.0, "handle_time_p50": 1100.0, "handle_time_p90": 1132.0,
    "resolution_time_mean": 1233.333, "resolution_time_p50": 1200.0, "resolution_time_p90": 1440.0,
    "abandoned": 1, "abandonment_rate": 0.2, "transfers": 1, "transfer_rate": 0.3333,
    "reopened": 1, "reopen_rate": 0.5,
    "csat_responses": 3, "csat_average": 3.667, "csat_satisfied": 0.6667, "csat_response_rate": 0.5,
    "helpful_votes": 4, "helpfulness": 0.5,
    "sla_met": 2, "sla_measured": 3, "sla_attainment": 0.6667,
}


@pytest.fixture
async def reports(log: TicketLog) -> Reports:
    await build_history(log)
    return Reports(log, Targets(), BERLIN, lambda: NOW.timestamp())


def rows(found: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["key"]: row["metrics"] for row in found["rows"]}


async def test_every_metric_of_the_period(reports: Reports) -> None:
    found = await reports.summary(SUPERVISOR, **PERIOD)
    assert found["total"] == TOTAL
    assert found["reasons"] == {"explicit_request": 3, "low_confidence": 1, "out_of_scope": 1}
    assert (found["since"], found["until"]) == ("2026-11-25T00:00:00+01:00", "2026-11-27T00:00:00+01:00")
    assert found["timezone"] == "Europe/Berlin" and found["targets"]["first_response_seconds"] == 180


async def test_by_agent_and_team(reports: Reports) -> None:
    by_agent = await reports.summary(SUPERVISOR, **PERIOD, by="agent")
    assert [(row["key"], row["label"]) for row in by_agent["rows"]] == [
        ("a_ada", "Ada Lovelace"), ("a_grace", "Grace Hopper"), ("(none)", "(none)")]
    grace, ada, nobody = (rows(by_agent)[key] for key in ("a_grace", "a_ada", "(none)"))
    assert (grace["tickets"], grace["queue_wait_mean"], grace["queue_wait_p90"], grace["reopened"]) == (2, 45.0, 57.0, 1)
    assert (grace["sla_attainment"], grace["csat_average"], grace["transfers"]) == (1.0, 5.0, 0)
    assert (ada["tickets"], ada["transfers"], ada["transfer_rate"], ada["sla_attainment"]) == (1, 1, 1.0, 0.0)
    assert (ada["handle_time_mean"], ada["csat_average"]) == (1100.0, 2.0)
    assert (nobody["tickets"], nobody["abandoned"], nobody["helpful_votes"], nobody["csat_average"]) == (2, 1, 4, 4.0)
    assert grace["containment_rate"] is None and grace["conversations"] is None  # the bot's work has no agent
    by_team = rows(await reports.summary(SUPERVISOR, **PERIOD, by="team"))
    assert set(by_team) == {"tier 1", "tier 2", "(none)"} and by_team["tier 1"]["tickets"] == 2


async def test_by_path_and_channel(reports: Reports) -> None:
    by_path = rows(await reports.summary(SUPERVISOR, **PERIOD, by="path"))
    assert (by_path["bot"]["conversations"], by_path["bot"]["containment_rate"]) == (2, 1.0)
    assert (by_path["bot"]["csat_average"], by_path["bot"]["csat_response_rate"], by_path["bot"]["tickets"]) == (
        4.0, 0.5, 0)
    assert (by_path["handoff"]["conversations"], by_path["handoff"]["tickets"], by_path["handoff"]["handoff_rate"]) == (
        4, 5, 1.0)
    by_channel = rows(await reports.summary(SUPERVISOR, **PERIOD, by="channel"))
    assert (by_channel["web"]["conversations"], by_channel["web"]["handoff_rate"], by_channel["web"]["tickets"]) == (
        5, 0.6, 4)
    assert (by_channel["whatsapp"]["conversations"], by_channel["whatsapp"]["first_response_p50"]) == (1, 320.0)


async def test_by_tier_category_reason_and_article(reports: Reports) -> None:
    by_tier = rows(await reports.summary(SUPERVISOR, **PERIOD, by="tier"))
    assert (by_tier["1"]["tickets"], by_tier["2"]["tickets"], by_tier["1"]["abandonment_rate"]) == (4, 1, 0.25)
    by_category = rows(await reports.summary(SUPERVISOR, **PERIOD, by="category"))
    assert (by_category["orders"]["tickets"], by_category["billing"]["resolution_time_p50"]) == (3, 1500.0)
    assert by_category["(none)"]["tickets"] == 1 and by_category["orders"]["csat_average"] == 5.0
    by_reason = rows(await reports.summary(SUPERVISOR, **PERIOD, by="reason"))
    assert {key: row["handoffs"] for key, row in by_reason.items() if row["handoffs"]} == {
        "explicit_request": 3, "low_confidence": 1, "out_of_scope": 1}
    by_article = rows(await reports.summary(SUPERVISOR, **PERIOD, by="article"))
    assert (by_article["kb/shipping"]["helpful_votes"], by_article["kb/shipping"]["helpfulness"]) == (3, 0.6667)
    assert (by_article["kb/returns"]["helpfulness"], by_article["kb/shipping"]["tickets"]) == (0.0, None)


async def test_days_and_weeks_in_the_teams_timezone(reports: Reports) -> None:
    days = await reports.timeseries(SUPERVISOR, **PERIOD, bucket="day")
    assert [(p["start"], p["metrics"]["tickets"], p["metrics"]["conversations"]) for p in days["points"]] == [
        ("2026-11-25", 4, 5), ("2026-11-26", 1, 1)]
    assert days["points"][0]["metrics"]["queue_wait_p50"] == 60.0
    weeks = await reports.timeseries(SUPERVISOR, **PERIOD, bucket="week", metric="tickets")
    assert [(p["start"], p["metrics"]) for p in weeks["points"]] == [("2026-11-23", {"tickets": 5})]


async def test_today_against_the_targets(reports: Reports) -> None:
    today = await reports.today(SUPERVISOR)
    assert today["since"] == "2026-11-26T00:00:00+01:00"
    assert today["total"]["tickets"] == 1 and today["total"]["conversations"] == 1
    tiles = {tile["target"]: tile for tile in today["tiles"]}
    assert tiles["handoff_rate"] == {"target": "handoff_rate", "metric": "handoff_rate", "value": 1.0, "goal": 0.4,
                                     "direction": "max", "met": False}
    assert tiles["containment_rate"]["met"] is False and tiles["queue_wait_seconds"]["met"] is None


async def test_csv_lines_per_bucket_and_group(reports: Reports) -> None:
    text = await reports.csv(SUPERVISOR, **PERIOD, by="channel", bucket="day")
    lines = [line.split(",") for line in text.splitlines()]
    assert lines[0][:6] == ["since", "until", "channel", "label", "conversations", "contained"]
    assert [line[:5] for line in lines[1:]] == [["2026-11-25", "2026-11-26", "web", "web", "4"],
                                                ["2026-11-25", "2026-11-26", "whatsapp", "whatsapp", "1"],
                                                ["2026-11-26", "2026-11-27", "web", "web", "1"]]
    whole = (await reports.csv(SUPERVISOR, **PERIOD)).splitlines()
    assert len(whole) == 2 and whole[1].startswith("2026-11-25,2026-11-27,all,all,6,2,0.3333,4,0.6667,5,")


@pytest.mark.parametrize(("options", "sentence"), [
    ({"since": "yesterday"}, "since must be a date"),
    ({"since": "2026-11-27", "until": "2026-11-25"}, "The period is empty"),
    ({"since": "2024-01-01", "until": "2026-11-25"}, "at most 732 days"),
    ({"since": "2026-11-25T10:00:00"}, "needs its offset"),
    ({"by": "colour"}, "broken down by one of path, agent"),
])
async def test_bad_periods_and_breakdowns_are_refused_with_a_sentence(reports: Reports, options: dict[str, str],
                                                                      sentence: str) -> None:
    with pytest.raises(BadRequest, match=sentence):
        await reports.summary(SUPERVISOR, **options)


async def test_agents_see_no_reports(reports: Reports) -> None:
    with pytest.raises(NotAllowed, match="Only supervisors and admins"):
        await reports.summary(AGENT, **PERIOD)
    with pytest.raises(NotAllowed):
        await reports.today(AGENT)
