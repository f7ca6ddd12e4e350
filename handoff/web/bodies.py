"""The REST API's request bodies (validated by FastAPI; a bad one is a 400 with the field named)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from handoff.core.model import MAX_CLIENT_ID, Presence


class NewConversation(BaseModel):
    channel: str = Field("web", max_length=40)
    name: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=320)
    language: str = Field("en", max_length=10)
    external_id: str | None = Field(None, max_length=200, description="the shop's id of a signed-in customer")
    expires: int | None = Field(None, ge=0, le=2**53, description="when the signature expires (seconds since the "
                                "epoch); at most 24 hours ahead")
    signature: str | None = Field(None, max_length=200, description='hex HMAC-SHA256 of "<external_id>.<expires>" '
                                                                    "under HANDOFF_WIDGET_SECRET")


class Text(BaseModel):
    text: str
    client_id: str | None = Field(None, max_length=MAX_CLIENT_ID)


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
