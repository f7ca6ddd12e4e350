"""What the ticket log hands to callers: plain frozen dataclasses, never ORM objects.

Each view with a wire form has ``to_json()`` giving the shape of
docs/handoff-protocol.md (times as ISO 8601 UTC strings, priorities by name).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any

from handoff.core.model import (
    AgentId,
    AgentSnapshot,
    ConversationId,
    CustomerId,
    CustomerProfile,
    Presence,
    Priority,
    Role,
    ShiftWindow,
    State,
    TicketId,
)

Json = dict[str, Any]


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 with milliseconds and the UTC offset, as the wire protocol writes times."""
    return None if moment is None else moment.isoformat(timespec="milliseconds")


def priority_name(priority: Priority | str | int) -> str:
    """``Priority.HIGH``, ``1`` or ``"high"`` -> ``"high"`` (how the ticket log stores and the API speaks it).

    Raises:
        ValueError: not a priority.
    """
    if isinstance(priority, str) and not isinstance(priority, Priority):
        try:
            return Priority[priority.strip().upper()].name.lower()
        except KeyError:
            raise ValueError(f"unknown priority {priority!r}; use normal, high or urgent") from None
    return Priority(priority).name.lower()


def shift_to_json(shift: Sequence[ShiftWindow]) -> list[Json]:
    return [{"weekday": w.weekday, "start": w.start.strftime("%H:%M"), "end": w.end.strftime("%H:%M")}
            for w in shift]


def _clock(value: str | int | time) -> time:
    """``"09:30"``, a ``time``, or minutes after midnight (what YAML 1.1 makes of an unquoted ``9:30``)."""
    if isinstance(value, time):
        return value
    if isinstance(value, int):
        return time(value // 60, value % 60)
    return time.fromisoformat(value)


def shift_from_json(rows: Sequence[Mapping[str, Any]]) -> tuple[ShiftWindow, ...]:
    """Shift windows from ``[{"weekday": 0, "start": "09:00", "end": "17:00"}, ...]``."""
    return tuple(ShiftWindow(int(r["weekday"]), _clock(r["start"]), _clock(r["end"])) for r in rows)


@dataclass(frozen=True)
class MessageView:
    """One stored message; ``id`` is the cursor (it only grows)."""

    id: int
    conversation_id: ConversationId
    sender: str
    text: str
    agent_id: AgentId | None
    agent_name: str | None
    payload: Json | None
    client_id: str | None
    created_at: datetime

    def to_json(self) -> Json:
        return {"id": self.id, "conversation_id": self.conversation_id, "sender": self.sender, "text": self.text,
                "agent_name": self.agent_name, "client_id": self.client_id, "created_at": iso(self.created_at),
                "payload": self.payload}


@dataclass(frozen=True, slots=True)
class ConversationView:
    """A conversation as the ticket log keeps it: who the customer is, the channel, its latest state."""

    conversation_id: ConversationId
    customer_id: CustomerId
    channel: str
    state: State
    created_at: datetime
    updated_at: datetime
    erased: bool = False  # the customer's data was erased (a deletion request): never live again


@dataclass(frozen=True, slots=True)
class TransitionNote:
    """A transition to record along with another write (see ``TicketBook.open_ticket``)."""

    from_state: str | None
    to_state: str
    cause: str
    actor: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TransitionView:
    """One change of a conversation's owner, with its time and cause (``from_state`` None at creation)."""

    id: int
    conversation_id: ConversationId
    from_state: State | None
    to_state: State
    cause: str
    actor: str | None
    details: Json | None
    created_at: datetime

    def to_json(self) -> Json:
        return {"id": self.id, "conversation_id": self.conversation_id, "from_state": self.from_state,
                "to_state": self.to_state, "cause": self.cause, "actor": self.actor, "details": self.details,
                "created_at": iso(self.created_at)}


@dataclass(frozen=True)
class CustomerView:
    customer_id: CustomerId
    external_id: str | None
    name: str | None
    email: str | None
    language: str
    value_tier: str
    lifetime_value: float
    created_at: datetime

    def to_json(self) -> Json:
        return {"id": self.customer_id, "name": self.name, "email": self.email, "value_tier": self.value_tier,
                "language": self.language, "lifetime_value": self.lifetime_value}

    def profile(self, last_agent_id: AgentId | None = None, past_tickets: int = 0) -> CustomerProfile:
        """What routing may know about this customer."""
        return CustomerProfile(customer_id=self.customer_id, language=self.language, value_tier=self.value_tier,
                               lifetime_value=self.lifetime_value, last_agent_id=last_agent_id,
                               past_tickets=past_tickets)


@dataclass(frozen=True)
class AgentAccount:
    """A user account of the console (agents, supervisors, admins) with its routing profile."""

    agent_id: AgentId
    username: str
    name: str
    password_hash: str
    role: Role
    capacity: int
    tiers: frozenset[int]
    languages: frozenset[str]
    skills: frozenset[str]
    shift: tuple[ShiftWindow, ...]
    timezone: str
    active: bool
    created_at: datetime

    def to_json(self) -> Json:
        """The account without its password hash."""
        return {"id": self.agent_id, "username": self.username, "name": self.name, "role": self.role,
                "capacity": self.capacity, "tiers": sorted(self.tiers), "languages": sorted(self.languages),
                "skills": sorted(self.skills), "shift": shift_to_json(self.shift), "timezone": self.timezone,
                "active": self.active}

    def shift_windows(self) -> tuple[ShiftWindow, ...]:
        """The working windows (empty: always on shift)."""
        return self.shift

    def snapshot(self, presence: Presence = Presence.OFFLINE, load: int = 0, idle_since: float = 0.0
                 ) -> AgentSnapshot:
        """The routing snapshot of this account's static fields, with the live ones given."""
        return AgentSnapshot(agent_id=self.agent_id, presence=presence, capacity=self.capacity, load=load,
                             tiers=self.tiers, languages=self.languages, skills=self.skills,
                             idle_since=idle_since, shift=self.shift, timezone=self.timezone)


@dataclass(frozen=True)
class TicketView:
    """A ticket as lists show it.

    Attributes:
        number: the human number (``T-000042``).
        status: ``open`` (waiting for or with an agent), ``pending`` (waiting on the customer), ``offline``
            (out of hours, with a promised ``callback``), ``resolved`` or ``abandoned``.
        resolution: how a closed ticket ended: ``resolved``, ``handed_back`` (to the bot) or ``abandoned``.
        reasons: the bot's reason objects (``{code, detail, figures}``), strongest first.
        request: the whole hand-off request, when there was one.
        assignee_id: the current agent; after closing, the last one.
    """

    ticket_id: TicketId
    number: str
    conversation_id: ConversationId
    customer_id: CustomerId
    channel: str
    status: str
    resolution: str | None
    priority: Priority
    tier: int
    category: str | None
    reasons: tuple[Json, ...]
    request: Json | None
    summary: str
    tags: tuple[str, ...]
    assignee_id: AgentId | None
    assignee_name: str | None
    callback: Json | None
    created_at: datetime
    assigned_at: datetime | None
    first_response_at: datetime | None
    resolved_at: datetime | None
    updated_at: datetime

    @property
    def reason_codes(self) -> tuple[str, ...]:
        return tuple(str(reason.get("code", "")) for reason in self.reasons)

    def to_json(self) -> Json:
        return {"id": self.ticket_id, "number": self.number, "conversation_id": self.conversation_id,
                "customer_id": self.customer_id, "channel": self.channel, "status": self.status,
                "resolution": self.resolution, "priority": self.priority.name.lower(), "tier": self.tier,
                "category": self.category, "reasons": list(self.reasons), "request": self.request,
                "summary": self.summary, "tags": list(self.tags), "assignee_id": self.assignee_id,
                "assignee_name": self.assignee_name, "callback": self.callback,
                "created_at": iso(self.created_at), "assigned_at": iso(self.assigned_at),
                "first_response_at": iso(self.first_response_at), "resolved_at": iso(self.resolved_at),
                "updated_at": iso(self.updated_at)}


@dataclass(frozen=True)
class AssignmentView:
    """One spell of an agent on a ticket; ``end_cause`` says why it ended (None while it lasts)."""

    ticket_id: TicketId
    agent_id: AgentId
    agent_name: str | None
    assigned_at: datetime
    ended_at: datetime | None
    end_cause: str | None

    def to_json(self) -> Json:
        return {"agent_id": self.agent_id, "agent_name": self.agent_name, "assigned_at": iso(self.assigned_at),
                "ended_at": iso(self.ended_at), "end_cause": self.end_cause}


@dataclass(frozen=True)
class NoteView:
    """An internal note on a ticket (never shown to the customer)."""

    id: int
    ticket_id: TicketId
    agent_id: AgentId
    agent_name: str | None
    text: str
    created_at: datetime
    whisper: bool = False  # a supervisor's note to the ticket's agent (docs/supervisors.md)

    def to_json(self) -> Json:
        return {"id": self.id, "agent_id": self.agent_id, "agent_name": self.agent_name, "text": self.text,
                "created_at": iso(self.created_at), "whisper": self.whisper}


@dataclass(frozen=True)
class TicketDetail(TicketView):
    """A ticket with its transcript (the conversation's messages up to the ticket's close), notes, assignment
    history and the conversation's transitions (also up to the close)."""

    messages: tuple[MessageView, ...] = ()
    notes: tuple[NoteView, ...] = ()
    assignments: tuple[AssignmentView, ...] = ()
    transitions: tuple[TransitionView, ...] = ()

    def to_json(self) -> Json:
        return {**super().to_json(), "messages": [m.to_json() for m in self.messages],
                "notes": [n.to_json() for n in self.notes],
                "assignments": [a.to_json() for a in self.assignments],
                "transitions": [t.to_json() for t in self.transitions]}


@dataclass(frozen=True)
class CannedView:
    """A canned response agents insert by shortcut."""

    id: int
    shortcut: str
    title: str
    text: str

    def to_json(self) -> Json:
        return {"id": self.id, "shortcut": self.shortcut, "title": self.title, "text": self.text}
