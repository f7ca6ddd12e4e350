"""REST endpoints of the supervisors' board (docs/supervisors.md): the snapshot and the actions on a conversation.
Watching is on the agent socket (``watch`` / ``unwatch`` frames, :mod:`.gateway`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from handoff.web.bodies import Str, Text, errors
from handoff.web.deps import Agent, Service

router = APIRouter(tags=["board"], responses=errors(401, 403, 503))


class ReassignBody(BaseModel):
    agent_id: Str = Field(min_length=1, max_length=64, description="the agent to give the conversation to")


class EscalateBody(BaseModel):
    tier: int = Field(description="the tier to escalate to: 2 or 3 (the service says so of any other)")


@router.get("/api/board")
async def board(agent: Agent, service: Service) -> dict[str, Any]:
    """The queue and its longest wait, every agent's presence, load and conversations, the conversations at risk."""
    return await service.supervision.board(agent)


@router.post("/api/board/conversations/{conversation_id}/whisper", status_code=201,
             responses=errors(400, 404, 409))
async def whisper(conversation_id: str, body: Text, agent: Agent, service: Service) -> dict[str, Any]:
    """A note only the conversation's agent sees (live in their console; kept on the ticket, flagged whisper)."""
    return {"note": await service.supervision.whisper(agent, conversation_id, body.text)}


@router.post("/api/board/conversations/{conversation_id}/reassign", responses=errors(400, 404, 409))
async def reassign(conversation_id: str, body: ReassignBody, agent: Agent, service: Service) -> dict[str, Any]:
    """Give a queued or assigned conversation to a named agent who is online and has room."""
    return await service.desk.summary(await service.supervision.reassign(agent, conversation_id, body.agent_id))


@router.post("/api/board/conversations/{conversation_id}/escalate", responses=errors(400, 404, 409))
async def escalate(conversation_id: str, body: EscalateBody, agent: Agent, service: Service) -> dict[str, Any]:
    """Set the conversation's tier (2 or 3); an agent not qualified for it loses it to that tier's queue."""
    return await service.desk.summary(await service.supervision.escalate(agent, conversation_id, body.tier))
