"""REST endpoints of QA review and of follow-up items (docs/qa.md): the review sample, a conversation to review
and its scoring, the scores per agent; the follow-up list and each item's handling. The policy's ``qa_review``,
``qa_scores`` and ``follow_ups`` rules decide who may call them.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from handoff.core.scorecard import Score
from handoff.web.bodies import Str, errors
from handoff.web.deps import Agent, Service

router = APIRouter(tags=["qa"], responses=errors(503))


class CriterionScore(BaseModel):
    criterion: Str = Field(max_length=64, description="a criterion's key in the scorecard")
    score: int | None = Field(description="a whole point within the criterion's scale; null: not applicable "
                                          "(where the scorecard allows it)")
    comment: Str = Field("", max_length=2000)


class ReviewBody(BaseModel):
    scores: list[CriterionScore] = Field(max_length=50, description="one per criterion of the scorecard")
    notes: Str = Field("", max_length=5000, description="the reviewer's overall notes")


class AssignBody(BaseModel):
    agent_id: Str | None = Field(None, max_length=64, description="a supervisor or admin; null: nobody")


class NoteBody(BaseModel):
    text: Str = Field(min_length=1, max_length=5000)


class CloseBody(BaseModel):
    note: Str | None = Field(None, max_length=5000, description="the outcome, kept with the item")


@router.get("/api/qa/scorecard", responses=errors(401, 403))
async def scorecard(agent: Agent, service: Service) -> dict[str, Any]:
    """The current scorecard: version and criteria (key, name, description, weight, scale, na, critical)."""
    return service.quality.scorecard(agent)


@router.get("/api/qa/sample", responses=errors(400, 401, 403))
async def sample(agent: Agent, service: Service, since: str | None = None, until: str | None = None,
                 size: int = 10, seed: int | None = None) -> dict[str, Any]:
    """A review sample of the conversations closed in ``[since, until)`` (ISO dates or times; the last 7 days by
    default): every low-rated one, the longest handle times, ``size`` more drawn fairly by agent with ``seed``
    (a new one when absent; the answer names it). Each comes with why it was sampled."""
    return await service.quality.sample(agent, since=since, until=until, size=size, seed=seed)


@router.get("/api/qa/tickets/{ticket_id}", responses=errors(400, 401, 403, 404))
async def review_ticket(ticket_id: int, agent: Agent, service: Service) -> dict[str, Any]:
    """A ticket to review: transcript, notes and history, the scorecard, its reviews and the caller's own."""
    return await service.quality.ticket(agent, ticket_id)


@router.put("/api/qa/tickets/{ticket_id}/review", responses=errors(400, 401, 403, 404, 409))
async def review(ticket_id: int, body: ReviewBody, agent: Agent, service: Service) -> dict[str, Any]:
    """Score the ticket's conversation (the caller's review of it, replaced if they reviewed it already):
    every criterion within its scale or N/A; the answer has the total (weighted percentage)."""
    scores = [Score(s.criterion, s.score, s.comment) for s in body.scores]
    return await service.quality.review(agent, ticket_id, scores, body.notes)


@router.get("/api/qa/reviews", responses=errors(400, 401, 403))
async def reviews(agent: Agent, service: Service, agent_id: str | None = None, since: str | None = None,
                  until: str | None = None) -> dict[str, Any]:
    """Reviews of the conversations closed in the period, of ``agent_id`` or everybody (an agent: their own)."""
    return {"reviews": await service.quality.reviews(agent, agent_id=agent_id, since=since, until=until)}


@router.get("/api/qa/scores", responses=errors(400, 401, 403))
async def scores(agent: Agent, service: Service, since: str | None = None,
                 until: str | None = None) -> dict[str, Any]:
    """Per agent over the period: reviews, average total, critical failures, each criterion's average (percent
    of its scale); the team's too (an agent: their own row)."""
    return await service.quality.scores(agent, since=since, until=until)


@router.get("/api/followups", responses=errors(400, 401, 403))
async def follow_ups(agent: Agent, service: Service, status: str | None = None, assignee: str | None = None,
                     reason: str | None = None, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """Follow-up items (``status`` open or done; ``assignee`` an agent's id, ``me`` or ``none``; ``reason``
    low_rating or not_helpful), the open first, oldest first."""
    return {"follow_ups": await service.follow_ups.list(agent, status=status, assignee=assignee, reason=reason,
                                                        limit=limit, offset=offset)}


@router.get("/api/followups/{follow_up_id}", responses=errors(400, 401, 403, 404))
async def follow_up(follow_up_id: int, agent: Agent, service: Service) -> dict[str, Any]:
    """One item with the feedback that opened it, its notes, and its conversation's and ticket's ids."""
    return await service.follow_ups.get(agent, follow_up_id)


@router.post("/api/followups/{follow_up_id}/assign", responses=errors(400, 401, 403, 404))
async def assign(follow_up_id: int, body: AssignBody, agent: Agent, service: Service) -> dict[str, Any]:
    return await service.follow_ups.assign(agent, follow_up_id, body.agent_id)


@router.post("/api/followups/{follow_up_id}/notes", status_code=201, responses=errors(400, 401, 403, 404))
async def note(follow_up_id: int, body: NoteBody, agent: Agent, service: Service) -> dict[str, Any]:
    return await service.follow_ups.note(agent, follow_up_id, body.text)


@router.post("/api/followups/{follow_up_id}/close", responses=errors(400, 401, 403, 404, 409))
async def close(follow_up_id: int, body: CloseBody, agent: Agent, service: Service) -> dict[str, Any]:
    return await service.follow_ups.close(agent, follow_up_id, body.note)


@router.post("/api/followups/{follow_up_id}/reopen", responses=errors(400, 401, 403, 404, 409))
async def reopen(follow_up_id: int, agent: Agent, service: Service) -> dict[str, Any]:
    return await service.follow_ups.reopen(agent, follow_up_id)
