"""The roster: how many agents (and conversation slots) each interval has on shift.

An agent counts in an interval for the share of it their shift covers (a shift starting at 09:15 gives a
half-hour interval from 09:00 half an agent), so the figures are agent-intervals, not heads. Shifts are read
exactly as routing reads them (:func:`handoff.core.routing.schedule.shift_spans`): wall times in the agent's
own timezone, no windows meaning always on shift. A slot is one conversation an agent can hold at once
(their ``capacity``): the servers of :mod:`handoff.core.staffing`.

How it can fail: the roster says who is scheduled, not who logs in; an agent with no windows counts in every
interval (as routing treats them), which overstates a roster that simply was never entered.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from handoff.core.model import ShiftWindow
from handoff.core.routing.schedule import shift_spans


class Rostered(Protocol):
    """What the roster reads of an agent (an account or a routing snapshot both have it)."""

    @property
    def shift(self) -> tuple[ShiftWindow, ...]: ...
    @property
    def timezone(self) -> str: ...
    @property
    def capacity(self) -> int: ...
    @property
    def tiers(self) -> frozenset[int]: ...
    @property
    def skills(self) -> frozenset[str]: ...


R = TypeVar("R", bound=Rostered)


@dataclass(frozen=True)
class Coverage:
    """Per interval: ``agents`` on shift and their conversation ``slots`` (both prorated)."""

    agents: tuple[float, ...]
    slots: tuple[float, ...]


def coverage(agents: Iterable[Rostered], starts: Sequence[datetime], interval_seconds: float) -> Coverage:
    """Agents and slots on shift in each interval ``[start, start + interval_seconds)``."""
    starts = list(starts)
    heads, slots = [0.0] * len(starts), [0.0] * len(starts)
    if not starts:
        return Coverage((), ())
    length = timedelta(seconds=interval_seconds)
    index = {start: i for i, start in enumerate(starts)}
    ordered = sorted(starts)
    for agent in agents:
        for begin, end in shift_spans(agent.shift, agent.timezone, ordered[0], ordered[-1] + length):
            for start in ordered:  # intervals are few (a week of half hours: 336)
                overlap = (min(end, start + length) - max(begin, start)).total_seconds()
                if overlap > 0:
                    share = overlap / interval_seconds
                    heads[index[start]] += share
                    slots[index[start]] += share * agent.capacity
    return Coverage(tuple(heads), tuple(slots))


def eligible(agents: Iterable[R], tier: int | None = None, skill: str | None = None) -> list[R]:
    """The agents qualified for ``tier`` and knowing ``skill`` (None: any)."""
    return [agent for agent in agents
            if (tier is None or tier in agent.tiers) and (skill is None or skill in agent.skills)]


def mean_capacity(agents: Iterable[Rostered]) -> float:
    """The team's mean concurrency (1 with nobody)."""
    capacities = [agent.capacity for agent in agents]
    return sum(capacities) / len(capacities) if capacities else 1.0
