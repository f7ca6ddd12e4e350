"""REST endpoints of the customer widget (the socket is in :mod:`handoff.web.gateway`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, WebSocket

from handoff.web.bodies import NewConversation, Text, errors
from handoff.web.deps import Service, customer_check
from handoff.web.gateway import customer_socket
from handoff.web.guards import client_address

router = APIRouter(tags=["customers"], responses=errors(503))


@router.post("/api/conversations", status_code=201, responses=errors(400, 429))
async def start(body: NewConversation, request: Request, service: Service) -> dict[str, Any]:
    """Start a conversation with the bot; the answer's token is the only key to it. Too many from one client
    address a minute: 429 with ``Retry-After``."""
    record = await service.customers.open(channel=body.channel, name=body.name, email=body.email,
                                          language=body.language, external_id=body.external_id,
                                          expires=body.expires, signature=body.signature,
                                          identities=body.identities,
                                          client=client_address(request, service.settings))
    return {"conversation_id": record.conversation_id, "state": record.state.value,
            "customer_token": service.customers.token(record.conversation_id)}


@router.get("/api/conversations/{conversation_id}/messages", responses=errors(400, 401, 404))
async def messages(conversation_id: str, request: Request, service: Service, after: int = 0) -> dict[str, Any]:
    """Messages after the given id, the state and the queue position (for clients without a socket)."""
    await customer_check(request, conversation_id)
    record = await service.customers.get(conversation_id)
    history = await service.customers.history(record.conversation_id, after)
    return {"messages": [m.to_json() for m in history], "state": record.state.value,
            "queue": await service.customers.queue_status(record)}


@router.post("/api/conversations/{conversation_id}/messages", responses=errors(400, 401, 404, 409, 429))
async def post_message(conversation_id: str, body: Text, request: Request, service: Service) -> dict[str, Any]:
    """Say something (same as the socket's ``message`` frame); answers once the bot has had its turn. Too many
    from one client address a minute: 429 with ``Retry-After``, and the message is not stored (send it again
    later)."""
    await customer_check(request, conversation_id)
    said = await service.customers.says(conversation_id, body.text, body.client_id,
                                        client_address(request, service.settings))
    await service.customers.bot_turn(said)
    return {"message": said.message.to_json()}


async def customer_ws(websocket: WebSocket) -> None:
    await customer_socket(websocket, websocket.app.state.service)


# A plain Starlette route, not ``@router.websocket``: FastAPI's would solve (no) dependencies and keep its exit
# stacks and frames for as long as the socket lives, some 4 KB per idle customer.
router.add_websocket_route("/ws/customer", customer_ws)
