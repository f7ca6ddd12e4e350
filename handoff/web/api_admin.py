"""Admins' endpoints for customers' data: export, delete, revoke a conversation's token, retention now.

Every endpoint needs a signed-in agent (the session dependency of :mod:`handoff.web.deps`) with the ``admin``
role: 401 without a session, 403 for other roles. Customers are named in the request body, never in the URL,
so their e-mail and shop id stay out of access logs.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from handoff.core.errors import NotAllowed
from handoff.core.model import Role
from handoff.service.auth import Principal
from handoff.web.deps import Agent, Service


def admin_of(agent: Agent) -> Principal:
    if agent.role is not Role.ADMIN:
        raise NotAllowed("Only an admin may do this.")
    return agent


Admin = Annotated[Principal, Depends(admin_of)]
router = APIRouter(prefix="/api/admin", tags=["admin"])


class WhichCustomer(BaseModel):
    """Exactly one of the three."""

    conversation_id: str | None = Field(None, max_length=64)
    external_id: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=320)


@router.post("/customers/export")
async def export(body: WhichCustomer, admin: Admin, service: Service) -> dict[str, Any]:
    """Everything kept about the customer (JSON): records, conversations with messages, tickets with notes."""
    return await service.data.export(**body.model_dump())


@router.post("/customers/delete")
async def delete(body: WhichCustomer, admin: Admin, service: Service) -> dict[str, Any]:
    """Delete the customer's data (docs/security.md, "Customer data", says what stays, anonymous)."""
    return await service.data.delete(**body.model_dump())


@router.post("/conversations/{conversation_id}/revoke-token", status_code=204)
async def revoke_token(conversation_id: str, admin: Admin, service: Service) -> None:
    """Refuse every token of the conversation issued until now; its customers' sockets close (4401)."""
    await service.customers.get(conversation_id)
    await service.customers.revoke_tokens(conversation_id)


@router.post("/retention")
async def retention(admin: Admin, service: Service) -> dict[str, Any]:
    """Delete now what is older than ``HANDOFF_RETENTION_DAYS`` (the sweeper does it daily)."""
    return await service.data.retention()
