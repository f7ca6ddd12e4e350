"""The REST API's request bodies (validated by FastAPI; a bad one is a 400 with the field named)."""

from __future__ import annotations

import zoneinfo
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, ValidationInfo, field_validator

from handoff.core.model import MAX_CLIENT_ID, Presence, Role, storable


def _storable(text: str) -> str:
    if not storable(text):
        raise ValueError("a NUL character is not allowed")
    return text


Str = Annotated[str, AfterValidator(_storable)]  # every string of a body: the ticket log can keep it


class NewConversation(BaseModel):
    channel: Str = Field("web", max_length=40)
    name: Str | None = Field(None, max_length=200)
    email: Str | None = Field(None, max_length=320)
    language: Str = Field("en", max_length=10)
    external_id: Str | None = Field(None, max_length=200, description="the shop's id of a signed-in customer")
    expires: int | None = Field(None, ge=0, le=2**53, description="when the signature expires (seconds since the "
                                "epoch); at most 24 hours ahead")
    signature: Str | None = Field(None, max_length=200, description='hex HMAC-SHA256 of "<external_id>.<expires>" '
                                                                    '(".<identities>" after it when they are given) '
                                                                    "under HANDOFF_WIDGET_SECRET")
    identities: Str | None = Field(None, max_length=4000, description="the customer's channel identities the shop "
                                   'vouches for, signed with the id: "email:jo@example.com xmpp:jo@im.example"')


class Text(BaseModel):
    text: Str
    client_id: Str | None = Field(None, max_length=MAX_CLIENT_ID)


class Login(BaseModel):
    username: Str = Field(max_length=100)
    password: Str = Field(max_length=200)


class PresenceBody(BaseModel):
    presence: Presence


class TransferBody(BaseModel):
    agent_id: Str | None = None
    tier: int | None = None


class TicketPatch(BaseModel):
    tags: list[Str] | None = Field(None, max_length=20)
    priority: Str | None = Field(None, pattern="^(normal|high|urgent)$")
    category: Str | None = Field(None, pattern="^[a-z][a-z0-9_-]{0,63}$",
                                 description="what the conversation was about, as a knowledge category "
                                             "(orders, payments...): an agent's correction of the bot's "
                                             "reaches the NLU inbox")
    callback_sent: bool = Field(False, description="the callback an out-of-hours ticket promised was made")
    callback_text: str | None = Field(None, max_length=20000, description=(
        "make the promised callback by e-mail with these words (the e-mail channel mails them to the customer, "
        "threaded; implies callback_sent)"))


class InboxDecision(BaseModel):
    """A trainer's decision on NLU inbox items (docs/training.md)."""

    item_ids: list[int] = Field(min_length=1, max_length=1000, description="the inbox items (a group's, or one)")
    decision: Str = Field(pattern="^(label|out_of_scope|dismiss|reopen)$")
    intent: Str | None = Field(None, max_length=64, description="with ``label``: an intent of the domain, or a new "
                                                                 "one (snake_case)")


class Promotion(BaseModel):
    """Promote a model version (docs/training.md, "Versions")."""

    force: bool = Field(False, description="promote a version that did not pass the regression gate (admins only)")


class TrialStart(BaseModel):
    """Start an A/B trial of a model version (docs/training.md, "A/B trials")."""

    version: str = Field(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                         description="the candidate: a version of the registry")
    share: float = Field(gt=0, le=0.5, description="the share of new conversations the candidate serves (0-0.5]")
    force: bool = Field(False, description="try a version that did not pass the regression gate (admins only)")


class KnowledgeArticle(BaseModel):
    """An article a trainer publishes from the knowledge workbench (docs/training.md, "Knowledge"); the service
    checks the rest (slugs, one-line fields, the body's Markdown, the date)."""

    title: Str = Field(max_length=200)
    category: Str = Field(max_length=32, description="a folder of the knowledge base, or a new slug")
    body: Str = Field(max_length=20_000, description="Markdown; its first paragraph is the bot's answer")
    questions: list[Annotated[Str, Field(max_length=300)]] = Field([], max_length=20,
                                                                   description="ways customers ask for it")
    tags: list[Annotated[Str, Field(max_length=32)]] = Field([], max_length=12)
    review_by: Str | None = Field(None, max_length=10, description="YYYY-MM-DD: listed as stale after it")
    gap_ids: list[int] = Field([], max_length=2000, description="the gap questions (message ids) it answers: they "
                                                                "leave the gaps")


class NewKnowledgeArticle(KnowledgeArticle):
    id: Str = Field(max_length=80, description="a slug: a-z, 0-9 and '-'")


class GapDismissal(BaseModel):
    """Gap questions (a gap's, or one) a trainer dismisses."""

    message_ids: list[int] = Field(min_length=1, max_length=2000)


class KnowledgeMerge(BaseModel):
    """Two near-duplicate articles: ``keep`` takes ``retire``'s questions; ``retire`` is retired."""

    keep: Str = Field(max_length=80)
    retire: Str = Field(max_length=80)


Tier = Annotated[int, Field(ge=1, le=3)]
Word = Annotated[str, Field(min_length=1, max_length=40)]


ClockTime = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="HH:MM, 24-hour")]


class ShiftWindowBody(BaseModel):
    """One working window of an agent's week, in their own time zone (a night shift is two windows)."""

    weekday: int = Field(ge=0, le=6, description="0 = Monday ... 6 = Sunday")
    start: ClockTime
    end: ClockTime

    @field_validator("end")
    @classmethod
    def _after_start(cls, value: str, info: ValidationInfo) -> str:
        start = info.data.get("start")
        if start is not None and value <= start and value != "00:00":  # 00:00: the midnight ending the day
            raise ValueError(f"a shift window ends after it starts ({start}-{value}); split a night shift in two "
                             "(22:00-00:00, then 00:00-06:00 the next day)")
        return value


class AccountFields(BaseModel):
    """What an admin may set on an account."""

    name: str | None = Field(None, min_length=1, max_length=200)
    role: Role | None = None
    capacity: int | None = Field(None, ge=1, le=50)
    tiers: list[Tier] | None = Field(None, min_length=1, max_length=3)
    languages: list[Word] | None = Field(None, max_length=20)
    skills: list[Word] | None = Field(None, max_length=50)
    timezone: str | None = Field(None, max_length=64, description="an IANA time zone, e.g. Europe/Berlin")
    shift: list[ShiftWindowBody] | None = Field(
        None, max_length=50, description="working windows in the agent's time zone, as routing and the capacity "
                                         "roster read them; [] means always on shift")

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


class ErrorDetail(BaseModel):
    code: str = Field(description="machine-readable: bad_request, not_authenticated, not_allowed, "
                                  "unknown_conversation, state_conflict, conflict, ...")
    detail: str = Field(description="a sentence for the person on the other end")


class Error(BaseModel):
    """Every REST error's body (docs/handoff-protocol.md, Errors)."""

    error: ErrorDetail


ERROR_MEANINGS = {
    400: "malformed input: the field and the problem are named",
    401: "not signed in, the session ended, wrong credentials, or a customer token that is wrong, expired or revoked",
    403: "not allowed: a role that may not do this, another agent's conversation, a request from another site",
    404: "no such conversation, ticket or agent",
    409: "the conversation's state does not allow it (detail names the current state), it exists already, or "
         "(the capacity simulator) another simulation is running",
    413: "the body is larger than HANDOFF_MAX_BODY_BYTES",
    429: "too many requests: wait for Retry-After seconds",
    503: "a service it needs (the live-state store, the bot) is unavailable: try again",
}


def errors(*statuses: int) -> dict[int | str, dict[str, object]]:
    """The error answers a route documents in the OpenAPI description (``responses=`` of its decorator)."""
    return {status: {"model": Error, "description": ERROR_MEANINGS[status]} for status in statuses}
