"""REST endpoints of the customer widget (the socket is in :mod:`handoff.web.gateway`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, WebSocket
from pydantic import BaseModel, Field

from handoff.core.model import MAX_CLIENT_ID
from handoff.service.auth import customer_token, verified_external_id
from handoff.web.deps import Service, Settings, customer_check
from handoff.web.gateway import customer_socket

router = APIRouter(tags=["customers"])


class NewConversation(BaseModel):
    channel: str = Field("web", max_length=40)
    name: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=320)
    language: str = Field("en", max_length=10)
    external_id: str | None = Field(None, max_length=200)
    signature: str | None = Field(None, max_length=200, description="hex HMAC-SHA256 of external_id under "
                                                                    "HANDOFF_WIDGET_SECRET")


class Text(BaseModel):
    text: str
    client_id: str | None = Field(None, max_length=MAX_CLIENT_ID)


@router.post("/api/conversations", status_code=201)
async def start(body: NewConversation, service: Service, settings: Settings) -> dict[str, Any]:
    """Start a conversation with the bot; the answer's token is the only key to it."""
    widget_secret = str(settings.widget_secret) if settings.widget_secret else None
    external_id = verified_external_id(widget_secret, body.external_id, body.signature)
    record = await service.open_conversation(channel=body.channel, name=body.name, email=body.email,
                                             language=body.language, external_id=external_id)
    return {"conversation_id": record.conversation_id, "state": record.state.value,
            "customer_token": customer_token(str(settings.secret), record.conversation_id)}


@router.get("/api/conversations/{conversation_id}/messages")
async def messages(conversation_id: str, request: Request, service: Service, after: int = 0) -> dict[str, Any]:
    """Messages after the given id, the state and the queue position (for clients without a socket)."""
    customer_check(request, conversation_id)
    record = await service.conversation(conversation_id)
    return {"messages": [m.to_json() for m in await service.log.messages(record.conversation_id, after_id=after)],
            "state": record.state.value, "queue": await service.queue_status(record)}


@router.post("/api/conversations/{conversation_id}/messages")
async def post_message(conversation_id: str, body: Text, request: Request, service: Service) -> dict[str, Any]:
    """Say something (same as the socket's ``message`` frame); answers once the bot has had its turn."""
    customer_check(request, conversation_id)
    said = await service.customer_says(conversation_id, body.text, body.client_id)
    if said.new:
        await service.after_customer_message(said)
    return {"message": said.message.to_json()}


async def customer_ws(websocket: WebSocket) -> None:
    await customer_socket(websocket, websocket.app.state.service)


# A plain Starlette route, not ``@router.websocket``: FastAPI's would solve (no) dependencies and keep its exit
# stacks and frames for as long as the socket lives, some 4 KB per idle customer.
router.add_websocket_route("/ws/customer", customer_ws)
