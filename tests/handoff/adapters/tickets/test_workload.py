"""Staffing's inputs measured from the ticket log, and a plan on a small history (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from handoff.adapters.tickets import TicketLog
from handoff.core.routing.schedule import BusinessHours
from handoff.core.staffing import Target, agents_for, required_servers
from handoff.service.staffing import Staffing
from tests.handoff.adapters.tickets.traffic import GRACE, MONDAYS, PLANNED, build_traffic

SINCE, UNTIL = MONDAYS[0] - timedelta(days=1), MONDAYS[-1] + timedelta(days=1)
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC).timestamp()
TARGET = Target(service_level=0.8, within=60.0, occupancy=0.85, shrinkage=0.3)


async def test_arrivals_handle_time_and_patience(log: TicketLog) -> None:
    await build_traffic(log)
    arrivals = await log.contacts.per_interval(SINCE, UNTIL, 1800, live=True)
    assert arrivals == [(monday.timestamp(), 4) for monday in MONDAYS]  # the callback ticket is no live contact
    assert await log.contacts.per_interval(SINCE, UNTIL, 60, live=True) == [
        ((monday + timedelta(minutes=n)).timestamp(), 1) for monday in MONDAYS for n in range(4)]
    assert sum(count for _, count in await log.contacts.per_interval(SINCE, UNTIL, 1800, handoffs=True)) == 17
    handle = await log.workload.handle_time(SINCE, UNTIL)
    assert (handle.mean_seconds, handle.tickets) == (pytest.approx(600.0), 12)
    patience = await log.workload.patience(SINCE, UNTIL, GRACE)
    assert (patience.abandoned, patience.waited) == (4, 16)
    assert patience.mean_seconds == pytest.approx(170.0)
    assert (await log.workload.patience(SINCE, UNTIL)).mean_seconds == pytest.approx(4 * (90 + 200) / 4)
    empty = await log.workload.handle_time(UNTIL, UNTIL + timedelta(days=1))
    assert (empty.mean_seconds, empty.tickets) == (None, 0)


async def test_plan_on_a_small_history(log: TicketLog) -> None:
    await build_traffic(log)
    staffing = Staffing(log, BusinessHours(), GRACE, lambda: NOW)
    plan = await staffing.plan(PLANNED, 1, 1800, TARGET, demand="recent")
    assert plan is not None and len(plan.rows) == 48
    assert plan.demand_source.startswith("measured arrivals, same weekday and interval averaged over the last 4")
    workload = plan.measured.workload
    assert workload is not None
    assert (workload.handle_seconds, workload.patience_seconds, workload.concurrency) == (
        pytest.approx(600.0), pytest.approx(170.0), 2.0)
    nine, half_past = plan.rows[18], plan.rows[19]
    assert nine.start == datetime(2026, 12, 7, 9, 0, tzinfo=UTC) and nine.demand == 4.0
    rate = 4 / 1800
    assert nine.required_c == agents_for(required_servers(rate, 600.0, TARGET), 2.0, 0.3)
    assert nine.required_a == agents_for(required_servers(rate, 600.0, TARGET, 170.0), 2.0, 0.3)
    assert nine.scheduled == 1.0 and nine.gap == 1.0 - nine.required
    assert nine.understaffed  # one agent of two chats, less 30% shrinkage: one server for 1.3 Erlangs
    assert nine.expected.servers == 1 and 0 < nine.expected.service_level < 0.8
    assert half_past.demand == 0.0 and half_past.required == 0 and half_past.gap == 1.0
    assert plan.understaffed == 1
    assert plan.to_json()["understaffed_intervals"] == 1


async def test_plan_takes_a_demand_series_and_closed_hours(log: TicketLog) -> None:
    await build_traffic(log)
    hours = BusinessHours("UTC", [((9 * 60, 10 * 60),)] * 5 + [(), ()])  # weekdays 09:00-10:00
    staffing = Staffing(log, hours, GRACE, lambda: NOW)
    assert [s.hour * 60 + s.minute for s in staffing.starts(PLANNED, 1, 1800)] == [540, 570]
    forecast = [(datetime(2026, 12, 7, 9, 30, tzinfo=UTC), 20.0)]
    plan = await staffing.plan(PLANNED, 1, 1800, TARGET, demand=forecast)
    assert plan is not None and plan.demand_source == "given"
    assert [(row.start, row.demand) for row in plan.rows] == forecast
    assert plan.rows[0].understaffed and plan.rows[0].expected.abandonment > 0.1


async def test_no_handle_time_no_plan(log: TicketLog) -> None:
    staffing = Staffing(log, BusinessHours(), GRACE, lambda: NOW)
    assert await staffing.plan(PLANNED, 1, 1800, TARGET) is None
    assert await staffing.understaffed_tomorrow(TARGET) is None


async def test_plan_for_a_tier_or_skill(log: TicketLog) -> None:
    await build_traffic(log)  # tier 1, category orders; grace: tier 1, no skills
    assert await log.contacts.per_interval(SINCE, UNTIL, 1800, tier=2, live=True) == []
    assert await log.contacts.per_interval(SINCE, UNTIL, 1800, tier=1, category="orders", live=True) == [
        (monday.timestamp(), 4) for monday in MONDAYS]
    staffing = Staffing(log, BusinessHours(), GRACE, lambda: NOW)
    second = await staffing.plan(PLANNED, 1, 1800, TARGET, tier=2)
    assert second is not None and {(row.demand, row.scheduled) for row in second.rows} == {(0.0, 0.0)}
    orders = await staffing.plan(PLANNED, 1, 1800, TARGET, skill="orders")
    assert orders is not None and orders.demand_source.startswith("forecast")
    assert orders.rows[18].demand == pytest.approx(4.0, abs=0.01) and orders.rows[18].scheduled == 0.0
    assert orders.rows[18].expected.service_level == 0.0 and orders.understaffed == 1
