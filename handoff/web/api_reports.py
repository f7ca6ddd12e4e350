"""Supervisors' reports over REST (docs/metrics.md): the QA metrics of a period, over time, today's KPIs against
the targets, and the CSV export. The policy's ``read_reports``: supervisors and admins; 401 without a session,
403 for agents, 400 with a sentence for a bad period, breakdown, bucket or metric."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from handoff.web.bodies import errors
from handoff.web.deps import Agent, Service

router = APIRouter(tags=["reports"], responses=errors(400, 401, 403, 503))


@router.get("/api/reports/summary")
async def summary(agent: Agent, service: Service, since: str | None = None, until: str | None = None,
                  by: str | None = None) -> dict[str, Any]:
    """The period's metrics (``since`` and ``until``: dates or ISO times, ``until`` excluded; the last 30 days by
    default), hand-offs per reason, and with ``by`` (path, agent, team, tier, channel, category, reason, article)
    one row per group."""
    return await service.reports.summary(agent, since, until, by)


@router.get("/api/reports/timeseries")
async def timeseries(agent: Agent, service: Service, since: str | None = None, until: str | None = None,
                     bucket: str | None = None, metric: str | None = None) -> dict[str, Any]:
    """The metrics per ``bucket`` (``day`` or ``week``, in the business hours' timezone); ``metric``: only one."""
    return await service.reports.timeseries(agent, since, until, bucket, metric)


@router.get("/api/reports/today")
async def today(agent: Agent, service: Service) -> dict[str, Any]:
    """Today's KPIs (since the local midnight) against the targets of handoff/targets.yml."""
    return await service.reports.today(agent)


@router.get("/api/reports/export.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}, "description": "The metrics as CSV."}})
async def export(agent: Agent, service: Service, since: str | None = None, until: str | None = None,
                 by: str | None = None, bucket: str | None = None) -> Response:
    """The metrics as a CSV file: per ``bucket`` and ``by`` group when given, else one line for the period."""
    text = await service.reports.csv(agent, since, until, by, bucket)
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="handoff-report.csv"'})
