"""REST endpoints of the agent console: sign-in, queue, conversations, tickets (socket: :mod:`.gateway`).

Every endpoint hands the signed-in agent to the service, whose policy (:mod:`handoff.service.policy`) decides
what they may see and do. State-changing requests authenticated by the session cookie must carry the
console's ``X-Requested-With`` header (:func:`handoff.web.deps.csrf_check`).
"""

from __future__ import annotations

import contextlib
from typing import Any

from fastapi import APIRouter, Depends, Request, Response, WebSocket
from fastapi.responses import FileResponse

from handoff.core.errors import NotAllowed, UnknownConversation
from handoff.web.bodies import Login, PresenceBody, Text, TicketPatch, TransferBody, errors
from handoff.web.deps import COOKIE, Agent, Service, Settings, csrf_check, same_origin, session_token
from handoff.web.gateway import agent_socket
from handoff.web.guards import client_address

router = APIRouter(tags=["agents"], responses=errors(503))


@router.post("/api/auth/login", dependencies=[Depends(same_origin)], responses=errors(400, 401, 403, 429))
async def login(body: Login, request: Request, response: Response, service: Service,
                settings: Settings) -> dict[str, Any]:
    """Sign in: sets the HttpOnly session cookie and returns the same token for scripts. Failures in a row
    lock the username and the client's address out for a growing time (429 with ``Retry-After``)."""
    address = client_address(request, settings)
    token, principal = await service.accounts.sign_in(body.username, body.password, address)
    response.set_cookie(COOKIE, token, max_age=int(settings.session_ttl), httponly=True, samesite="strict",
                        secure=settings.cookie_secure)
    return {"token": token, "agent": await service.accounts.me(principal)}


@router.post("/api/auth/logout", status_code=204, dependencies=[Depends(csrf_check)])
async def logout(request: Request, response: Response, service: Service) -> None:
    """End the session and close the sockets opened with it."""
    token = session_token(request)
    if token:
        await service.accounts.sign_out(token)
    response.delete_cookie(COOKIE)


@router.get("/api/me", responses=errors(401))
async def me(agent: Agent, service: Service) -> dict[str, Any]:
    return await service.accounts.me(agent)


@router.put("/api/me/presence", responses=errors(400, 401))
async def presence(body: PresenceBody, agent: Agent, service: Service) -> dict[str, Any]:
    await service.desk.set_presence(agent, body.presence)
    return {"presence": body.presence.value}


@router.get("/api/queue", responses=errors(401, 403))
async def queue(agent: Agent, service: Service) -> dict[str, Any]:
    return {"queue": await service.desk.queue(agent)}


@router.get("/api/agent/conversations", responses=errors(401))
async def mine(agent: Agent, service: Service) -> dict[str, Any]:
    return {"conversations": await service.desk.mine(agent)}


@router.get("/api/agent/conversations/{conversation_id}", responses=errors(401, 403, 404))
async def detail(conversation_id: str, agent: Agent, service: Service) -> dict[str, Any]:
    return await service.desk.detail(agent, conversation_id)


@router.get("/api/agent/conversations/{conversation_id}/attachments/{folder}/{name}",
            responses=errors(401, 403, 404), response_class=FileResponse)
async def attachment(conversation_id: str, folder: str, name: str, agent: Agent, service: Service) -> FileResponse:
    """A file an e-mail of the conversation carried (kept by the e-mail channel), to whoever may see the
    conversation; always as a download (never shown inline: it is the customer's file)."""
    await service.desk.detail(agent, conversation_id)  # who may see the conversation (403, 404)
    path = await service.mail.attachment(conversation_id, folder, name) if service.mail is not None else None
    if path is None:
        raise UnknownConversation("No such attachment.")
    return FileResponse(path, media_type="application/octet-stream", filename=name.split("-", 1)[-1],
                        content_disposition_type="attachment")


@router.get("/api/agent/conversations/{conversation_id}/suggestions", responses=errors(401, 403, 404))
async def suggestions(conversation_id: str, agent: Agent, service: Service) -> dict[str, Any]:
    return {"suggestions": await service.desk.suggestions(agent, conversation_id)}


@router.post("/api/agent/conversations/{conversation_id}/accept", responses=errors(401, 403, 404, 409))
async def accept(conversation_id: str, agent: Agent, service: Service) -> dict[str, Any]:
    return await service.desk.summary(await service.desk.accept(agent, conversation_id))


@router.post("/api/agent/conversations/{conversation_id}/messages", responses=errors(400, 401, 403, 404, 409))
async def reply(conversation_id: str, body: Text, agent: Agent, service: Service) -> dict[str, Any]:
    message, _ = await service.desk.says(agent, conversation_id, body.text, body.client_id)
    return {"message": message.to_json()}


@router.post("/api/agent/conversations/{conversation_id}/notes", status_code=201,
             responses=errors(400, 401, 403, 404, 409))
async def note(conversation_id: str, body: Text, agent: Agent, service: Service) -> dict[str, Any]:
    return await service.desk.note(agent, conversation_id, body.text)


@router.post("/api/agent/conversations/{conversation_id}/transfer", responses=errors(400, 401, 403, 404, 409))
async def transfer(conversation_id: str, body: TransferBody, agent: Agent, service: Service) -> dict[str, Any]:
    return await service.desk.summary(await service.desk.transfer(agent, conversation_id, body.agent_id, body.tier))


@router.post("/api/agent/conversations/{conversation_id}/handback", responses=errors(401, 403, 404, 409))
async def handback(conversation_id: str, agent: Agent, service: Service) -> dict[str, Any]:
    return await service.desk.summary(await service.desk.hand_back(agent, conversation_id))


@router.post("/api/agent/conversations/{conversation_id}/resolve", responses=errors(401, 403, 404, 409))
async def resolve(conversation_id: str, agent: Agent, service: Service) -> dict[str, Any]:
    return await service.desk.summary(await service.desk.resolve(agent, conversation_id))


@router.get("/api/agents", responses=errors(401, 403))
async def agents(agent: Agent, service: Service) -> dict[str, Any]:
    return {"agents": await service.accounts.team(agent)}


@router.get("/api/canned-responses", responses=errors(401))
async def canned(agent: Agent, service: Service) -> dict[str, Any]:
    return {"canned": await service.helpdesk.canned(agent)}


@router.get("/api/tickets", responses=errors(400, 401, 403))
async def tickets(agent: Agent, service: Service, status: str | None = None, assignee: str | None = None,
                  tier: int | None = None, priority: str | None = None, tag: str | None = None, q: str | None = None,
                  limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """Tickets, newest first; an agent's list holds only tickets they are or were assigned to."""
    return {"tickets": await service.helpdesk.tickets(agent, status=status, assignee=assignee, tier=tier,
                                                      priority=priority, tag=tag, q=q, limit=limit, offset=offset)}


@router.get("/api/tickets/{ticket_id}", responses=errors(400, 401, 403, 404))
async def ticket(ticket_id: int, agent: Agent, service: Service) -> dict[str, Any]:
    return await service.helpdesk.ticket(agent, ticket_id)


@router.patch("/api/tickets/{ticket_id}", responses=errors(400, 401, 403, 404, 409, 413))  # 413: a long callback_text
async def edit_ticket(ticket_id: int, body: TicketPatch, agent: Agent, service: Service) -> dict[str, Any]:
    return await service.helpdesk.edit_ticket(agent, ticket_id, tags=body.tags, priority=body.priority,
                                              category=body.category, callback_sent=body.callback_sent,
                                              callback_text=body.callback_text)


@router.websocket("/ws/agent")
async def agent_ws(websocket: WebSocket) -> None:
    """Agent socket; refuses cross-site origins (the session cookie must not ride on another site's socket)."""
    principal, token = None, None
    origin, host = websocket.headers.get("origin"), websocket.headers.get("host", "")
    if origin is None or origin.split("://", 1)[-1] == host:
        token = websocket.query_params.get("token") or websocket.cookies.get(COOKIE)
        with contextlib.suppress(NotAllowed):
            principal = await websocket.app.state.service.accounts.principal(token)
    await agent_socket(websocket, websocket.app.state.service, principal, token)
