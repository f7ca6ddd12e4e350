"""The team a replay routes to: each agent's capacity, tiers, languages, skills and shifts.

A roster file (YAML, read by the command; this module builds from the mapping)::

    agents:
      - id: grace                 # the agent's id or username in the ticket log (or any name for a new agent)
        capacity: 3               # conversations at once (default 3)
        tiers: [1, 2]             # default [1]
        languages: [en]           # default [en]
        skills: [orders, returns] # default none
        timezone: Europe/Berlin   # the shifts' timezone (default UTC)
        shifts:                   # mon..sun -> "HH:MM-HH:MM", a list of them, or closed; none at all: always
          mon: "08:00-16:30"
          sat: ["09:00-12:00", "13:00-17:00"]

An agent is online exactly during their shifts (the replay sets them online and away at the windows' edges)
and routing sees the same windows in their snapshot, as the schedule strategy reads them from a profile.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from handoff.core.errors import BadRequest
from handoff.core.model import AgentId, AgentSnapshot, Presence, ShiftWindow
from handoff.core.routing.schedule import DAYS, zone

AGENT_KEYS = ("id", "name", "capacity", "tiers", "languages", "skills", "timezone", "shifts")


@dataclass(frozen=True)
class RosterAgent:
    """One agent of a roster; ``shift`` empty means always on shift."""

    agent_id: AgentId
    capacity: int = 3
    tiers: frozenset[int] = frozenset({1})
    languages: frozenset[str] = frozenset({"en"})
    skills: frozenset[str] = frozenset()
    shift: tuple[ShiftWindow, ...] = ()
    timezone: str = "UTC"
    name: str = ""

    def snapshot(self) -> AgentSnapshot:
        """The agent as routing sees them at the start: away (the replay sets them online), no load."""
        return AgentSnapshot(self.agent_id, Presence.AWAY, self.capacity, 0, self.tiers, self.languages,
                             self.skills, 0.0, self.shift, self.timezone)

    def online(self, since: float, until: float) -> list[tuple[float, float]]:
        """The intervals (seconds since the epoch) of ``[since, until)`` the agent works, in order."""
        if not self.shift:
            return [(since, until)]
        tz = zone(self.timezone) or UTC
        first = datetime.fromtimestamp(since, tz).date() - timedelta(days=1)
        last = datetime.fromtimestamp(until, tz).date()
        spans: list[tuple[float, float]] = []
        day = first
        while day <= last:
            for window in self.shift:
                if window.weekday == day.weekday():
                    start = _wall(day, window.start, tz)
                    end = _wall(day + timedelta(days=1), time(0), tz) if window.end == time(0) \
                        else _wall(day, window.end, tz)
                    if end > since and start < until:
                        spans.append((max(start, since), min(end, until)))
            day += timedelta(days=1)
        spans.sort()
        merged: list[tuple[float, float]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return merged


def _wall(day: date, moment: time, tz: Any) -> float:
    return datetime.combine(day, moment, tzinfo=tz).timestamp()


@dataclass(frozen=True)
class Roster:
    """The agents a scenario routes to (each named once)."""

    agents: tuple[RosterAgent, ...]

    def __post_init__(self) -> None:
        ids = [a.agent_id for a in self.agents]
        if len(set(ids)) != len(ids):
            raise BadRequest("A roster names an agent twice.")


def parse_shifts(where: str, shifts: Any) -> tuple[ShiftWindow, ...]:
    """``{mon: "08:00-16:30", sat: [...], sun: closed}`` -> shift windows (``24:00`` ends at midnight)."""
    if shifts is None:
        return ()
    if not isinstance(shifts, Mapping) or any(day not in DAYS for day in shifts):
        raise BadRequest(f"{where}: shifts must map days ({', '.join(DAYS)}) to 'HH:MM-HH:MM', a list of them, "
                         "or closed.")
    windows = []
    for day, value in shifts.items():
        if value in (None, False, "closed"):
            continue
        for item in [value] if isinstance(value, str) else value if isinstance(value, list) else [None]:
            try:
                start, end = (_clock(part) for part in str(item).split("-"))
            except ValueError:
                raise BadRequest(f"{where}: shift {item!r} on {day} is not 'HH:MM-HH:MM'.") from None
            if not (start < end or end == time(0)) or start == end:
                raise BadRequest(f"{where}: shift {item!r} on {day} must start before it ends, within the day.")
            windows.append(ShiftWindow(DAYS.index(day), start, end))
    if not windows:
        raise BadRequest(f"{where}: shifts names no working window (leave shifts out for always on shift).")
    return tuple(sorted(windows, key=lambda w: (w.weekday, w.start)))


def _clock(text: str) -> time:
    hours, minutes = text.strip().split(":")
    if (int(hours), int(minutes)) == (24, 0):
        return time(0)
    return time(int(hours), int(minutes))


def _names(where: str, entry: Mapping[str, Any], key: str, default: Sequence[Any], kind: type) -> frozenset[Any]:
    value = entry.get(key, list(default))
    if not isinstance(value, list) or not all(isinstance(v, kind) and not isinstance(v, bool) for v in value):
        raise BadRequest(f"{where}: {key} must be a list of {'numbers' if kind is int else 'names'}.")
    return frozenset(value)


def roster_from_config(config: Any) -> Roster:
    """The roster a roster file describes (see the module docstring).

    Raises:
        BadRequest: a malformed file; the message names the agent and the key.
    """
    if not isinstance(config, Mapping) or set(config) != {"agents"} or not isinstance(config["agents"], list) \
            or not config["agents"]:
        raise BadRequest("A roster is a mapping with one key, agents: a non-empty list of agents.")
    agents = []
    for number, entry in enumerate(config["agents"], start=1):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("id"), str | int):
            raise BadRequest(f"Roster agent #{number} must be a mapping with an id.")
        where = f"roster agent {entry['id']!s}"
        unknown = sorted(str(k) for k in entry if k not in AGENT_KEYS)
        if unknown:
            raise BadRequest(f"{where}: no key {unknown[0]!r} (valid keys: {', '.join(AGENT_KEYS)}).")
        capacity = entry.get("capacity", 3)
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise BadRequest(f"{where}: capacity must be a whole number of at least 1.")
        tiers = _names(where, entry, "tiers", [1], int)
        if not tiers or not tiers <= {1, 2, 3}:
            raise BadRequest(f"{where}: tiers must be some of 1, 2, 3.")
        timezone = str(entry.get("timezone", "UTC"))
        if zone(timezone) is None:
            raise BadRequest(f"{where}: unknown timezone {timezone!r}.")
        agents.append(RosterAgent(AgentId(str(entry["id"])), capacity, tiers,
                                  _names(where, entry, "languages", ["en"], str),
                                  _names(where, entry, "skills", [], str),
                                  parse_shifts(where, entry.get("shifts")), timezone,
                                  str(entry.get("name", entry["id"]))))
    return Roster(tuple(agents))
