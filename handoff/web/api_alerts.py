"""Supervisors' alerts (the policy's ``read_alerts``: supervisors and admins; 401 without a session, 403 for
agents): the alerts firing now with the recent history, and the rules (docs/alerts.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from handoff.web.bodies import errors
from handoff.web.deps import Agent, Service

router = APIRouter(tags=["alerts"], responses=errors(401, 403, 503))


@router.get("/api/alerts")
async def alerts(agent: Agent, service: Service) -> dict[str, Any]:
    """``active``: the alerts holding now (rule, severity, since, value vs threshold); ``recent``: the newest
    episodes, each with its notices (fire, repeat, resolve) and every delivery's outcome."""
    return await service.alerts.overview(agent)


@router.get("/api/alerts/rules")
async def rules(agent: Agent, service: Service) -> dict[str, Any]:
    """The rules of ``HANDOFF_ALERTS`` with their thresholds now (a target's value where a rule names one), each
    one's phase (ok, pending, firing), and the metrics' definitions."""
    return service.alerts.rules_view(agent)
