"""Supervisors' REST endpoints of ticket automation (the policy's ``read_automation``: supervisors and admins):
the rules of ``handoff/automation.yml`` in plain words with what each did, and the log of their actions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from handoff.web.bodies import errors
from handoff.web.deps import Agent, Service

router = APIRouter(tags=["automation"], responses=errors(400, 401, 403, 503))


@router.get("/api/automation/rules")
async def rules(agent: Agent, service: Service) -> dict[str, Any]:
    """Every rule (enabled or not), its conditions and actions in plain words, how many tickets it acted on."""
    return {"rules": await service.automation.list_rules(agent)}


@router.get("/api/automation/events")
async def events(agent: Agent, service: Service, rule: Annotated[str | None, Query(max_length=64)] = None,
                 since: Annotated[str | None, Query(max_length=40)] = None,
                 limit: Annotated[int, Query(ge=1, le=500)] = 200) -> dict[str, Any]:
    """What the rules did, newest first: of one ``rule``, ``since`` an ISO 8601 moment (UTC if no zone)."""
    return {"events": await service.automation.events(agent, rule=rule, since=since, limit=limit)}
