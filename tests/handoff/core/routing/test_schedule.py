"""The schedule strategy (shifts in the agents' own timezones) and business hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from handoff.core.errors import RoutingConfigError
from handoff.core.model import AgentId, AgentSnapshot, ShiftWindow
from handoff.core.routing.router import Router
from handoff.core.routing.schedule import BusinessHours, ScheduleStrategy
from tests.handoff.core.routing.contract import StrategyContract
from tests.handoff.core.routing.pool import BERLIN, NOW, agent, pool, waiting, weekdays


class TestScheduleStrategy(StrategyContract):
    name = "schedule"


class TestShiftScheduleStrategy(StrategyContract):
    """The contract holds for agents with shifts (on shift at NOW, Wednesday 15:00 in Berlin)."""

    name = "schedule"

    def fit_agent(self, agent_id: str, **fields: Any) -> AgentSnapshot:
        return agent(agent_id, shift=weekdays(8, 17), timezone=BERLIN, **fields)


def on_shift(now: datetime, agents: list[AgentSnapshot] | None = None) -> dict[AgentId, float | None]:
    scores = ScheduleStrategy().evaluate(waiting(), agents if agents is not None else pool(), now)
    return {a: s for a, s in scores.items() if s is not None}


def test_schedule_excludes_agents_off_shift_in_their_own_timezone() -> None:
    # 15:00 in Berlin, 09:00 in New York: everyone but the New York late shift (12-20)
    assert set(on_shift(NOW)) == {a.agent_id for a in pool()} - {"n-t3-1"}
    # 17:50 in Berlin, 11:50 in New York: the Berlin late shift (10-19) and New York's day shift
    evening = datetime(2026, 11, 25, 16, 50, tzinfo=UTC)
    assert set(on_shift(evening)) == {"b-t3-1", "n-t1-1", "n-t1-2", "n-t1-3", "n-t2-1", "n-t2-2"}


def test_schedule_routes_nowhere_at_the_weekend() -> None:
    saturday = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)
    assert Router([(ScheduleStrategy(), 1.0)]).route(waiting(), pool(), saturday).agent_id is None


def test_schedule_winds_down_before_a_shift_ends() -> None:
    nine_to_leave = datetime(2026, 11, 25, 17, 51, tzinfo=UTC)  # 18:51 in Berlin, shift ends 19:00
    assert on_shift(nine_to_leave)[AgentId("b-t3-1")] == pytest.approx(9 / 15)
    colleague = agent("stays", idle_since=9e9)  # always on shift, busy for longer
    leaving = [a for a in pool() if a.agent_id == "b-t3-1"]
    assert Router([(ScheduleStrategy(), 1.0)]).route(waiting(), [*leaving, colleague], nine_to_leave).agent_id == "stays"


def test_schedule_follows_daylight_saving_time() -> None:
    berliner = [agent("b", shift=weekdays(9, 17), timezone=BERLIN)]
    assert on_shift(datetime(2026, 3, 27, 7, 30, tzinfo=UTC), berliner) == {}  # Friday 08:30 CET
    assert set(on_shift(datetime(2026, 3, 30, 7, 30, tzinfo=UTC), berliner)) == {"b"}  # Monday 09:30 CEST


def test_schedule_reads_a_midnight_end_as_the_end_of_the_day() -> None:
    night = [agent("night", shift=(ShiftWindow(2, time(22), time(0)),), timezone=BERLIN)]
    assert set(on_shift(datetime(2026, 11, 25, 22, 30, tzinfo=UTC), night)) == {"night"}  # 23:30 in Berlin


def test_schedule_excludes_agents_with_an_unknown_timezone() -> None:
    lost = [agent("lost", shift=weekdays(0, 23), timezone="Mars/Olympus_Mons")]
    assert on_shift(NOW, lost) == {}


def test_schedule_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ScheduleStrategy().evaluate(waiting(), pool(), datetime(2026, 11, 25, 14, 0))


OFFICE = {"timezone": BERLIN, "hours": {"mon": "09:00-18:00", "tue": "09:00-18:00", "wed": "09:00-18:00",
                                        "thu": "09:00-18:00", "fri": ["09:00-12:30", "13:30-18:00"],
                                        "sat": "closed"},
          "holidays": [date(2026, 12, 24), "2026-12-25"]}


def berlin(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(BERLIN))


def test_business_hours_default_is_always_open() -> None:
    hours = BusinessHours.from_options(None)
    for moment in (NOW, datetime(2026, 12, 25, 3, 0, tzinfo=UTC), datetime(2027, 1, 2, 23, 59, tzinfo=UTC)):
        assert hours.is_open(moment)
        assert hours.next_opening(moment) == moment


def test_business_hours_office_week_in_berlin() -> None:
    hours = BusinessHours.from_options(OFFICE)
    assert hours.is_open(berlin(2026, 11, 25, 9, 0))
    assert not hours.is_open(berlin(2026, 11, 25, 18, 0))  # the end is exclusive
    assert hours.next_opening(berlin(2026, 11, 25, 7, 0)) == berlin(2026, 11, 25, 9, 0)
    assert not hours.is_open(berlin(2026, 11, 27, 12, 45))  # Friday lunch break
    assert hours.next_opening(berlin(2026, 11, 27, 12, 45)) == berlin(2026, 11, 27, 13, 30)
    # Friday evening: closed Saturday and Sunday (not named), Monday 09:00 Berlin is 08:00 UTC
    assert hours.next_opening(datetime(2026, 11, 27, 17, 30, tzinfo=UTC)) == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def test_business_hours_skip_holidays() -> None:
    hours = BusinessHours.from_options(OFFICE)
    assert not hours.is_open(berlin(2026, 12, 24, 10, 0))
    assert hours.next_opening(berlin(2026, 12, 23, 19, 0)) == berlin(2026, 12, 28, 9, 0)


def test_business_hours_opening_in_the_skipped_hour_moves_after_it() -> None:
    hours = BusinessHours.from_options({"timezone": BERLIN, "hours": {"sun": "02:30-04:00"}})
    # 28 March 2027: Berlin clocks jump from 02:00 to 03:00; 02:30 does not exist, 03:30 CEST does
    assert hours.next_opening(berlin(2027, 3, 27, 12, 0)) == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)


@pytest.mark.parametrize("options, message", [
    ({"timezone": "Europe/Atlantis"}, "unknown timezone"),
    ({"hours": {"monday": "09:00-18:00"}}, "must map days"),
    ({"hours": {"mon": "9-18"}}, "is not 'HH:MM-HH:MM'"),
    ({"hours": {"mon": "18:00-09:00"}}, "must start before it ends"),
    ({"hours": {"mon": "closed"}}, "opens on no day"),
    ({"holidays": ["Christmas"]}, "not a YYYY-MM-DD date"),
    ({"opening": "soon"}, "no option 'opening'"),
])
def test_business_hours_reject_malformed_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(RoutingConfigError, match=message):
        BusinessHours.from_options(options)
