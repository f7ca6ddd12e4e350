"""REST endpoints of the insights (docs/insights.md): a conversation's sentiment trend, and what sent customers
to a person, by week.

``GET /api/insights/conversations/{id}/sentiment`` needs the policy's ``read_sentiment`` (supervisors and
admins any conversation, an agent their own); the topics need ``read_insights`` (supervisors and admins).
``week`` is an ISO week, ``2026-W49`` (this week when left out).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from handoff.web.bodies import errors
from handoff.web.deps import Agent, Service

router = APIRouter(tags=["insights"], responses=errors(401, 403, 503))
Week = Annotated[str | None, Query(max_length=10, description="an ISO week, e.g. 2026-W49; this week by default")]


@router.get("/api/insights/conversations/{conversation_id}/sentiment", responses=errors(404))
async def sentiment(conversation_id: str, agent: Agent, service: Service) -> dict[str, Any]:
    """Each customer message's sentiment (VADER compound score, -1..1, and its label) and the conversation's
    trend: the smoothed line and its direction (``improving``, ``worsening``, ``steady``)."""
    return await service.insights.sentiment(agent, conversation_id)


@router.get("/api/insights/topics", responses=errors(400))
async def topics(agent: Agent, service: Service, week: Week = None) -> dict[str, Any]:
    """The week's topics of the conversations handed to a person or rated low: label, keywords, count, share,
    the count the week before, low ratings, the category it stands for, examples (the customer's words)."""
    return await service.insights.topics(agent, week)


@router.post("/api/insights/topics/refresh", responses=errors(400))
async def refresh(agent: Agent, service: Service, week: Week = None) -> dict[str, Any]:
    """Find the week's topics now (the service does it daily) and return them."""
    return await service.insights.refresh(agent, week)
