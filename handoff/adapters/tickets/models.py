"""The ticket log's tables, as SQLAlchemy 2 typed ORM classes.

These classes stay inside :mod:`handoff.adapters.tickets`: the repository turns rows
into the frozen views of :mod:`handoff.adapters.tickets.views` before anything leaves
the package. The initial Alembic revision creates exactly this schema (a test
compares them on SQLite and PostgreSQL); change both together.

Every timestamp is a :class:`UtcDateTime`: aware UTC datetimes in, aware UTC
datetimes out, on both databases (SQLite keeps no zone, so it is attached on
the way out).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from handoff.core.model import MAX_CLIENT_ID

# Deterministic constraint names, so that migrations can name what they create and drop.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp stored in UTC; naive datetimes are refused (they are a bug)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the ticket log stores aware UTC times only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(16))
    value_tier: Mapped[str] = mapped_column(String(32))
    lifetime_value: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime]


class Agent(Base):
    __tablename__ = "agents"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    capacity: Mapped[int] = mapped_column(Integer)
    tiers: Mapped[list[Any]]
    languages: Mapped[list[Any]]
    skills: Mapped[list[Any]]
    shift: Mapped[list[Any]]  # [{"weekday": 0, "start": "09:00", "end": "17:00"}, ...]
    timezone: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool]
    created_at: Mapped[datetime]


class AgentSession(Base):
    """A signed-in agent's session, kept so that it outlives a restart of the live store. ``id`` is the
    SHA-256 hex of the session's token, never the token."""

    __tablename__ = "agent_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class Conversation(Base):
    __tablename__ = "conversations"
    # the bot-only conversations gone quiet, for the rating request (feedback's sweep, 0006)
    __table_args__ = (Index("ix_conversations_state_updated_at", "state", "updated_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(index=True)  # reports: the period's conversations (0005)
    updated_at: Mapped[datetime]
    erased_at: Mapped[datetime | None]  # the customer's data was erased: recovery never files it again
    tokens_revoked_at: Mapped[datetime | None]  # customers' tokens issued before this are refused


class Message(Base):
    """One message; ``id`` is the cursor clients resume from, so it never goes back (AUTOINCREMENT on SQLite)."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "client_id"),
        Index("ix_messages_conversation_id_id", "conversation_id", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"))
    sender: Mapped[str] = mapped_column(String(16))
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"))
    text: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    client_id: Mapped[str | None] = mapped_column(String(MAX_CLIENT_ID))
    created_at: Mapped[datetime]


class Transition(Base):
    __tablename__ = "transitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    cause: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    created_at: Mapped[datetime] = mapped_column(index=True)


class Ticket(Base):
    """A request for a person. ``status``: open, pending, offline, resolved or abandoned; ``resolution`` says
    how a closed ticket ended (``resolved``, ``handed_back``, ``abandoned``)."""

    __tablename__ = "tickets"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str | None] = mapped_column(String(32), unique=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), index=True)
    resolution: Mapped[str | None] = mapped_column(String(32))
    priority: Mapped[str] = mapped_column(String(16), index=True)
    tier: Mapped[int] = mapped_column(Integer, index=True)
    category: Mapped[str | None] = mapped_column(String(64), index=True)
    reasons: Mapped[list[Any]]
    request: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    summary: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[Any]]
    assignee_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"), index=True)
    callback: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    created_at: Mapped[datetime] = mapped_column(index=True)
    assigned_at: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    # Kept as they happen for the reports (0006), from the assignments and the conversation's later tickets:
    handle_seconds: Mapped[float | None] = mapped_column(Float)  # the ended assignments' time, summed
    transfers: Mapped[int] = mapped_column(Integer, default=0)  # assignments ended transferred
    reopened: Mapped[bool] = mapped_column(default=False)  # handed off again soon after
    reason: Mapped[str | None] = mapped_column(String(64))  # the first reason's code (reasons[0].code)


class TicketAssignment(Base):
    __tablename__ = "ticket_assignments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"), index=True)
    assigned_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    end_cause: Mapped[str | None] = mapped_column(String(64))


class Note(Base):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    whisper: Mapped[bool] = mapped_column(default=False)  # a supervisor's note to the agent (migration 0005, board)


class CannedResponse(Base):
    __tablename__ = "canned_responses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    shortcut: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)


# The supervisors' tables (migration 0005), by the part that owns them. -----------------------------------


# ---- feedback: ratings, helpfulness votes, follow-up items ------------------------------------------------


class Feedback(Base):
    """A customer's verdict: a rating of a whole conversation (``kind`` ``csat``, ``score`` 1-5) or a vote on one
    of the bot's answers (``helpful``, ``score`` 1 helpful / 0 not), with what it judged, copied at the time so
    reports need no joins: the conversation's ``path`` (``bot``: the bot alone; ``handoff``: the bot, then a
    person; ``human``: a person from the start), its ticket and agent, its channel and the ticket's category,
    the intents seen, and the knowledge article (and version) behind the rated answer."""

    __tablename__ = "feedback"
    __table_args__ = (
        Index("ix_feedback_kind_created_at", "kind", "created_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    path: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(32))
    category: Mapped[str | None] = mapped_column(String(64))
    intents: Mapped[list[Any]]
    article_id: Mapped[str | None] = mapped_column(String(128), index=True)
    article_version: Mapped[str | None] = mapped_column(String(64))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    created_at: Mapped[datetime]


class FollowUp(Base):
    """A verdict somebody should look at: a rating of 1-2, or a "not helpful" with a comment. ``status``: ``open``
    or ``done``; ``reason``: ``low_rating`` or ``not_helpful``."""

    __tablename__ = "follow_ups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    feedback_id: Mapped[int] = mapped_column(ForeignKey("feedback.id"), unique=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    reason: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), index=True)
    assignee_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


# ---- QA review: scorecards' reviews -----------------------------------------------------------------------


class QaReview(Base):
    """A reviewer's scoring of one ticket's conversation against the scorecard (one per reviewer and ticket; an
    edit replaces it). ``agent_id``: the agent reviewed (the ticket's assignee when it was scored);
    ``scorecard``: the card's version and criteria as scored with; ``total``: percent (None: every criterion
    N/A); ``critical_failed``: the critical criteria at the bottom of their scale (the total is then 0)."""

    __tablename__ = "qa_reviews"
    __table_args__ = (
        UniqueConstraint("ticket_id", "reviewer_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"))
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"), index=True)
    reviewer_id: Mapped[str] = mapped_column(ForeignKey("agents.id"))
    scorecard_version: Mapped[str] = mapped_column(String(64))
    scorecard: Mapped[dict[str, Any]]
    total: Mapped[float | None] = mapped_column(Float)
    critical_failed: Mapped[list[Any]]
    notes: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class QaScore(Base):
    """One criterion's score in a review (``score`` None: not applicable), with the reviewer's comment."""

    __tablename__ = "qa_scores"
    __table_args__ = (UniqueConstraint("review_id", "criterion"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("qa_reviews.id", ondelete="CASCADE"))
    criterion: Mapped[str] = mapped_column(String(64))
    score: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text)


class FollowUpNote(Base):
    """A note a supervisor left on a follow-up item while handling it (its history, oldest first)."""

    __tablename__ = "follow_up_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    follow_up_id: Mapped[int] = mapped_column(ForeignKey("follow_ups.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[str] = mapped_column(ForeignKey("agents.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


# ---- alerts: their history --------------------------------------------------------------------------------


class Alert(Base):
    """One episode of an alert rule (handoff/alerts.yml): from when it fired to when it cleared (``resolved_at``
    None while it holds), with the rule's metric, severity, comparison (``above``/``below``) and threshold at
    the time, the value that fired it and the last value seen."""

    __tablename__ = "alerts"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule: Mapped[str] = mapped_column(String(64), index=True)
    metric: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    comparison: Mapped[str] = mapped_column(String(8))
    threshold: Mapped[float] = mapped_column(Float)
    value: Mapped[float] = mapped_column(Float)
    last_value: Mapped[float] = mapped_column(Float)
    fired_at: Mapped[datetime] = mapped_column(index=True)
    resolved_at: Mapped[datetime | None] = mapped_column(index=True)


class AlertEvent(Base):
    """What an alert told its channels: ``kind`` ``fire``, ``repeat`` or ``resolve``, with the value and the
    threshold then."""

    __tablename__ = "alert_events"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(index=True)


class AlertDelivery(Base):
    """The outcome of one event's delivery to one recipient (``channel`` ``webhook``: the URL without its query;
    ``email``: the address): ``delivered`` or ``failed`` after ``attempts`` tries, with the last error."""

    __tablename__ = "alert_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("alert_events.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(320))
    outcome: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


# ---- automation: what the rules did -----------------------------------------------------------------------


class AutomationEvent(Base):
    """What one automation rule did to one ticket (``handoff/automation.yml``): ``action`` (``resolved``,
    ``tagged``, ``priority_raised``, ``requeued``, ``closed``) with its ``details``. One row per ticket and rule:
    the unique pair is what makes a rule act once per ticket, also with several instances sweeping at once.
    Deleted with the ticket."""

    __tablename__ = "automation_events"
    __table_args__ = (
        UniqueConstraint("ticket_id", "rule"),
        Index("ix_automation_events_rule_created_at", "rule", "created_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    details: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(index=True)


# ---- analytics: sentiment, topics -------------------------------------------------------------------------


class TopicRun(Base):
    """One run of the topics job over a period (``[period_start, period_end)``, a week for the console): how
    many texts it clustered, when. A later run over the same period replaces it."""

    __tablename__ = "topic_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    period_start: Mapped[datetime] = mapped_column(index=True)
    period_end: Mapped[datetime]
    texts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]


class TopicRow(Base):
    """A topic of a run: its label and distinctive words, how many texts it holds and how many of them were
    rated low, the ticket category it stands for when one dominates (else None), its centroid (the unit mean
    of its texts' sentence vectors: routing compares new hand-offs with it) and a few example texts
    (``[{"conversation_id", "text"}]``, nearest the centroid first)."""

    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("topic_runs.id", ondelete="CASCADE"), index=True)
    rank: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(255))
    keywords: Mapped[list[Any]]
    size: Mapped[int] = mapped_column(Integer)
    handed_off: Mapped[int] = mapped_column(Integer)
    low_rated: Mapped[int] = mapped_column(Integer)
    category: Mapped[str | None] = mapped_column(String(64))
    category_share: Mapped[float] = mapped_column(Float)
    category_tickets: Mapped[int] = mapped_column(Integer)
    centroid: Mapped[list[Any]]
    examples: Mapped[list[Any]]


# ---- reports: indexes (declared on the tables above where they belong) -------------------------------------
# conversations.created_at (ix_conversations_created_at): the containment and hand-off rates of a period.


# ---- the NLU inbox (0007) -----------------------------------------------------------------------------------


class InboxItem(Base):
    """One customer message the bot was unsure about (docs/training.md): its text and normalised ``key`` (near
    duplicates without an encoder), the model's top intents ``[{name, confidence}]``, why it is here
    (``reasons``: ``fallback``, ``ambiguous``, ``handed_off``, ``not_helpful``, ``agent_category``), what an agent's
    handling said (``hint``: ``{category, agent_id}``), and the trainer's decision: ``status`` (``new``,
    ``labelled``, ``out_of_scope``, ``dismissed``), the ``intent`` it was labelled with, by whom and when.

    One row per message. Erasing a customer deletes their rows; the retention sweep deletes the rows of old
    conversations that are no training example, and detaches the examples (conversation and message cleared,
    the confirmed text kept as training data)."""

    __tablename__ = "inbox_items"
    __table_args__ = (
        Index("ix_inbox_items_status_created_at", "status", "created_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("conversations.id"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), unique=True)
    text: Mapped[str] = mapped_column(Text)
    key: Mapped[str] = mapped_column(String(255), index=True)
    intents: Mapped[list[Any]]
    reasons: Mapped[list[Any]]
    hint: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    status: Mapped[str] = mapped_column(String(16))
    intent: Mapped[str | None] = mapped_column(String(64))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


# ---- e-mail: the channel's messages in and out (0008) -----------------------------------------------------


class MailMessage(Base):
    """One e-mail of a conversation, by its Message-ID (unique: a re-delivered message is stored once).

    ``direction`` ``in``: a customer's mail, ``message_id`` the row of the customer message it became (none for
    an auto-reply); ``out``: a reply of the service, kept until the relay took it (``status`` ``pending`` with
    ``tries`` and ``next_try_at``, then ``sent``), ``raw`` the message as it goes out."""

    __tablename__ = "mail_messages"
    __table_args__ = (Index("ix_mail_messages_status_next_try_at", "status", "next_try_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mail_id: Mapped[str] = mapped_column(String(998), unique=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    direction: Mapped[str] = mapped_column(String(3))
    address: Mapped[str] = mapped_column(String(320), index=True)
    subject: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    tries: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class ChannelIdentity(Base):
    """A channel identity linked to a customer (migration 0013, docs/channels.md "Who a customer is"): mail from
    ``address`` on ``email``, or messages from an IM account, are that customer's. Only proved links are kept
    (``verified_by``: ``shop_signed``, ``email_verified``, ``im_linked``); an unverified identity has no row."""

    __tablename__ = "channel_identities"

    channel: Mapped[str] = mapped_column(String(40), primary_key=True)
    address: Mapped[str] = mapped_column(String(320), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    verified_by: Mapped[str] = mapped_column(String(16))
    verified_at: Mapped[datetime]


class ImMessage(Base):
    """One instant message of a conversation on an IM channel (``xmpp``, and every later one: one table for all).

    ``direction`` ``in``: a customer's message, by the provider's event id (unique per channel: a re-delivered
    event is stored once, also when two instances receive it), ``message_id`` the customer message it became
    (none while it is being taken in); the latest inbound row of a ``(channel, address)`` names the address's
    conversation. ``out``: a message of the service, ``event_id`` ``out:<message id>`` (one message, one send),
    kept until the provider took it (``status`` ``pending`` with ``tries`` and ``next_try_at``, then ``sent``
    with the provider's ``provider_id``); ``text`` and ``buttons`` as the channel rendered them."""

    __tablename__ = "im_messages"
    __table_args__ = (UniqueConstraint("channel", "event_id"),
                      Index("ix_im_messages_status_next_try_at", "status", "next_try_at"),
                      Index("ix_im_messages_channel_address", "channel", "address"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(255))
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("conversations.id"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    direction: Mapped[str] = mapped_column(String(3))
    address: Mapped[str] = mapped_column(String(320))
    text: Mapped[str | None] = mapped_column(Text)
    buttons: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True))
    status: Mapped[str] = mapped_column(String(16))
    tries: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]


# ---- team training: practice scenarios and sessions (0014) ------------------------------------------------


class PracticeScenario(Base):
    """A resolved conversation made a practice scenario (docs/training.md, "Team training"): its customer's turns
    and the replies of the agent who resolved it, masked (``turns``: ``[{customer, reply, terms, article}]``, the
    article ``{article_id, title, text, score}`` or None), its category, why it was chosen (``reason``:
    ``rated`` or ``qa``), the agent whose replies it holds. One per conversation. Erasing the customer or the
    retention sweep deletes it (its sessions stay, their scores and the agents' own replies with them)."""

    __tablename__ = "practice_scenarios"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), unique=True)
    ticket_id: Mapped[int] = mapped_column(Integer)
    category: Mapped[str | None] = mapped_column(String(64), index=True)
    source_agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"))
    reason: Mapped[str] = mapped_column(String(16))
    turns: Mapped[list[Any]]
    created_at: Mapped[datetime]


class PracticeSession(Base):
    """An agent's practice on a scenario: the next turn to answer (``turn``), ``status`` ``open`` or
    ``finished``, the automatic ``total`` (the mean of the replies' scores), and a supervisor's review (score
    0-100, comment, who, when). ``scenario_id`` is cleared when the scenario is deleted."""

    __tablename__ = "practice_sessions"
    __table_args__ = (Index("ix_practice_sessions_agent_id_started_at", "agent_id", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"))
    scenario_id: Mapped[int | None] = mapped_column(ForeignKey("practice_scenarios.id"), index=True)
    category: Mapped[str | None] = mapped_column(String(64))
    turns: Mapped[int] = mapped_column(Integer)
    turn: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), index=True)
    total: Mapped[float | None] = mapped_column(Float)
    review_score: Mapped[float | None] = mapped_column(Float)
    review_comment: Mapped[str | None] = mapped_column(Text)
    reviewer_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"))
    reviewed_at: Mapped[datetime | None]
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class PracticeReply(Base):
    """The agent's reply to one turn of a session, its automatic score with the why (``details``), and the
    reviewer's comment on it."""

    __tablename__ = "practice_replies"
    __table_args__ = (UniqueConstraint("session_id", "turn"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("practice_sessions.id", ondelete="CASCADE"))
    turn: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    score: Mapped[float] = mapped_column(Float)
    details: Mapped[dict[str, Any]]
    review_comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


# ---- the knowledge workbench (0010) -------------------------------------------------------------------------


class KnowledgeGap(Base):
    """A trainer's decision on a customer question the knowledge base failed (docs/training.md, "Knowledge"):
    ``status`` ``dismissed`` (not a gap worth an article) or ``published`` (answered by ``article_id``), by whom
    and when. The gaps themselves are read from the ticket log (hand-offs, votes, agents' replies); only the
    decisions are kept. One row per message; erasing a customer or the retention sweep deletes their rows."""

    __tablename__ = "knowledge_gaps"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    article_id: Mapped[str | None] = mapped_column(String(128))
    decided_by: Mapped[str] = mapped_column(String(64))
    decided_at: Mapped[datetime]
