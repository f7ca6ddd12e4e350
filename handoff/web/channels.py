"""Webhooks of the customer channels whose provider calls the service: ``POST /channels/telegram/webhook``.

Telegram calls it with each ``Update`` of the bot (docs/channels.md, "Telegram"). No session: the caller proves it
is Telegram with the secret token the service gave ``setWebhook`` (``HANDOFF_TELEGRAM_SECRET``), in the header
``X-Telegram-Bot-Api-Secret-Token``, compared in constant time before the body is read. Answers:

- 404: the service does not run the ``telegram`` channel;
- 401: the header is missing or wrong (the body is not read);
- 413: a body over ``HANDOFF_MAX_BODY_BYTES`` (:class:`handoff.web.guards.BodyLimit`);
- 400: a body that is not JSON (Telegram never sends one);
- 200: the update is kept (or was before: Telegram's re-delivery of an ``update_id`` is taken once), or is one the
  channel ignores; the bot's answer follows in the background, so Telegram hears back at once;
- 503: it could not be kept (the database away): Telegram sends the update again later, so nothing is lost.

Not in the OpenAPI description: the provider's contract is Telegram's published one, not the service's API.
"""

from __future__ import annotations

import hmac
import json
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from handoff.core.errors import NotAuthenticated
from handoff.service.ports import WebhookTransport
from handoff.web.deps import Service

logger = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
TELEGRAM_SECRET_HEADER = "x-telegram-bot-api-secret-token"


@router.post("/channels/telegram/webhook")
async def telegram_webhook(request: Request, service: Service) -> JSONResponse:
    im, secret = service.im, service.settings.telegram_secret
    transport = im.transport("telegram") if im is not None and "telegram" in im.channels else None
    if not isinstance(transport, WebhookTransport) or secret is None:
        raise HTTPException(404, "Not Found")
    given = request.headers.get(TELEGRAM_SECRET_HEADER, "")
    if not hmac.compare_digest(given.encode(), str(secret).encode()):
        raise NotAuthenticated("The webhook's secret token is missing or wrong.")
    try:
        update = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        return JSONResponse({"error": {"code": "bad_request", "detail": "The body is not a JSON Update."}},
                            status_code=400)
    try:
        await transport.take(update)
    except Exception:
        logger.exception("telegram: an update could not be taken in; Telegram will send it again")
        return JSONResponse({"error": {"code": "unavailable", "detail": "Not kept; send it again later."}},
                            status_code=503)
    return JSONResponse({"ok": True})
