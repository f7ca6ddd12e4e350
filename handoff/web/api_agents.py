"""REST endpoints of the agent console: sign-in, queue, conversations, tickets (socket: :mod:`.gateway`)."""

from __future__ import annotations

import contextlib
from typing import Any

from fastapi import APIRouter, Request, Response, WebSocket
from pydantic import BaseModel, Field

from handoff.core.errors import NotAllowed, NotAuthenticated, UnknownConversation
from handoff.core.model import Presence, Role
from handoff.service.auth import BAD_CREDENTIALS, Principal, Sessions, check_password
from handoff.web.api_customers import Text
from handoff.web.deps import COOKIE, Agent, Service, Settings, session_token
from handoff.web.gateway import agent_socket

router = APIRouter(tags=["agents"])


class Login(BaseModel):
    username: str = Field(max_length=100)
    password: str = Field(max_length=200)


class PresenceBody(BaseModel):
    presence: Presence


class TransferBody(BaseModel):
    agent_id: str | None = None
    tier: int | None = None


class TicketPatch(BaseModel):
    tags: list[str] | None = Field(None, max_length=20)
    priority: str | None = Field(None, pattern="^(normal|high|urgent)$")


@router.post("/api/auth/login")
async def login(body: Login, request: Request, response: Response, service: Service,
                settings: Settings) -> dict[str, Any]:
    """Sign in: sets the HttpOnly session cookie and returns the same token for scripts."""
    account = await service.log.agent_by_username(body.username)
    if not check_password(account.password_hash if account else None, body.password) or account is None \
            or not account.active:
        raise NotAuthenticated(BAD_CREDENTIALS)
    principal = Principal(account.agent_id, account.username, account.name, Role(account.role))
    sessions: Sessions = request.app.state.sessions
    token = await sessions.open(principal)
    response.set_cookie(COOKIE, token, max_age=int(settings.session_ttl), httponly=True, samesite="strict",
                        secure=settings.cookie_secure)
    await service.set_presence(principal, Presence.ONLINE)
    return {"token": token, "agent": {**principal.to_json(), "presence": Presence.ONLINE.value}}


@router.post("/api/auth/logout", status_code=204)
async def logout(request: Request, response: Response) -> None:
    token = session_token(request)
    if token:
        await request.app.state.sessions.close(token)
    response.delete_cookie(COOKIE)


@router.get("/api/me")
async def me(agent: Agent, service: Service) -> dict[str, Any]:
    snapshot = await service.store.get_agent(agent.agent_id)
    return {**agent.to_json(), "presence": snapshot.presence.value if snapshot else Presence.OFFLINE.value}


@router.put("/api/me/presence")
async def presence(body: PresenceBody, agent: Agent, service: Service) -> dict[str, Any]:
    await service.set_presence(agent, body.presence)
    return {"presence": body.presence.value}


@router.get("/api/queue")
async def queue(agent: Agent, service: Service) -> dict[str, Any]:
    return {"queue": await service.queue_summaries()}


@router.get("/api/agent/conversations")
async def mine(agent: Agent, service: Service) -> dict[str, Any]:
    return {"conversations": await service.mine(agent)}


@router.get("/api/agent/conversations/{conversation_id}")
async def detail(conversation_id: str, agent: Agent, service: Service) -> dict[str, Any]:
    return await service.detail(conversation_id)


@router.get("/api/agent/conversations/{conversation_id}/suggestions")
async def suggestions(conversation_id: str, request: Request, agent: Agent, service: Service) -> dict[str, Any]:
    record = await service.conversation(conversation_id)
    last = await service.log.last_message(record.conversation_id, sender="customer")
    found = await request.app.state.suggestions.for_text(last.text if last else "")
    return {"suggestions": found}


@router.post("/api/agent/conversations/{conversation_id}/accept")
async def accept(conversation_id: str, agent: Agent, service: Service) -> dict[str, Any]:
    return await service.summary(await service.accept(agent, conversation_id))


@router.post("/api/agent/conversations/{conversation_id}/messages")
async def reply(conversation_id: str, body: Text, agent: Agent, service: Service) -> dict[str, Any]:
    message, _ = await service.agent_says(agent, conversation_id, body.text, body.client_id)
    return {"message": message.to_json()}


@router.post("/api/agent/conversations/{conversation_id}/notes", status_code=201)
async def note(conversation_id: str, body: Text, agent: Agent, service: Service) -> dict[str, Any]:
    return await service.add_note(agent, conversation_id, body.text)


@router.post("/api/agent/conversations/{conversation_id}/transfer")
async def transfer(conversation_id: str, body: TransferBody, agent: Agent, service: Service) -> dict[str, Any]:
    return await service.summary(await service.transfer(agent, conversation_id, body.agent_id, body.tier))


@router.post("/api/agent/conversations/{conversation_id}/handback")
async def handback(conversation_id: str, agent: Agent, service: Service) -> dict[str, Any]:
    return await service.summary(await service.handback(agent, conversation_id))


@router.post("/api/agent/conversations/{conversation_id}/resolve")
async def resolve(conversation_id: str, agent: Agent, service: Service) -> dict[str, Any]:
    return await service.summary(await service.resolve(agent, conversation_id))


@router.get("/api/agents")
async def agents(agent: Agent, service: Service) -> dict[str, Any]:
    live = {snapshot.agent_id: snapshot for snapshot in await service.store.agents()}
    out = []
    for account in await service.log.list_agents():
        snapshot = live.get(account.agent_id)
        out.append({"id": account.agent_id, "name": account.name, "role": account.role, "tiers": sorted(account.tiers),
                     "presence": snapshot.presence.value if snapshot else "offline",
                     "load": snapshot.load if snapshot else 0, "capacity": account.capacity})
    return {"agents": out}


@router.get("/api/canned-responses")
async def canned(agent: Agent, service: Service) -> dict[str, Any]:
    return {"canned": [c.to_json() for c in await service.log.list_canned()]}


@router.get("/api/tickets")
async def tickets(agent: Agent, service: Service, status: str | None = None, assignee: str | None = None,
                  tier: int | None = None, priority: str | None = None, tag: str | None = None, q: str | None = None,
                  limit: int = 50, offset: int = 0) -> dict[str, Any]:
    found = await service.log.list_tickets(status=status, assignee=assignee, tier=tier, priority=priority, tag=tag,
                                           q=q, limit=max(1, min(limit, 200)), offset=max(0, offset))
    return {"tickets": [t.to_json() for t in found]}


@router.get("/api/tickets/{ticket_id}")
async def ticket(ticket_id: int, agent: Agent, service: Service) -> dict[str, Any]:
    found = await service.log.get_ticket(ticket_id)
    if found is None:
        raise UnknownConversation("There is no ticket with this number.")
    return found.to_json()


@router.patch("/api/tickets/{ticket_id}")
async def edit_ticket(ticket_id: int, body: TicketPatch, agent: Agent, service: Service) -> dict[str, Any]:
    if await service.log.ticket(ticket_id) is None:
        raise UnknownConversation("There is no ticket with this number.")
    await service.log.update_ticket(ticket_id, tags=body.tags, priority=body.priority)
    return (await service.log.get_ticket(ticket_id)).to_json()  # type: ignore[union-attr]


@router.websocket("/ws/agent")
async def agent_ws(websocket: WebSocket) -> None:
    """Agent socket; refuses cross-site origins (the session cookie must not ride on another site's socket)."""
    principal = None
    origin, host = websocket.headers.get("origin"), websocket.headers.get("host", "")
    if origin is None or origin.split("://", 1)[-1] == host:
        token = websocket.query_params.get("token") or websocket.cookies.get(COOKIE)
        with contextlib.suppress(NotAllowed):
            principal = await websocket.app.state.sessions.principal(token)
    await agent_socket(websocket, websocket.app.state.service, principal)

