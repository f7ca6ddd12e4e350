"""REST endpoints of team training (docs/training.md, "Team training"): weak spots, practice sessions on masked
past conversations, their reviews, progress. The policy's ``practice``, ``read_practice`` and ``review_practice``
rules decide who may call them.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from handoff.web.bodies import Str, errors
from handoff.web.deps import Agent, Service

router = APIRouter(tags=["practice"], responses=errors(503))


class StartBody(BaseModel):
    category: Str | None = Field(None, max_length=64, description="practise this category (else the caller's "
                                                                  "weak categories first)")


class ReplyBody(BaseModel):
    text: Str = Field(min_length=1, max_length=5000, description="the agent's reply to the current turn")


class ReplyComment(BaseModel):
    turn: int = Field(ge=0, le=1000)
    comment: Str = Field("", max_length=5000)


class PracticeReviewBody(BaseModel):
    score: float = Field(ge=0, le=100, description="the reviewer's score of the session, 0-100")
    comment: Str = Field("", max_length=5000)
    replies: list[ReplyComment] = Field([], max_length=50, description="comments on single replies, by turn")


class BuildBody(BaseModel):
    since: Str | None = Field(None, max_length=40)
    until: Str | None = Field(None, max_length=40)


@router.get("/api/practice/weak-spots", responses=errors(400, 401, 403))
async def weak_spots(agent: Agent, service: Service, agent_id: str | None = None, since: str | None = None,
                     until: str | None = None) -> dict[str, Any]:
    """Per agent and category over the period (the last 30 days by default): low-rating share, handle time,
    transfers and QA marks against the rest of the team's, and the weak spots with the rule (an agent: theirs)."""
    return await service.practice.weak_spots(agent, agent_id=agent_id, since=since, until=until)


@router.get("/api/practice/progress", responses=errors(400, 401, 403))
async def progress(agent: Agent, service: Service, agent_id: str | None = None) -> dict[str, Any]:
    """Each agent's finished sessions over time with their automatic and reviewed scores, and per category."""
    return await service.practice.progress(agent, agent_id=agent_id)


@router.get("/api/practice/sessions", responses=errors(400, 401, 403))
async def sessions(agent: Agent, service: Service, agent_id: str | None = None,
                   to_review: bool = False) -> dict[str, Any]:
    """Practice sessions, the newest first (an agent: their own); ``to_review``: finished, not reviewed yet."""
    return {"sessions": await service.practice.sessions(agent, agent_id=agent_id, to_review=to_review)}


@router.post("/api/practice/sessions", status_code=201, responses=errors(400, 401, 403, 409))
async def start(body: StartBody, agent: Agent, service: Service) -> dict[str, Any]:
    """Start a practice session of the caller's on a masked past conversation; its first customer turn."""
    return await service.practice.start(agent, body.category)


@router.get("/api/practice/sessions/{session_id}", responses=errors(400, 401, 403, 404))
async def session(session_id: int, agent: Agent, service: Service) -> dict[str, Any]:
    """A session: the turns so far (answered ones with the real reply, the article and the score), its review."""
    return await service.practice.session(agent, session_id)


@router.post("/api/practice/sessions/{session_id}/replies", responses=errors(400, 401, 403, 404, 409))
async def reply(session_id: int, body: ReplyBody, agent: Agent, service: Service) -> dict[str, Any]:
    """Answer the current turn of one's own open session: the reply is scored and the next turn shown."""
    return await service.practice.reply(agent, session_id, body.text)


# 413: a comment on every reply can pass the body limit (HANDOFF_MAX_BODY_BYTES) once JSON-escaped
@router.put("/api/practice/sessions/{session_id}/review", responses=errors(400, 401, 403, 404, 409, 413))
async def review(session_id: int, body: PracticeReviewBody, agent: Agent, service: Service) -> dict[str, Any]:
    """Review a finished session (never one's own): a score, a comment, comments on replies."""
    return await service.practice.review(agent, session_id, body.score, body.comment,
                                         [(r.turn, r.comment) for r in body.replies])


@router.post("/api/practice/scenarios", responses=errors(400, 401, 403))
async def build(body: BuildBody, agent: Agent, service: Service) -> dict[str, Any]:
    """Make practice scenarios of the period's well-handled conversations (the last 30 days by default)."""
    return await service.practice.build(agent, since=body.since, until=body.until)
