"""Staffing on the ticket log: required agents against the roster, per interval (docs/capacity.md "Staffing").

:meth:`Staffing.measure` reads the inputs from history (handle time, patience, the team's concurrency);
:meth:`Staffing.plan` compares a demand series with the roster, interval by interval. The demand is a
parameter; by default the forecast of the live hand-offs (:meth:`Staffing.forecast_demand`,
:mod:`handoff.core.forecast` on the last :data:`FORECAST_DAYS` days), or, on a history too short to forecast
from, :meth:`Staffing.recent_demand` (the same local weekday and time of day averaged over the last weeks); the
plan says which it used. The computation is
:mod:`handoff.core.staffing` and :mod:`handoff.core.roster`; only open intervals (the business hours) are
planned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from handoff.core import roster
from handoff.core.forecast import ForecastError, fit, open_series
from handoff.core.model import DESK_ROLES
from handoff.core.routing.schedule import BusinessHours
from handoff.core.staffing import IntervalPlan, Target, Workload, plan, recent_average
from handoff.service.ports import AgentAccount, Clock, TicketLog

HISTORY_DAYS = 28  # the history the inputs are measured on
DEMAND_WEEKS = 4  # the stand-in demand's weeks
FORECAST_DAYS = 84  # the history the demand is forecast from (as `capacity forecast`'s default)
DAY = 86400.0


@dataclass(frozen=True)
class Measured:
    """The inputs measured on ``[since, until)``: the workload, and the evidence behind it."""

    since: datetime
    until: datetime
    workload: Workload | None  # None: no ticket in the period had a handle time
    tickets: int  # contacts in the period
    handled: int  # of them, with a handle time
    abandoned: int
    waited: int


@dataclass(frozen=True)
class StaffingPlan:
    """A plan: the inputs, where the demand came from, and one row per open interval."""

    measured: Measured
    target: Target
    interval_seconds: int
    demand_source: str
    rows: tuple[IntervalPlan, ...]

    @property
    def understaffed(self) -> int:
        return sum(row.understaffed for row in self.rows)

    def to_json(self) -> dict[str, object]:
        workload = self.measured.workload
        return {"demand_source": self.demand_source, "interval_seconds": self.interval_seconds,
                "target": {"service_level": self.target.service_level, "within": self.target.within,
                           "occupancy": self.target.occupancy, "shrinkage": self.target.shrinkage},
                "measured": {"since": self.measured.since.isoformat(), "until": self.measured.until.isoformat(),
                             "tickets": self.measured.tickets, "handled": self.measured.handled,
                             "abandoned": self.measured.abandoned, "waited": self.measured.waited,
                             "handle_seconds": workload.handle_seconds if workload else None,
                             "patience_seconds": workload.patience_seconds if workload else None,
                             "concurrency": workload.concurrency if workload else None},
                "understaffed_intervals": self.understaffed, "intervals": [row.to_json() for row in self.rows]}


class Staffing:
    """Staffing figures from the ticket log, in the business hours' timezone.

    Args:
        abandon_grace: seconds the sweeper waits before abandoning a customer who left
            (``HANDOFF_ABANDON_AFTER``), taken off each abandoned wait.
    """

    def __init__(self, log: TicketLog, hours: BusinessHours, abandon_grace: float, clock: Clock) -> None:
        self._log, self._hours, self._grace, self._clock = log, hours, abandon_grace, clock

    async def roster(self, tier: int | None = None, skill: str | None = None) -> list[AgentAccount]:
        """The active accounts that take conversations (their shifts, capacities; no trainer), those of
        ``tier`` / ``skill`` only if given."""
        accounts = [a for a in await self._log.people.list_agents(active_only=True) if a.role in DESK_ROLES]
        return roster.eligible(accounts, tier, skill)

    async def measure(self, until: datetime, agents: Sequence[AgentAccount], days: int = HISTORY_DAYS) -> Measured:
        """Handle time and patience over the ``days`` before ``until``, the concurrency of ``agents``."""
        since = until - timedelta(days=days)
        handle = await self._log.workload.handle_time(since, until)
        patience = await self._log.workload.patience(since, until, self._grace)
        arrivals = await self._log.contacts.per_interval(since, until, 3600, live=True)
        workload = None
        if handle.mean_seconds is not None:
            workload = Workload(handle.mean_seconds, max(1.0, roster.mean_capacity(agents)), patience.mean_seconds)
        return Measured(since, until, workload, sum(count for _, count in arrivals), handle.tickets, patience.abandoned,
                        patience.waited)

    def starts(self, first: date, days: int, interval_seconds: int) -> list[datetime]:
        """The open interval starts of ``days`` local days from ``first``."""
        if DAY % interval_seconds:
            raise ValueError("the interval must divide a day")
        midnight = datetime.combine(first, time(0), tzinfo=self._hours.tz)
        count = round(days * DAY / interval_seconds)
        moments = [(midnight + timedelta(seconds=i * interval_seconds)).astimezone(UTC) for i in range(count)]
        return [moment for moment in dict.fromkeys(moments) if self._hours.is_open(moment)]

    async def recent_demand(self, starts: Sequence[datetime], interval_seconds: int, weeks: int = DEMAND_WEEKS, *,
                            tier: int | None = None, skill: str | None = None) -> list[tuple[datetime, float]]:
        """The stand-in demand: the same local weekday and interval averaged over the ``weeks`` weeks before
        (the contacts of ``tier`` / of category ``skill`` only, if given)."""
        if not starts:
            return []
        since = min(starts) - timedelta(weeks=weeks, days=1)
        arrivals = await self._log.contacts.per_interval(since, max(starts), interval_seconds, tier=tier,
                                                         category=skill, live=True)
        return recent_average(dict(arrivals), starts, self._hours.tz, weeks)

    async def forecast_demand(self, starts: Sequence[datetime], interval_seconds: int, *, tier: int | None = None,
                              skill: str | None = None,
                              history_days: int = FORECAST_DAYS) -> list[tuple[datetime, float]]:
        """The forecast contacts of each of ``starts``: the live hand-offs (of ``tier`` / category ``skill``)
        of the open intervals over the ``history_days`` days before the first, forecast by
        :mod:`handoff.core.forecast`.

        Raises:
            ForecastError: the history is too short (or off the interval's grid) to forecast from.
        """
        if not starts:
            return []
        interval = timedelta(seconds=interval_seconds)
        until = datetime.combine(min(starts).astimezone(self._hours.tz).date(), time(0), tzinfo=self._hours.tz)
        since = until - timedelta(days=history_days)
        counts = await self._log.contacts.per_interval(since, until, interval_seconds, tier=tier, category=skill,
                                                       live=True)
        model = fit(open_series(counts, since, until, interval, self._hours), interval, self._hours)
        # To the hundredth of a contact: the model's shapes leave a trace (1e-9) in every interval ever open, and
        # Erlang staffs any demand above zero with an agent.
        return [(start, round(expected, 2)) for start, (_, expected) in
                zip(starts, model.predict(start.astimezone(self._hours.tz) for start in starts), strict=True)]

    async def plan(self, first: date, days: int, interval_seconds: int, target: Target, *,
                   demand: Sequence[tuple[datetime, float]] | str = "forecast", tier: int | None = None,
                   skill: str | None = None, history_days: int = HISTORY_DAYS) -> StaffingPlan | None:
        """Required against scheduled for ``days`` local days from ``first``; None when history has no
        handle time to plan with.

        Args:
            demand: contacts per interval start, or ``forecast`` (:meth:`forecast_demand`; on a history too
                short for it, :meth:`recent_demand`) or ``recent`` (:meth:`recent_demand`).
            tier, skill: plan for the agents of that tier / with that skill, against the contacts of that tier /
                category (a demand series given is taken as it is). Handle time and patience are the whole
                team's.
        """
        agents = await self.roster(tier, skill)
        now = datetime.fromtimestamp(self._clock(), UTC)
        until = min(now, datetime.combine(first, time(0), tzinfo=self._hours.tz))
        measured = await self.measure(until, agents, history_days)
        if measured.workload is None:
            return None
        source, starts = "given", self.starts(first, days, interval_seconds)
        recent = f"measured arrivals, same weekday and interval averaged over the last {DEMAND_WEEKS} weeks"
        if demand == "forecast":
            try:
                demand = await self.forecast_demand(starts, interval_seconds, tier=tier, skill=skill)
                source = f"forecast of the live hand-offs from the last {FORECAST_DAYS} days (docs/capacity.md)"
            except ForecastError as exc:
                demand, source = "recent", f"{recent} (too little history to forecast: {exc})"
        if demand == "recent":
            demand = await self.recent_demand(starts, interval_seconds, tier=tier, skill=skill)
            source = recent if source == "given" else source
        if isinstance(demand, str):
            raise ValueError(f"demand is a series, 'forecast' or 'recent', not {demand!r}")
        covered = roster.coverage(agents, [start for start, _ in demand], interval_seconds)
        rows = plan(demand, interval_seconds, measured.workload, target, covered.slots, covered.agents)
        return StaffingPlan(measured, target, interval_seconds, source, tuple(rows))

    async def understaffed_tomorrow(self, target: Target, interval_seconds: int = 1800, min_tickets: int = 1,
                                    history_days: int = HISTORY_DAYS) -> float | None:
        """Open intervals of tomorrow (local) where the roster is short of the required agents; None when the
        history is too thin (fewer than ``min_tickets`` contacts, or no handle time)."""
        today = datetime.fromtimestamp(self._clock(), UTC).astimezone(self._hours.tz).date()
        result = await self.plan(today + timedelta(days=1), 1, interval_seconds, target, history_days=history_days)
        if result is None or result.measured.tickets < min_tickets:
            return None
        return float(result.understaffed)

