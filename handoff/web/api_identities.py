"""REST endpoints of customer identity across channels (docs/channels.md, "Who a customer is").

A customer the shop signed in on the widget links their other channel identities with the token of their
conversation (``Authorization: Bearer``, as every customer endpoint: no cookie, so nothing for another site to
forge): lists them, verifies an e-mail address with a mailed code, gets a code to send from an IM account as
``link CODE``, and removes a link. An anonymous visitor's token opens the list (empty) and nothing else (403).
Codes are rate limited per customer and per IM account (429 with ``Retry-After``).

Agents see a conversation's customer's links on the console's customer panel (``GET
/api/agent/conversations/{id}``, the policy's ``read_conversation``); only an admin removes one (the policy's
``unlink_identity``). Addresses travel in request bodies, never URLs, so they stay out of access logs.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from handoff.web.bodies import Str, errors
from handoff.web.deps import Agent, Service, customer_check

router = APIRouter(tags=["identities"], responses=errors(503))
BASE = "/api/conversations/{conversation_id}/identities"


class EmailAddress(BaseModel):
    address: Str = Field(max_length=320)


class EmailCode(BaseModel):
    address: Str = Field(max_length=320)
    code: Str = Field(max_length=32)


class WhichIdentity(BaseModel):
    channel: Str = Field(max_length=40)
    address: Str = Field(max_length=320)


class CustomersIdentity(WhichIdentity):
    customer_id: Str = Field(max_length=64)


@router.get(BASE, responses=errors(401, 404))
async def listed(conversation_id: str, request: Request, service: Service) -> dict[str, Any]:
    """The linked identities of the conversation's customer (none for an anonymous visitor)."""
    await customer_check(request, conversation_id)
    record = await service.customers.get(conversation_id)
    return {"signed_in": bool(record.customer_external_id), "identities": await service.identities.listed(record)}


@router.post(BASE + "/email", status_code=202, responses=errors(400, 401, 403, 404, 409, 429))
async def email_code(conversation_id: str, body: EmailAddress, request: Request, service: Service) -> dict[str, Any]:
    """Mail a verification code to the address (the customer types it back: ``.../email/confirm``)."""
    await customer_check(request, conversation_id)
    record = await service.customers.get(conversation_id)
    return await service.identities.request_email_code(record, body.address)


@router.post(BASE + "/email/confirm", responses=errors(400, 401, 403, 404, 429))
async def email_confirm(conversation_id: str, body: EmailCode, request: Request, service: Service) -> dict[str, Any]:
    """The code mailed to the address: the address is linked (``email_verified``); a wrong, used or expired code
    is 400."""
    await customer_check(request, conversation_id)
    record = await service.customers.get(conversation_id)
    return await service.identities.confirm_email(record, body.address, body.code)


@router.post(BASE + "/link-code", status_code=201, responses=errors(401, 403, 404, 429))
async def link_code(conversation_id: str, request: Request, service: Service) -> dict[str, Any]:
    """A short-lived, single-use code; sent as ``link CODE`` from an IM account it links that account."""
    await customer_check(request, conversation_id)
    record = await service.customers.get(conversation_id)
    return await service.identities.link_code(record)


@router.post(BASE + "/unlink", status_code=204, responses=errors(400, 401, 403, 404))
async def unlink_own(conversation_id: str, body: WhichIdentity, request: Request, service: Service) -> None:
    """Remove one of the customer's own links (404 if it is not theirs)."""
    await customer_check(request, conversation_id)
    record = await service.customers.get(conversation_id)
    await service.identities.unlink_own(record, body.channel, body.address)


@router.post("/api/admin/customers/identities/unlink", status_code=204, responses=errors(400, 401, 403, 404))
async def unlink(body: CustomersIdentity, agent: Agent, service: Service) -> None:
    """An admin removes a customer's link (the policy's ``unlink_identity``)."""
    await service.identities.unlink(agent, body.customer_id, body.channel, body.address)
