"""FastAPI dependencies: the service, the signed-in agent, the customer's token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from handoff.service import HandoffService
from handoff.service.auth import Principal
from handoff.settings import HandoffSettings

COOKIE = "handoff_session"


def service_of(request: Request) -> HandoffService:
    return request.app.state.service  # type: ignore[no-any-return]


def settings_of(request: Request) -> HandoffSettings:
    return request.app.state.settings  # type: ignore[no-any-return]


def session_token(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.startswith("Bearer "):
        return auth.removeprefix("Bearer ").strip() or None
    return request.cookies.get(COOKIE)


async def principal_of(request: Request) -> Principal:
    return await service_of(request).accounts.principal(session_token(request))


async def customer_check(request: Request, conversation_id: str) -> None:
    """Only the holder of the conversation's token (``Authorization: Bearer``) may read or write it."""
    await service_of(request).customers.check_token(conversation_id, session_token(request))


Service = Annotated[HandoffService, Depends(service_of)]
Settings = Annotated[HandoffSettings, Depends(settings_of)]
Agent = Annotated[Principal, Depends(principal_of)]
