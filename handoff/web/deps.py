"""FastAPI dependencies: the service, the signed-in agent (with the CSRF rule), the customer's token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from handoff.core.errors import NotAllowed
from handoff.service import HandoffService
from handoff.service.auth import Principal
from handoff.settings import HandoffSettings

COOKIE = "handoff_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-Requested-With"
"""What the console adds to every request; another site cannot add it to a request to us without our CORS
consent, which it never gets for this header (nor credentials)."""


def service_of(request: Request) -> HandoffService:
    return request.app.state.service  # type: ignore[no-any-return]


def settings_of(request: Request) -> HandoffSettings:
    return request.app.state.settings  # type: ignore[no-any-return]


def bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.startswith("Bearer "):
        return auth.removeprefix("Bearer ").strip() or None
    return None


def session_token(request: Request) -> str | None:
    return bearer(request) or request.cookies.get(COOKIE)


def same_origin(request: Request) -> None:
    """Refuse a request a browser says comes from another site (``Origin``; scripts send none)."""
    origin = request.headers.get("origin")
    if origin is not None and origin.split("://", 1)[-1] != request.headers.get("host", ""):
        raise NotAllowed("Requests from other sites are refused.")


def csrf_check(request: Request) -> None:
    """Cross-site request forgery: a state-changing request that the session cookie would authenticate must
    come from our own pages (the console's ``X-Requested-With`` header, and no foreign ``Origin``). A bearer
    token is never sent by a browser on its own, so scripts that use one are not asked."""
    if request.method in SAFE_METHODS or bearer(request) is not None:
        return
    same_origin(request)
    if request.cookies.get(COOKIE) is not None and not request.headers.get(CSRF_HEADER):
        raise NotAllowed(f"This request needs the console's {CSRF_HEADER} header: other sites cannot act with "
                         "your session.")


async def principal_of(request: Request) -> Principal:
    csrf_check(request)
    return await service_of(request).accounts.principal(session_token(request))


async def customer_check(request: Request, conversation_id: str) -> None:
    """Only the holder of the conversation's token (``Authorization: Bearer``) may read or write it."""
    await service_of(request).customers.check_token(conversation_id, session_token(request))


Service = Annotated[HandoffService, Depends(service_of)]
Settings = Annotated[HandoffSettings, Depends(settings_of)]
Agent = Annotated[Principal, Depends(principal_of)]
