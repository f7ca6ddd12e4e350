"""REST endpoints of account management, for admins only (the policy's ``manage_accounts``).

Deactivating an account (``PATCH {"active": false}``) ends its sessions and closes its sockets at once and puts
its conversations back in the queue; a new role or a password reset ends its sessions too.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from handoff.web.bodies import AccountPatch, NewAccount, NewPassword
from handoff.web.deps import Agent, Service

router = APIRouter(tags=["admin"])


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
