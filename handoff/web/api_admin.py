"""Admins' REST endpoints: accounts (the policy's ``manage_accounts``) and customers' data (export, delete,
revoke a conversation's token, retention now).

Deactivating an account (``PATCH {"active": false}``) ends its sessions and closes its sockets at once and puts
its conversations back in the queue; a new role or a password reset ends its sessions too.

Customers' data needs the policy's ``manage_customer_data`` (admins): 401 without a session, 403 for
other roles. Customers are named in the request body, never in the URL, so their e-mail and shop id stay out
of access logs.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from handoff.service.auth import Principal
from handoff.web.bodies import AccountPatch, NewAccount, NewPassword, errors
from handoff.web.deps import Agent, Service

router = APIRouter(tags=["admin"], responses=errors(400, 401, 403, 404, 409, 503))


def admin_of(agent: Agent, service: Service) -> Principal:
    service.data.authorize(agent)
    return agent


Admin = Annotated[Principal, Depends(admin_of)]


@router.get("/api/admin/agents")
async def accounts(agent: Agent, service: Service) -> dict[str, Any]:
    """Every account, active or not (never a password hash)."""
    return {"agents": await service.accounts.accounts(agent)}


@router.post("/api/admin/agents", status_code=201)
async def create(body: NewAccount, agent: Agent, service: Service) -> dict[str, Any]:
    fields = body.model_dump(exclude_none=True, exclude={"username", "name", "password"})
    return await service.accounts.create(agent, username=body.username, name=body.name, password=body.password,
                                         **fields)


@router.patch("/api/admin/agents/{agent_id}")
async def change(agent_id: str, body: AccountPatch, agent: Agent, service: Service) -> dict[str, Any]:
    return await service.accounts.change(agent, agent_id, body.model_dump(exclude_none=True))


@router.post("/api/admin/agents/{agent_id}/password", status_code=204)
async def reset_password(agent_id: str, body: NewPassword, agent: Agent, service: Service) -> None:
    """A new password; the account's sessions end (it signs in again with the new one)."""
    await service.accounts.reset_password(agent, agent_id, body.password)


class WhichCustomer(BaseModel):
    """Exactly one of the three."""

    conversation_id: str | None = Field(None, max_length=64)
    external_id: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=320)


@router.post("/api/admin/customers/export")
async def export(body: WhichCustomer, admin: Admin, service: Service) -> dict[str, Any]:
    """Everything kept about the customer (JSON): records, conversations with messages, tickets with notes."""
    return await service.data.export(**body.model_dump())


@router.post("/api/admin/customers/delete")
async def delete(body: WhichCustomer, admin: Admin, service: Service) -> dict[str, Any]:
    """Delete the customer's data (docs/security.md, "Customer data", says what stays, anonymous)."""
    return await service.data.delete(**body.model_dump())


@router.post("/api/admin/conversations/{conversation_id}/revoke-token", status_code=204)
async def revoke_token(conversation_id: str, admin: Admin, service: Service) -> None:
    """Refuse every token of the conversation issued until now; its customers' sockets close (4401)."""
    await service.customers.get(conversation_id)
    await service.customers.revoke_tokens(conversation_id)


@router.post("/api/admin/retention")
async def retention(admin: Admin, service: Service) -> dict[str, Any]:
    """Delete now what is older than ``HANDOFF_RETENTION_DAYS`` (the sweeper does it daily)."""
    return await service.data.retention()
