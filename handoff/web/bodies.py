"""The REST API's request bodies (validated by FastAPI; a bad one is a 400 with the field named)."""

from __future__ import annotations

import zoneinfo
from typing import Annotated

from pydantic import BaseModel, Field, field_validator

from handoff.core.model import MAX_CLIENT_ID, Presence, Role


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


Tier = Annotated[int, Field(ge=1, le=3)]
Word = Annotated[str, Field(min_length=1, max_length=40)]


class AccountFields(BaseModel):
    """What an admin may set on an account."""

    name: str | None = Field(None, min_length=1, max_length=200)
    role: Role | None = None
    capacity: int | None = Field(None, ge=1, le=50)
    tiers: list[Tier] | None = Field(None, min_length=1, max_length=3)
    languages: list[Word] | None = Field(None, max_length=20)
    skills: list[Word] | None = Field(None, max_length=50)
    timezone: str | None = Field(None, max_length=64, description="an IANA time zone, e.g. Europe/Berlin")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                zoneinfo.ZoneInfo(value)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"{value!r} is not a time zone") from None
        return value


class NewAccount(AccountFields):
    username: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._@-]+$")
    name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=8, max_length=200)


class AccountPatch(AccountFields):
    active: bool | None = Field(None, description="false deactivates: sessions end, conversations are requeued")


class NewPassword(BaseModel):
    password: str = Field(min_length=8, max_length=200)
