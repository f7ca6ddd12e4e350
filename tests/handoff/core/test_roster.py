"""The roster per interval: shifts in the agents' own timezones, prorated, and a night shift split at midnight."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import pytest

from handoff.core.model import (
    AgentId,
    AgentSnapshot,
    ConversationId,
    CustomerId,
    CustomerProfile,
    ShiftWindow,
    WaitingConversation,
)
from handoff.core.roster import coverage, eligible, mean_capacity
from handoff.core.routing.schedule import ScheduleStrategy, shift_spans

HALF_HOUR = 1800.0
MONDAY = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)  # a Monday, winter time in Europe and America


@dataclass(frozen=True)
class Person:
    shift: tuple[ShiftWindow, ...]
    timezone: str = "UTC"
    capacity: int = 1
    tiers: frozenset[int] = frozenset({1})
    skills: frozenset[str] = frozenset()


def window(weekday: int, start: str, end: str) -> ShiftWindow:
    return ShiftWindow(weekday, time.fromisoformat(start), time.fromisoformat(end))


def halves(first: datetime, count: int) -> list[datetime]:
    return [first + timedelta(minutes=30 * i) for i in range(count)]


def test_a_shift_counts_in_the_agents_own_timezone() -> None:
    # 09:00-17:00 Monday in New York (UTC-5 in December) is 14:00-22:00 UTC
    grace = Person((window(0, "09:00", "17:00"),), "America/New_York", capacity=3)
    starts = halves(MONDAY, 48)
    staffed = coverage([grace], starts, HALF_HOUR)
    on = [start.hour + start.minute / 60 for start, n in zip(starts, staffed.agents, strict=True) if n]
    assert on[0] == 14 and on[-1] == 21.5 and len(on) == 16
    assert set(staffed.agents) == {0.0, 1.0} and max(staffed.slots) == 3.0


def test_a_shift_starting_within_an_interval_counts_for_its_share() -> None:
    ada = Person((window(0, "09:15", "10:00"),), capacity=2)
    staffed = coverage([ada], halves(MONDAY + timedelta(hours=9), 2), HALF_HOUR)
    assert staffed.agents == (0.5, 1.0) and staffed.slots == (1.0, 2.0)


def test_a_night_shift_split_at_midnight_covers_the_night() -> None:
    # a window cannot cross midnight: 22:00-24:00 Monday and 00:00-06:00 Tuesday (24:00 is written 00:00)
    night = Person((window(0, "22:00", "00:00"), window(1, "00:00", "06:00")), "Europe/Berlin")
    starts = halves(MONDAY + timedelta(hours=20), 12)  # 20:00 UTC Monday .. 02:00 UTC Tuesday
    staffed = coverage([night], starts, HALF_HOUR)
    # Berlin is UTC+1: on shift 21:00 UTC Monday to 05:00 UTC Tuesday, unbroken at local midnight (23:00 UTC)
    assert staffed.agents == (0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)


def test_spans_agree_with_routing_minute_by_minute() -> None:
    # The roster reads shifts as routing does: sample a day around a DST change, compare with the strategy.
    shift = (window(6, "01:00", "04:00"), window(6, "22:00", "00:00"), window(0, "00:00", "02:30"))
    zone = "Europe/Berlin"  # clocks went back on Sunday 2026-10-25 at 03:00 local
    since = datetime(2026, 10, 24, 22, 0, tzinfo=UTC)
    spans = shift_spans(shift, zone, since, since + timedelta(days=2))
    agent = AgentSnapshot(agent_id=AgentId("a"), shift=shift, timezone=zone)
    waiting = WaitingConversation(ConversationId("c"), CustomerProfile(CustomerId("cu")))
    strategy = ScheduleStrategy(wind_down_minutes=0)
    for minute in range(0, 2 * 24 * 60, 7):
        moment = since + timedelta(minutes=minute)
        routed = strategy.evaluate(waiting, [agent], moment)[AgentId("a")] is not None
        assert routed == any(start <= moment < end for start, end in spans), moment


def test_no_windows_is_always_on_shift_and_an_unknown_zone_never() -> None:
    starts = halves(MONDAY, 4)
    assert coverage([Person(())], starts, HALF_HOUR).agents == (1.0,) * 4
    assert coverage([Person((window(0, "00:00", "12:00"),), "Mars/Olympus")], starts, HALF_HOUR).agents == (0.0,) * 4


def test_eligible_filters_by_tier_and_skill() -> None:
    one = Person((), tiers=frozenset({1}), skills=frozenset({"orders"}), capacity=2)
    two = Person((), tiers=frozenset({1, 2}), skills=frozenset({"payments"}), capacity=4)
    assert eligible([one, two], tier=2) == [two]
    assert eligible([one, two], skill="orders") == [one]
    assert eligible([one, two]) == [one, two]
    assert mean_capacity([one, two]) == 3.0 and mean_capacity([]) == 1.0


def test_spans_need_aware_times() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        shift_spans((), "UTC", datetime(2026, 12, 7), MONDAY)
