"""REST endpoints of customer feedback (docs/feedback.md): the widget's rating and votes, answered with what
the widget shows (the open request, the rating, the votes), and a supervisor's read of a conversation's
feedback with its follow-ups."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from handoff.core.model import MAX_FEEDBACK_COMMENT as MAX_COMMENT
from handoff.web.bodies import Str, errors
from handoff.web.deps import Agent, Service, customer_check

router = APIRouter(tags=["feedback"], responses=errors(503))


class Rating(BaseModel):
    score: int = Field(strict=True, description="1 (very poor) to 5 (excellent)")
    comment: Str | None = Field(None, max_length=MAX_COMMENT)


class Vote(BaseModel):
    message_id: int = Field(strict=True, description="the bot's knowledge answer (its payload cites an article)")
    helpful: bool = Field(strict=True)
    comment: Str | None = Field(None, max_length=MAX_COMMENT)


@router.get("/api/conversations/{conversation_id}/feedback", responses=errors(401, 404))
async def feedback(conversation_id: str, request: Request, service: Service) -> dict[str, Any]:
    """The open rating request (if any), the customer's rating of it and their votes."""
    await customer_check(request, conversation_id)
    return await service.feedback.state(conversation_id)


@router.post("/api/conversations/{conversation_id}/rating", responses=errors(400, 401, 404, 409))
async def rate(conversation_id: str, body: Rating, request: Request, service: Service) -> dict[str, Any]:
    """Rate the conversation when asked (409 before a request); rating again replaces the rating while the
    request is the conversation's newest."""
    await customer_check(request, conversation_id)
    await service.feedback.rate(conversation_id, body.score, body.comment)
    return await service.feedback.state(conversation_id)


@router.post("/api/conversations/{conversation_id}/votes", responses=errors(400, 401, 404))
async def vote(conversation_id: str, body: Vote, request: Request, service: Service) -> dict[str, Any]:
    """Say whether one of the bot's knowledge answers helped (again: replaces the vote)."""
    await customer_check(request, conversation_id)
    await service.feedback.vote(conversation_id, body.message_id, body.helpful, body.comment)
    return await service.feedback.state(conversation_id)


@router.get("/api/agent/conversations/{conversation_id}/feedback", responses=errors(401, 403, 404))
async def conversation_feedback(conversation_id: str, agent: Agent, service: Service) -> dict[str, Any]:
    """Every rating and vote of the conversation, with what it judged and its follow-up (supervisors)."""
    return {"feedback": await service.feedback.of_conversation(agent, conversation_id)}
