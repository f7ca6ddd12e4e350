"""``GET /metrics``: the service's metrics for Prometheus (docs/operations-metrics.md), and the count of HTTP
requests by route template.

Prometheus scrapes without a browser session, so the endpoint has a rule of its own instead of a row of the
policy: with ``HANDOFF_METRICS_TOKEN`` set, a request must carry ``Authorization: Bearer <that token>``;
without it, only loopback clients (the machine itself, or a Prometheus beside the service behind the same
host) are served. The client's address is the one the rate limits use (``HANDOFF_CLIENT_IP_HEADER`` behind a
trusted proxy), so a proxy on the same host does not make every client a loopback one.
"""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import APIRouter, Request, Response
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from handoff.core.errors import NotAllowed, NotAuthenticated
from handoff.service import HandoffService
from handoff.settings import HandoffSettings
from handoff.web.deps import bearer
from handoff.web.gateway import socket_count
from handoff.web.guards import client_address

router = APIRouter(include_in_schema=False)


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def check_scraper(request: Request, settings: HandoffSettings) -> None:
    """Raises ``NotAuthenticated`` (401) for a wrong or missing token when one is set, ``NotAllowed`` (403) for
    a client not on loopback when none is."""
    if settings.metrics_token is not None:
        given = bearer(request) or ""
        if not hmac.compare_digest(given.encode(), str(settings.metrics_token).encode()):
            raise NotAuthenticated("The metrics need the bearer token set in HANDOFF_METRICS_TOKEN.")
        return
    if not is_loopback(client_address(request, settings)):
        raise NotAllowed("The metrics are served to this machine only; set HANDOFF_METRICS_TOKEN to let a "
                         "Prometheus elsewhere scrape them with it.")


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    service: HandoffService = request.app.state.service
    check_scraper(request, service.settings)
    body = await service.metrics(socket_count(request).by_kind())
    # the text format generate_latest writes (the library's "latest" content type names a newer one)
    return Response(body, media_type=CONTENT_TYPE_PLAIN_0_0_4, headers={"Cache-Control": "no-store"})


class CountRequests:
    """ASGI middleware: every HTTP response counted in ``handoff_http_requests_total`` by the route template
    that answered (``/api/tickets/{ticket_id}``, never the id itself; ``unmatched`` for unknown paths), the
    method and the status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            service = getattr(scope["app"].state, "service", None) if "app" in scope else None
            if service is not None:
                route = getattr(scope.get("route"), "path", None) or "unmatched"
                service.telemetry.http.labels(route, scope["method"], str(status)).inc()
