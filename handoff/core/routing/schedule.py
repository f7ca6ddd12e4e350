"""Time of day: agents on shift, and the business hours that decide ``offline``.

:class:`ScheduleStrategy` optimises continuity at shift ends: it excludes
agents outside their shift (``ShiftWindow`` wall times in the agent's own
``timezone``; an agent with no windows is always on shift), and in the last
``wind_down_minutes`` of a shift the score falls from 1 to 0, so a new
conversation goes to a colleague who stays rather than to someone leaving.

:class:`BusinessHours` says when the service is open at all; the service moves a
hand-off requested while closed to ``offline`` (a ticket and a promised
callback at :meth:`BusinessHours.next_opening`).

How they fail: an agent with a wrong ``timezone`` is excluded at the wrong
hours, and an unknown zone excludes the agent altogether (fix the profile);
a window cannot cross midnight (split it in two: ``22:00-24:00`` and
``00:00-06:00``), and a night window split that way ends at 24:00, so the wind
down starts early for it; agents who stay late are excluded at the minute their
shift ends. Wall times follow daylight saving (zoneinfo), so a window in the
skipped hour of spring is shorter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from handoff.core.errors import RoutingConfigError
from handoff.core.model import AgentSnapshot, ShiftWindow, WaitingConversation
from handoff.core.routing.base import Options, Scores

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_MINUTES = 24 * 60
MIDNIGHT = time(0, 0)
SEARCH_DAYS = 400  # next_opening looks this far ahead (a year of holidays and some)


@lru_cache(maxsize=256)
def zone(key: str) -> ZoneInfo | None:
    """The IANA zone ``key``, or None if unknown (cached: routing asks for it per agent)."""
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _minutes(moment: time | datetime) -> float:
    return moment.hour * 60 + moment.minute + moment.second / 60


class ScheduleStrategy:
    """Excludes agents off shift; prefers those not about to leave.

    Args:
        wind_down_minutes: in the last minutes of a shift the score falls linearly to 0; 0 turns it off.
    """

    name: ClassVar[str] = "schedule"

    def __init__(self, wind_down_minutes: float = 15.0) -> None:
        self.wind_down_minutes = wind_down_minutes

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> ScheduleStrategy:
        reader = Options(cls.name, options, ("wind_down_minutes",))
        return cls(wind_down_minutes=reader.number("wind_down_minutes", 15.0, maximum=DAY_MINUTES))

    def evaluate(self, conversation: WaitingConversation, agents: Sequence[AgentSnapshot], now: datetime) -> Scores:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        local: dict[str, tuple[int, time, float] | None] = {}  # timezone -> (weekday, wall time, minute)
        scores: Scores = {}
        wind_down = self.wind_down_minutes
        for agent in agents:
            if not agent.shift:
                scores[agent.agent_id] = 1.0
                continue
            if agent.timezone not in local:
                tz = zone(agent.timezone)
                moment = now.astimezone(tz) if tz is not None else None
                local[agent.timezone] = (moment.weekday(), moment.time(), _minutes(moment)) if moment else None
            where = local[agent.timezone]
            scores[agent.agent_id] = None  # off shift, or an unknown timezone
            if where is None:
                continue
            weekday, wall, minute = where
            for window in agent.shift:  # inlined: this loop runs for every agent of every decision
                # compare time objects directly (cheap), work in minutes only for the matching window;
                # an end at 00:00 means midnight at the end of the day (a window cannot cross midnight)
                if window.weekday == weekday and window.start <= wall and (wall < window.end or window.end == MIDNIGHT):
                    end = window.end
                    left = (DAY_MINUTES if end == MIDNIGHT else end.hour * 60 + end.minute + end.second / 60) - minute
                    scores[agent.agent_id] = 1.0 if left >= wind_down else left / wind_down
                    break
        return scores


def _parse_ranges(day: str, value: Any) -> tuple[tuple[int, int], ...]:
    """``"09:00-18:00"``, a list of such ranges, or ``closed`` -> minute ranges."""
    if value is None or value == "closed" or value is False:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise RoutingConfigError(f"business_hours.hours.{day} must be 'HH:MM-HH:MM', a list of them, or closed.")
    ranges = []
    for item in items:
        try:
            start_text, end_text = str(item).split("-")
            start, end = (int(h) * 60 + int(m) for h, m in (t.strip().split(":") for t in (start_text, end_text)))
        except ValueError:
            raise RoutingConfigError(f"business_hours.hours.{day}: {item!r} is not 'HH:MM-HH:MM'.") from None
        if not 0 <= start < end <= DAY_MINUTES:
            raise RoutingConfigError(f"business_hours.hours.{day}: {item!r} must start before it ends, "
                                     "within one day (00:00-24:00).")
        ranges.append((start, end))
    return tuple(sorted(ranges))


class BusinessHours:
    """When the service takes hand-offs: weekly hours in one timezone, minus holidays.

    Args:
        timezone: IANA zone of the hours and holidays.
        weekly: seven tuples (Monday first) of ``(start, end)`` minute-of-day ranges; None for always open.
        holidays: local dates closed all day.
    """

    def __init__(self, timezone: str = "UTC", weekly: Sequence[tuple[tuple[int, int], ...]] | None = None,
                 holidays: frozenset[date] = frozenset()) -> None:
        tz = zone(timezone)
        if tz is None:
            raise RoutingConfigError(f"business_hours.timezone: unknown timezone {timezone!r}.")
        self.timezone = timezone
        self.tz = tz
        all_day: tuple[tuple[int, int], ...] = ((0, DAY_MINUTES),)
        self.weekly: tuple[tuple[tuple[int, int], ...], ...] = tuple(weekly) if weekly is not None else (all_day,) * 7
        if len(self.weekly) != 7:
            raise ValueError("weekly needs one entry per weekday")
        if not any(self.weekly):
            raise RoutingConfigError("business_hours.hours opens on no day of the week.")
        self.holidays = holidays

    @classmethod
    def from_options(cls, options: Mapping[str, Any] | None) -> BusinessHours:
        """Build from the ``business_hours`` section (absent or empty: open 24/7).

        Keys: ``timezone`` (IANA, default UTC), ``hours`` (``mon``..``sun`` -> ``"09:00-18:00"``, a list of
        ranges, or ``closed``; a day not named is closed; no ``hours`` at all is open every day all day),
        ``holidays`` (a list of ``YYYY-MM-DD`` dates, closed all day).
        """
        reader = Options("business_hours", options, ("timezone", "hours", "holidays"), kind="routing section")
        section = reader.options
        weekly = None
        if section.get("hours") is not None:
            hours = section["hours"]
            if not isinstance(hours, Mapping) or any(day not in DAYS for day in hours):
                raise RoutingConfigError(f"business_hours.hours must map days ({', '.join(DAYS)}) to hours.")
            weekly = [_parse_ranges(day, hours.get(day)) for day in DAYS]
        holidays = set()
        for item in section.get("holidays") or []:
            try:
                holidays.add(item if isinstance(item, date) else date.fromisoformat(str(item)))
            except ValueError:
                raise RoutingConfigError(f"business_hours.holidays: {item!r} is not a YYYY-MM-DD date.") from None
        return cls(reader.text("timezone", "UTC"), weekly, frozenset(holidays))

    def is_open(self, now: datetime) -> bool:
        """Whether hand-offs are taken at ``now`` (timezone-aware)."""
        local = now.astimezone(self.tz)
        if local.date() in self.holidays:
            return False
        minute = _minutes(local.time())
        return any(start <= minute < end for start, end in self.weekly[local.weekday()])

    def next_opening(self, now: datetime) -> datetime:
        """``now`` if open, else the next moment the service opens, in the business timezone.

        Raises:
            RoutingConfigError: it does not open within a year and some (holidays cover every open day).
        """
        if self.is_open(now):
            return now
        local = now.astimezone(self.tz)
        for offset in range(SEARCH_DAYS):
            day = local.date() + timedelta(days=offset)
            if day in self.holidays:
                continue
            for start, _end in self.weekly[day.weekday()]:
                wall = datetime.combine(day, time(start // 60, start % 60), tzinfo=self.tz)
                opening = wall.astimezone(UTC).astimezone(self.tz)  # moves a wall time skipped by DST
                if opening > local:
                    return opening
        raise RoutingConfigError(f"The business hours do not open within {SEARCH_DAYS} days.")

    def __repr__(self) -> str:
        return f"BusinessHours(timezone={self.timezone!r}, weekly={self.weekly!r}, holidays={len(self.holidays)})"


def shift_spans(shift: Sequence[ShiftWindow], timezone: str, since: datetime,
                until: datetime) -> list[tuple[datetime, datetime]]:
    """The UTC spans within ``[since, until)`` that a shift covers, as :class:`ScheduleStrategy` reads it.

    The same rules: wall times in ``timezone`` (daylight saving through zoneinfo), an end at 00:00 is the
    midnight ending the day, no windows means always on shift, an unknown timezone means never.
    """
    if since.tzinfo is None or until.tzinfo is None:
        raise ValueError("since and until must be timezone-aware")
    if not shift:
        return [(since.astimezone(UTC), until.astimezone(UTC))] if since < until else []
    tz = zone(timezone)
    if tz is None:
        return []
    spans = []
    first, last = since.astimezone(tz).date() - timedelta(days=1), until.astimezone(tz).date()
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        for window in shift:
            if window.weekday != day.weekday():
                continue
            end_day = day + timedelta(days=1) if window.end == MIDNIGHT else day
            start = datetime.combine(day, window.start, tzinfo=tz).astimezone(UTC)
            end = datetime.combine(end_day, window.end, tzinfo=tz).astimezone(UTC)
            start, end = max(start, since.astimezone(UTC)), min(end, until.astimezone(UTC))
            if start < end:
                spans.append((start, end))
    return sorted(spans)
