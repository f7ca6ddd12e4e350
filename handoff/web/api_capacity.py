"""The capacity page over REST (docs/capacity.md, "The capacity page"): the forecast against the contacts that
came, the staffing plan, a what-if on it (another roster, other targets; computed in memory, nothing written)
and the routing simulator. The policy's ``read_capacity``: supervisors and admins; 401 without a session, 403 for
agents, 400 with a sentence for a bad period, roster or routing configuration, 409 while this instance runs
another simulation."""

from __future__ import annotations

from datetime import date, time
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, field_validator, model_validator

from handoff.core.model import AgentId, ShiftWindow
from handoff.core.replay import RosterAgent
from handoff.core.routing.schedule import zone
from handoff.core.staffing import Target
from handoff.web.bodies import Str, Tier, Word, errors
from handoff.web.deps import Agent, Service

router = APIRouter(tags=["capacity"], responses=errors(400, 401, 403, 503))

Clock = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="HH:MM, local")]


class Window(BaseModel):
    """One shift window: ``weekday`` 0 = Monday, ``start`` to ``end`` (``00:00``: the midnight ending the day)."""

    weekday: int = Field(ge=0, le=6)
    start: Clock
    end: Clock

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end != "00:00" and self.end <= self.start:
            raise ValueError("a shift window ends after it starts (a night shift is two windows)")
        return self

    def window(self) -> ShiftWindow:
        return ShiftWindow(self.weekday, time.fromisoformat(self.start), time.fromisoformat(self.end))


class RosterEntry(BaseModel):
    """An agent of an edited roster; no shift windows: always on shift."""

    id: Str = Field(min_length=1, max_length=100, description="the agent's id, or a new name")
    name: Str | None = Field(None, max_length=200)
    capacity: int = Field(3, ge=1, le=50, description="conversations at once")
    tiers: list[Tier] = Field([1], min_length=1, max_length=3)
    languages: list[Word] = Field(["en"], max_length=20)
    skills: list[Word] = Field([], max_length=50)
    timezone: str = Field("UTC", max_length=64, description="the shifts' IANA time zone")
    shift: list[Window] = Field([], max_length=28)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if zone(value) is None:
            raise ValueError(f"{value[:64]!r} is not a time zone")
        return value

    def agent(self) -> RosterAgent:
        return RosterAgent(AgentId(self.id), self.capacity, frozenset(self.tiers), frozenset(self.languages),
                           frozenset(self.skills), tuple(window.window() for window in self.shift), self.timezone,
                           self.name or self.id)


Roster = Annotated[list[RosterEntry], Field(max_length=300)]


class TargetBody(BaseModel):
    service_level: float = Field(gt=0, lt=1, description="share answered within `within` seconds")
    within: float = Field(ge=0, le=86400, description="seconds")
    occupancy: float = Field(0.85, gt=0, le=1, description="the highest share of time an agent's slot is busy")
    shrinkage: float = Field(0.3, ge=0, lt=1, description="share of scheduled time not available for contacts")


class WhatIf(BaseModel):
    """The plan of ``first`` .. ``days`` with ``agents`` as the roster and ``target``."""

    first: date | None = Field(None, description="the first day planned (default tomorrow, local)")
    days: int = Field(7, ge=1, le=14)
    interval: int = Field(30, description="the interval: 15, 30 or 60 minutes")
    tier: Tier | None = None
    skill: Word | None = None
    target: TargetBody | None = Field(None, description="default: the team's (handoff/targets.yml)")
    agents: Roster = Field(description="the whole roster: shifts moved, agents added or left out")


class Simulation(BaseModel):
    """A period replayed through the current routing and team and through the candidate."""

    since: date = Field(description="the first day (local)")
    until: date = Field(description="the day after the last (excluded)")
    routing: Str | None = Field(None, max_length=20000,
                                description="the candidate routing configuration, YAML (handoff/routing.yml's "
                                            "format); default the current one")
    agents: Roster | None = Field(None, description="the candidate roster; default the current team")
    seeds: int = Field(3, ge=1, le=5, description="runs per scenario")


Interval = Annotated[int, Query(ge=15, le=60, description="the interval: 15, 30 or 60 minutes")]
Share = Annotated[float | None, Query(gt=0, lt=1)]


@router.get("/api/capacity/forecast")
async def forecast(agent: Agent, service: Service, since: date | None = None, until: date | None = None,
                   interval: Interval = 30) -> dict[str, Any]:
    """Per open interval of the local days ``[since, until)`` (default: the last 7 days and today), the forecast
    made from the history before ``since`` against the live hand-offs that came (null for intervals to come),
    and the forecast's WAPE."""
    return await service.capacity.forecast(agent, since, until, interval)


@router.get("/api/capacity/plan")
async def plan(agent: Agent, service: Service, first: date | None = None,
               days: Annotated[int, Query(ge=1, le=14)] = 7, interval: Interval = 30,
               tier: Annotated[int | None, Query(ge=1, le=3)] = None,
               skill: Annotated[str | None, Query(min_length=1, max_length=40)] = None,
               service_level: Share = None, within: Annotated[float | None, Query(ge=0, le=86400)] = None,
               occupancy: Annotated[float, Query(gt=0, le=1)] = 0.85,
               shrinkage: Annotated[float, Query(ge=0, lt=1)] = 0.3) -> dict[str, Any]:
    """Required against scheduled agents per open interval of ``days`` local days from ``first`` (default
    tomorrow), with the roster it was planned against; the target defaults to the team's (handoff/targets.yml:
    ``sla_attainment`` within ``queue_wait_seconds``). ``available`` is false, with a ``reason``, when history has
    no handle time to plan with."""
    default = service.capacity.default_target
    target = Target(service_level if service_level is not None else default.service_level,
                    within if within is not None else default.within, occupancy, shrinkage)
    return await service.capacity.plan(agent, target, first=first, days=days, interval=interval, tier=tier,
                                       skill=skill)


@router.post("/api/capacity/what-if", responses=errors(413))
async def what_if(body: WhatIf, agent: Agent, service: Service) -> dict[str, Any]:
    """The plan with ``agents`` as the roster and ``target``, on the plan's own demand and measured handle time:
    computed in memory, nothing written."""
    target = Target(**body.target.model_dump()) if body.target else service.capacity.default_target
    return await service.capacity.what_if(agent, [entry.agent() for entry in body.agents], target, first=body.first,
                                          days=body.days, interval=body.interval, tier=body.tier, skill=body.skill)


@router.post("/api/capacity/simulate", responses=errors(409, 413))
async def simulate(body: Simulation, agent: Agent, service: Service) -> dict[str, Any]:
    """The period replayed through the current routing and team and through the candidate (``routing``,
    ``agents``), ``seeds`` runs each: per scenario the figures overall, per tier, per category and per agent,
    each as mean, min, max and standard deviation over the runs. One simulation at a time per instance: 409
    while one runs."""
    agents = [entry.agent() for entry in body.agents] if body.agents else None
    return await service.capacity.simulate(agent, body.since, body.until, body.routing, agents, body.seeds)
