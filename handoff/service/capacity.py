"""The supervisors' capacity page (docs/capacity.md, "The capacity page"): the forecast against the contacts that
came, the staffing plan, a what-if on it and the routing simulator.

- :meth:`Capacity.forecast` — per interval of a period, the forecast (fitted on the history before the period's
  first day, as it would have been made then) next to the live hand-offs that came, and the forecast's WAPE;
- :meth:`Capacity.plan` — :meth:`handoff.service.staffing.Staffing.plan` with the roster it was planned against;
- :meth:`Capacity.what_if` — the same plan with another roster (shifts moved, agents added) and other targets,
  computed in memory from the plan's demand and measured workload (kept for :data:`KEEP_SECONDS`), so it
  answers at once and writes nothing;
- :meth:`Capacity.simulate` — a past period replayed through the current routing and team and through a
  candidate (routing YAML, roster), :mod:`handoff.core.replay`; CPU-bound, so it runs in a thread, one at a
  time per instance (a second request meanwhile is a :class:`Conflict`).

Supervisors and admins only (the policy's ``read_capacity``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import yaml

from handoff.core import roster as rosters
from handoff.core.errors import BadRequest, Conflict, RoutingConfigError
from handoff.core.forecast import ForecastError
from handoff.core.model import DESK_ROLES
from handoff.core.replay import Roster, RosterAgent, Scenario, compare
from handoff.core.routing import load_routing_config
from handoff.core.routing.schedule import BusinessHours
from handoff.core.staffing import Target, plan
from handoff.core.targets import Targets
from handoff.service import policy
from handoff.service.auth import Principal
from handoff.service.policy import Action
from handoff.service.ports import AgentAccount, Clock, TicketLog
from handoff.service.staffing import Staffing, StaffingPlan

logger = logging.getLogger(__name__)

KEEP_SECONDS = 600.0  # how long a plan's demand and workload serve the what-ifs on it
KEPT_PLANS = 16  # plans kept at once (the least recently used goes first)
MAX_PLAN_DAYS = 14
MAX_FORECAST_DAYS = 31
MAX_SIMULATED_DAYS = 31
DEFAULT_SEEDS = 3
INTERVALS = (15, 30, 60)  # minutes


@dataclass(frozen=True)
class PlanQuery:
    """What a plan is of: ``days`` local days from ``first``, at ``interval`` minutes, for ``tier`` / ``skill``."""

    first: date | None = None
    days: int = 7
    interval: int = 30
    tier: int | None = None
    skill: str | None = None


def agent_json(agent: AgentAccount | RosterAgent) -> dict[str, Any]:
    """An agent of the roster as the page edits it."""
    if isinstance(agent, RosterAgent):
        key, name = str(agent.agent_id), agent.name or str(agent.agent_id)
    else:
        key, name = str(agent.agent_id), agent.name
    return {"id": key, "name": name, "capacity": agent.capacity, "tiers": sorted(agent.tiers),
            "languages": sorted(agent.languages), "skills": sorted(agent.skills), "timezone": agent.timezone,
            "shift": [{"weekday": w.weekday, "start": w.start.strftime("%H:%M"), "end": w.end.strftime("%H:%M")}
                      for w in agent.shift]}


def team(accounts: Sequence[AgentAccount]) -> Roster:
    """The roster of the ticket log's accounts, as they are (no shift: always on shift)."""
    return Roster(tuple(RosterAgent(account.agent_id, account.capacity, account.tiers, account.languages,
                                    account.skills, account.shift, account.timezone, account.name)
                        for account in accounts))


class Capacity:
    """Forecast, staffing and simulation for the capacity page."""

    def __init__(self, log: TicketLog, staffing: Staffing, hours: BusinessHours, targets: Targets,
                 routing_config: Path, clock: Clock) -> None:
        self._log, self._staffing, self._hours, self._targets = log, staffing, hours, targets
        self._routing_config, self._clock = routing_config, clock
        self._plans: OrderedDict[PlanQuery, tuple[float, StaffingPlan | None]] = OrderedDict()
        self._simulating = False

    @property
    def default_target(self) -> Target:
        """The team's own: the share answered within ``queue_wait_seconds`` of handoff/targets.yml."""
        return Target(self._targets.sla_attainment, self._targets.queue_wait_seconds)

    def _today(self) -> date:
        return datetime.fromtimestamp(self._clock(), UTC).astimezone(self._hours.tz).date()

    async def forecast(self, principal: Principal, since: date | None = None, until: date | None = None,
                       interval: int = 30) -> dict[str, Any]:
        """Per open interval of the local days ``[since, until)`` (by default the 7 days before today and
        today), the forecast made from the history before ``since`` and the live hand-offs that came (None for
        intervals not begun yet)."""
        policy.check(principal.role, Action.READ_CAPACITY)
        self._check(PlanQuery(interval=interval))
        today = self._today()
        until = until or today + timedelta(days=1)
        since = since or until - timedelta(days=8)
        if since >= until:
            raise BadRequest("The period is empty: since must come before until.")
        if (until - since).days > MAX_FORECAST_DAYS:
            raise BadRequest(f"The forecast is compared over at most {MAX_FORECAST_DAYS} days.")
        seconds = interval * 60
        starts = self._staffing.starts(since, (until - since).days, seconds)
        result: dict[str, Any] = {"since": since.isoformat(), "until": until.isoformat(), "interval_seconds": seconds,
                                  "timezone": str(self._hours.tz), "forecast_error": None}
        try:
            expected = dict(await self._staffing.forecast_demand(starts, seconds))
        except ForecastError as exc:
            expected, result["forecast_error"] = {}, f"Too little history to forecast from: {exc}"
        now = self._clock()
        counts: dict[float, int] = {}
        if starts:
            counts = dict(await self._log.contacts.per_interval(min(starts), max(starts) + timedelta(seconds=seconds),
                                                                seconds, live=True))
        pairs = [(start, expected.get(start), counts.get(start.timestamp(), 0) if start.timestamp() < now else None)
                 for start in starts]
        known = [(f, a) for _, f, a in pairs if f is not None and a is not None]
        came = sum(actual for _, actual in known)
        rows = [{"start": start.isoformat(), "forecast": f, "actual": a} for start, f, a in pairs]
        result.update(intervals=rows, forecast_total=round(sum(f for f, _ in known), 2), actual_total=came,
                      wape=round(sum(abs(a - f) for f, a in known) / came, 4) if came else None)
        return result

    async def _plan(self, query: PlanQuery) -> StaffingPlan | None:
        """The plan against the roster as it is, kept for the what-ifs on it."""
        kept = self._plans.get(query)
        now = self._clock()
        if kept is not None and now - kept[0] < KEEP_SECONDS:
            self._plans.move_to_end(query)
            return kept[1]
        assert query.first is not None  # set by _check
        result = await self._staffing.plan(query.first, query.days, query.interval * 60, self.default_target,
                                           tier=query.tier, skill=query.skill)
        self._plans[query] = (now, result)
        while len(self._plans) > KEPT_PLANS:
            self._plans.popitem(last=False)
        return result

    def _answer(self, query: PlanQuery, result: StaffingPlan | None, agents: Sequence[AgentAccount | RosterAgent],
                target: Target) -> dict[str, Any]:
        assert query.first is not None  # set by _check
        head = {"first": query.first.isoformat(), "days": query.days, "timezone": str(self._hours.tz),
                "roster": [agent_json(agent) for agent in agents]}
        if result is None:
            return head | {"available": False, "reason": "No ticket of the last 28 days has a handle time: the "
                                                         "plan needs some history of conversations agents held."}
        return head | {"available": True} | self._replan(result, agents, target).to_json()

    @staticmethod
    def _replan(result: StaffingPlan, agents: Sequence[AgentAccount | RosterAgent], target: Target) -> StaffingPlan:
        """``result`` with another roster and target: its demand and measured workload as they were."""
        assert result.measured.workload is not None  # a plan is made only with a workload
        demand = [(row.start, row.demand) for row in result.rows]
        workload = result.measured.workload
        if agents:
            workload = replace(workload, concurrency=max(1.0, rosters.mean_capacity(agents)))
        covered = rosters.coverage(agents, [start for start, _ in demand], result.interval_seconds)
        rows = plan(demand, result.interval_seconds, workload, target, covered.slots, covered.agents)
        measured = replace(result.measured, workload=workload)
        return StaffingPlan(measured, target, result.interval_seconds, result.demand_source, tuple(rows))

    async def plan(self, principal: Principal, target: Target | None = None, **fields: Any) -> dict[str, Any]:
        """Required against scheduled per open interval of the :class:`PlanQuery` of ``fields``, with the roster
        planned against (``roster``) and the team's target unless ``target``; ``available`` False (with a
        ``reason``) without history to plan on."""
        policy.check(principal.role, Action.READ_CAPACITY)
        query = self._check(PlanQuery(**fields))
        result = await self._plan(query)
        agents = await self._staffing.roster(query.tier, query.skill)
        return self._answer(query, result, agents, target or self.default_target)

    async def what_if(self, principal: Principal, agents: Sequence[RosterAgent], target: Target,
                      **fields: Any) -> dict[str, Any]:
        """The plan of the :class:`PlanQuery` of ``fields`` with ``agents`` as the whole roster and ``target``: the
        plan's demand and measured handle time and patience, the concurrency of ``agents``. Nothing is
        written."""
        policy.check(principal.role, Action.READ_CAPACITY)
        query = self._check(PlanQuery(**fields))
        edited = Roster(tuple(agents))  # each agent once
        return self._answer(query, await self._plan(query), edited.agents, target)

    def _check(self, query: PlanQuery) -> PlanQuery:
        """``query`` checked, its first day set (tomorrow by default)."""
        if not 1 <= query.days <= MAX_PLAN_DAYS:
            raise BadRequest(f"A plan covers 1 to {MAX_PLAN_DAYS} days.")
        if query.interval not in INTERVALS:
            raise BadRequest("The interval is 15, 30 or 60 minutes.")
        return query if query.first else replace(query, first=self._today() + timedelta(days=1))

    async def simulate(self, principal: Principal, since: date, until: date, routing: str | None = None,
                       agents: Sequence[RosterAgent] | None = None, seeds: int = DEFAULT_SEEDS) -> dict[str, Any]:
        """The local days ``[since, until)`` replayed through the current routing configuration and team and
        through the candidate: ``routing`` (YAML text, handoff/routing.yml's format; default the current one) and
        ``agents`` (the whole roster; default the current team).

        Raises:
            BadRequest: an empty or too long period, a candidate configuration that is not valid.
            Conflict: a simulation is running on this instance already.
        """
        policy.check(principal.role, Action.READ_CAPACITY)
        if since >= until:
            raise BadRequest("The period is empty: since must come before until.")
        if (until - since).days > MAX_SIMULATED_DAYS:
            raise BadRequest(f"A simulation replays at most {MAX_SIMULATED_DAYS} days.")
        if self._simulating:
            raise Conflict("A simulation is already running here; try again when it has finished.")
        self._simulating = True
        try:
            current_config = load_routing_config(self._routing_config)
            candidate_config = self._candidate(routing) if routing and routing.strip() else current_config
            accounts = [a for a in await self._log.people.list_agents(active_only=True) if a.role in DESK_ROLES]
            current_roster = team(accounts)
            candidate_roster = Roster(tuple(agents)) if agents else current_roster
            try:
                current = Scenario.from_config(current_config, current_roster)
                candidate = Scenario.from_config(candidate_config, candidate_roster)
            except RoutingConfigError as exc:
                raise BadRequest(f"The candidate routing configuration is not valid: {exc}") from None
            start = datetime.combine(since, time(0), tzinfo=self._hours.tz).timestamp()
            end = datetime.combine(until, time(0), tzinfo=self._hours.tz).timestamp()
            history = await self._log.replay.history(start, end)
            comparison = await asyncio.to_thread(compare, history, current, candidate, seeds=seeds,
                                                 target_seconds=self._targets.queue_wait_seconds)
            logger.info("capacity: simulated %s to %s, %d seeds", since, until, seeds)
            return comparison.as_dict() | {
                "since": since.isoformat(), "until": until.isoformat(), "timezone": str(self._hours.tz),
                "candidate_routing": routing is not None and bool(routing.strip()),
                "candidate_roster": [agent_json(agent) for agent in candidate_roster.agents]}
        finally:
            self._simulating = False

    @staticmethod
    def _candidate(text: str) -> dict[str, Any]:
        try:
            # No aliases: twenty thousand characters of nested anchors make a structure of billions of entries
            # for the routing loader to walk (a supervisor's request holding the simulator).
            if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text, Loader=yaml.SafeLoader)):
                raise BadRequest("The candidate routing configuration may not use YAML aliases (*name): write "
                                 "each value out.")
            config = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise BadRequest(f"The candidate routing configuration is not valid YAML: {exc}") from None
        if not isinstance(config, dict):
            raise BadRequest("The candidate routing configuration is a mapping (handoff/routing.yml's format).")
        return config

