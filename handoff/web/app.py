"""The HTTP side of the handoff service: REST API (OpenAPI at /openapi.json), pages, and the two sockets.

``create_app(settings)`` builds a FastAPI application whose lifespan opens the service
(:func:`handoff.service.wiring.open_service`: the store, the ticket log, the Rasa client, routing, the sweeper)
and closes it. The routers and the gateway call the service's facade only. Uvicorn serves it, with the
``websockets`` package under the WebSocket endpoints.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from handoff.core.errors import (
    BadRequest,
    Conflict,
    HandoffError,
    NotAllowed,
    NotAuthenticated,
    RateLimited,
    StateConflict,
    UnknownConversation,
    UpstreamUnavailable,
)
from handoff.service import HandoffService
from handoff.service.wiring import open_service
from handoff.settings import HandoffSettings
from handoff.web import (
    api_admin,
    api_agents,
    api_alerts,
    api_automation,
    api_board,
    api_capacity,
    api_customers,
    api_feedback,
    api_identities,
    api_inbox,
    api_insights,
    api_knowledge,
    api_models,
    api_practice,
    api_qa,
    api_reports,
    channels,
    metrics,
)
from handoff.web.guards import BodyLimit

logger = logging.getLogger(__name__)
WEB = Path(__file__).resolve().parent / "static"
# The console runs only our own script and styles, talks only to its own origin (fetch and WebSocket: CSP 3's
# 'self' covers ws: and wss: of the same host), and no other page may frame it; customer text can never become
# code.
CONSOLE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
# Answers that are data, never pages (the API, its errors, a 404): nothing in them may run or be framed.
DATA_CSP = "default-src 'none'; frame-ancestors 'none'"
STATUS = {BadRequest: 400, NotAuthenticated: 401, NotAllowed: 403, UnknownConversation: 404, StateConflict: 409,
          Conflict: 409, RateLimited: 429, UpstreamUnavailable: 503}
EVERYWHERE = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}
CONSOLE = {**EVERYWHERE, "content-security-policy": CONSOLE_CSP, "x-frame-options": "DENY"}
DATA = {**EVERYWHERE, "content-security-policy": DATA_CSP, "x-frame-options": "DENY"}
OWN_PAGES = ("/", "/widget.js", "/docs", "/docs/oauth2-redirect", "/redoc")
"""Pages with policies of their own: the demo shop and the widget (embedded in other sites), FastAPI's API
browsers (which load their scripts from a CDN)."""


def security_headers(path: str) -> dict[str, str]:
    """The headers every response to ``path`` carries (unless it sets them itself)."""
    if path == "/console" or path.startswith("/static/"):
        return CONSOLE
    return EVERYWHERE if path in OWN_PAGES else DATA


class SecurityHeaders:
    """ASGI middleware: :func:`security_headers` on every HTTP response, errors included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = security_headers(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
HTTP_CODES = {400: BadRequest.code, 404: "not_found", 405: "method_not_allowed", 413: "too_large"}


def create_app(settings: HandoffSettings,
               opener: Callable[[HandoffSettings], Awaitable[HandoffService]] = open_service) -> FastAPI:
    """The application; its lifespan opens the service (on the adapters the settings name, or with
    ``opener``: tests pass one that builds it in process) and closes it."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = await opener(settings)
        app.state.settings = settings
        app.state.service = service
        logger.info("handoff service ready (live state: %s)", "redis" if settings.redis_url else "in process")
        try:
            yield
        finally:
            await service.close()

    app = FastAPI(title="Brightwood handoff service", version="1", lifespan=lifespan,
                  description="Customer conversations between the bot and human agents: routing, relay, tickets. "
                              "WebSocket frames are described in docs/handoff-protocol.md.")
    app.add_middleware(CORSMiddleware, allow_origins=list(settings.widget_origins), allow_credentials=False,
                       allow_methods=["GET", "POST"], allow_headers=["Authorization", "Content-Type"])
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders)  # outside CORS and the body cap: also on their refusals
    app.add_middleware(metrics.CountRequests)  # outermost: every answer counted, refusals included
    app.add_exception_handler(HandoffError, handoff_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, invalid_body)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, http_error)  # type: ignore[arg-type]
    app.include_router(pages)
    app.include_router(api_customers.router)
    app.include_router(api_agents.router)
    app.include_router(api_admin.router)
    app.include_router(api_board.router)
    app.include_router(api_alerts.router)
    app.include_router(api_feedback.router)
    app.include_router(api_automation.router)
    app.include_router(metrics.router)
    app.include_router(api_reports.router)
    app.include_router(api_capacity.router)
    app.include_router(api_qa.router)
    app.include_router(api_insights.router)
    app.include_router(api_inbox.router)
    app.include_router(api_models.router)
    app.include_router(api_identities.router)
    app.include_router(channels.router)
    app.include_router(api_practice.router)
    app.include_router(api_knowledge.router)
    app.openapi = lambda: described(app)  # type: ignore[method-assign]
    return app


def described(app: FastAPI) -> dict[str, Any]:
    """FastAPI's OpenAPI description, less the 422 it adds to every route with parameters: invalid input is
    a 400 here (:func:`invalid_body`), which each route documents with its other errors."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    schema = FastAPI.openapi(app)  # kept as app.openapi_schema: the changes below are made once
    for operations in schema["paths"].values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    for unused in ("HTTPValidationError", "ValidationError"):
        schema.get("components", {}).get("schemas", {}).pop(unused, None)
    return schema


async def handoff_error(request: Request, exc: HandoffError) -> JSONResponse:
    status = next((STATUS[kind] for kind in type(exc).__mro__ if kind in STATUS), 500)  # the most specific
    headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after)))} if isinstance(exc, RateLimited) else None
    return JSONResponse({"error": {"code": exc.code, "detail": str(exc)}}, status_code=status, headers=headers)


async def invalid_body(request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
    return JSONResponse({"error": {"code": BadRequest.code, "detail": f"{where}: {first.get('msg', 'invalid')}"}},
                        status_code=400)


async def http_error(request: Request, exc: HTTPException) -> Response:
    """What the framework refuses itself (a body that is not UTF-8 JSON, an unknown path or method) answers
    in the API's error format too."""
    if exc.status_code < 400 or exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    code = HTTP_CODES.get(exc.status_code, "error")
    return JSONResponse({"error": {"code": code, "detail": str(exc.detail)}}, status_code=exc.status_code,
                        headers=exc.headers)


pages = APIRouter(include_in_schema=False)


@pages.get("/")
async def shop() -> FileResponse:
    return FileResponse(WEB / "index.html")


@pages.get("/widget.js")
async def widget() -> FileResponse:
    return FileResponse(WEB / "widget.js", media_type="text/javascript", headers={"Cache-Control": "max-age=300"})


@pages.get("/console")
async def console() -> FileResponse:
    return FileResponse(WEB / "console.html")  # with the console's security headers (SecurityHeaders)


@pages.get("/static/{name}")
async def static(name: str) -> FileResponse:
    path = (WEB / name).resolve()
    if path.parent != WEB or not path.is_file():
        raise UnknownConversation("No such file.")
    return FileResponse(path)


@pages.get("/health")
async def health(request: Request) -> dict[str, Any]:
    return {"status": "ok", "live_state": "redis" if request.app.state.settings.redis_url else "in process"}
