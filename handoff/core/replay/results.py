"""The figures of a replay: one run's, several seeds' (mean and spread), and two scenarios side by side.

Measured as the reports measure the ticket log: the wait is from the hand-off to the first assignment, of the
hand-offs that were queued (not offline); p50 and p90 interpolate like PostgreSQL's ``percentile_cont``. The
service level is the share of queued hand-offs assigned within the target (those who gave up count as not
answered); abandonment the share whose customer gave up; sticky hits the first assignments to the customer's
last agent, of those whose customer had one; utilisation the conversation-seconds agents held over their
capacity times their seconds on shift, in the period.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from handoff.core.replay.engine import Outcomes, Pending, Replay, Scenario
from handoff.core.replay.history import ABANDONED, Contact, History, quantiles

Figures = dict[str, float | None]
GROUP_FIGURES = ("queued", "wait_p50", "wait_p90", "service_level", "abandonment")
FIGURES = (*GROUP_FIGURES, "offline", "transfers", "sticky_hits", "sticky_rate", "utilisation")


def group_figures(contacts: Sequence[Pending], target_seconds: float) -> Figures:
    """Queued, wait p50/p90, service level and abandonment of some hand-offs of one run."""
    waits = sorted(p.wait for p in contacts if p.wait is not None)
    p50, p90 = quantiles(waits)
    count = len(contacts)
    return {"queued": float(count), "wait_p50": p50, "wait_p90": p90,
            "service_level": sum(w <= target_seconds for w in waits) / count if count else None,
            "abandonment": sum(p.outcome == ABANDONED for p in contacts) / count if count else None}


def run_figures(out: Outcomes, target_seconds: float) -> dict[str, Any]:
    """One run's figures: overall, by tier, by category (``-`` for none) and each agent's utilisation."""
    overall = group_figures(out.contacts, target_seconds)
    stuck = [p.sticky for p in out.contacts if p.sticky is not None]
    capacity_seconds = sum(out.online[a] * out.capacity[a] for a in out.online)
    overall |= {"offline": float(len(out.offline)), "transfers": float(out.transfers),
                "sticky_hits": float(sum(stuck)), "sticky_rate": sum(stuck) / len(stuck) if stuck else None,
                "utilisation": sum(out.held.values()) / capacity_seconds if capacity_seconds else None}
    return {"overall": overall,
            "tiers": _grouped(out.contacts, lambda p: str(p.contact.tier), target_seconds),
            "categories": _grouped(out.contacts, lambda p: p.contact.category or "-", target_seconds),
            "agents": {a: (out.held[a] / (out.online[a] * out.capacity[a]) if out.online[a] else None)
                       for a in sorted(out.online)}}


def _grouped(contacts: Iterable[Pending], key: Callable[[Pending], str], target_seconds: float
             ) -> dict[str, Figures]:
    groups: dict[str, list[Pending]] = {}
    for pending in contacts:
        groups.setdefault(key(pending), []).append(pending)
    return {name: group_figures(members, target_seconds) for name, members in sorted(groups.items())}


@dataclass(frozen=True)
class Spread:
    """A figure over the seeds: the mean, the lowest and highest run, the standard deviation (None when no
    run had the figure)."""

    mean: float | None
    low: float | None
    high: float | None
    stdev: float | None

    @classmethod
    def of(cls, values: Iterable[float | None]) -> Spread:
        known = [v for v in values if v is not None]
        if not known:
            return cls(None, None, None, None)
        return cls(statistics.fmean(known), min(known), max(known),
                   statistics.stdev(known) if len(known) > 1 else 0.0)

    def as_dict(self) -> dict[str, float | None]:
        return {"mean": self.mean, "min": self.low, "max": self.high, "stdev": self.stdev}


def spread(runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The runs' figures as spreads, in the shape of one run's figures (groups missing from a run count as
    having no figure there)."""
    def merge(items: Sequence[Mapping[str, Any]]) -> Any:
        keys = sorted({k for item in items for k in item}, key=lambda k: (not isinstance(k, str), k))
        result: dict[str, Any] = {}
        for key in keys:
            values = [item.get(key) for item in items]
            if any(isinstance(v, Mapping) for v in values):
                result[key] = merge([v if isinstance(v, Mapping) else {} for v in values])
            else:
                result[key] = Spread.of(values)
        return result
    return dict(merge(runs))


@dataclass(frozen=True)
class Comparison:
    """Two scenarios replayed on one history with the same seeds: each run's figures and their spreads."""

    history: History
    seeds: tuple[int, ...]
    target_seconds: float
    current: dict[str, Any]
    candidate: dict[str, Any]
    runs: dict[str, list[dict[str, Any]]]
    names: dict[str, str] = field(default_factory=dict)  # agent id -> the roster's name for them

    def as_dict(self) -> dict[str, Any]:
        """Plain data (JSON): the period, the seeds, the measured figures and both scenarios' spreads."""
        def plain(value: Any) -> Any:
            if isinstance(value, Spread):
                return value.as_dict()
            if isinstance(value, Mapping):
                return {str(k): plain(v) for k, v in value.items()}
            return value
        history, target = self.history, self.target_seconds
        measured: dict[str, Any] = {"overall": history.measured(target), "tiers": {
            str(tier): history.measured(target, of_tier(tier)) for tier in sorted({c.tier for c in history.contacts})}}
        return {"since": history.since, "until": history.until, "handoffs": len(history.contacts),
                "seeds": list(self.seeds), "target_seconds": target, "measured": measured,
                "current": plain(self.current), "candidate": plain(self.candidate), "agents": self.names}


def of_tier(tier: int) -> Callable[[Contact], bool]:
    """Whether a contact is of ``tier``."""
    return lambda contact: contact.tier == tier


def simulate(history: History, scenario: Scenario, seeds: Sequence[int], target_seconds: float
             ) -> list[dict[str, Any]]:
    """One run's figures per seed."""
    return [run_figures(Replay(history, scenario, seed).run(), target_seconds) for seed in seeds]


def compare(history: History, current: Scenario, candidate: Scenario, *, seeds: int = 5,
            target_seconds: float = 120.0) -> Comparison:
    """Replay ``history`` through both scenarios with seeds ``0 .. seeds - 1``; see :class:`Comparison`."""
    if seeds < 1:
        raise ValueError("at least one seed")
    numbers = tuple(range(seeds))
    runs = {"current": simulate(history, current, numbers, target_seconds),
            "candidate": simulate(history, candidate, numbers, target_seconds)}
    names = {str(a.agent_id): a.name or str(a.agent_id) for a in (*current.roster.agents, *candidate.roster.agents)}
    return Comparison(history, numbers, target_seconds, spread(runs["current"]), spread(runs["candidate"]), runs,
                      names)
