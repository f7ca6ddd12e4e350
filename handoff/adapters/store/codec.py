"""Flat string encodings of :class:`ConversationRecord` and :class:`AgentSnapshot` fields.

Redis hashes hold strings, so every field has one encoder and one decoder,
written once here and used by both stores (:class:`~handoff.adapters.store.memory.MemoryStore`
runs its changes through the same codec, so both backends accept and return
exactly the same values). The encodings, chosen so that the Lua scripts can
read the fields they need without JSON:

- ``None`` is an absent hash field (``encode_changes`` lists it for ``HDEL``);
- text, ids and ``State``/``Presence`` values as they are; ``Priority`` and
  ``int`` as decimal integers; ``float`` as ``repr`` (round-trips exactly);
- ``bool`` as ``"1"``/``"0"``;
- frozensets as a sorted JSON list, tuples of text as a JSON list; shifts as a
  JSON list of ``[weekday, "HH:MM:SS", "HH:MM:SS"]``; the customer's profile as a
  JSON object.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import time
from typing import Any

from handoff.core.model import (
    AgentId,
    AgentSnapshot,
    ConversationId,
    ConversationRecord,
    CustomerId,
    CustomerProfile,
    Presence,
    Priority,
    ShiftWindow,
    State,
    TicketId,
)


@dataclass(frozen=True)
class FieldCodec:
    """How one field travels to and from a Redis hash value."""

    encode: Callable[[Any], str]
    decode: Callable[[str], Any]


def _float(value: Any) -> str:
    return repr(float(value))


def _int(value: Any) -> str:
    return str(int(value))


def _set(value: Any) -> str:
    return json.dumps(sorted(value))


def _encode_shift(value: Any) -> str:
    return json.dumps([[w.weekday, w.start.isoformat(), w.end.isoformat()] for w in value])


def _decode_shift(text: str) -> tuple[ShiftWindow, ...]:
    return tuple(ShiftWindow(int(day), time.fromisoformat(start), time.fromisoformat(end))
                 for day, start, end in json.loads(text))


def _encode_profile(value: Any) -> str:
    return json.dumps(dataclasses.asdict(value), separators=(",", ":"))


def _decode_profile(text: str) -> CustomerProfile:
    return CustomerProfile(**json.loads(text))


TEXT = FieldCodec(str, str)
FLOAT = FieldCodec(_float, float)
INT = FieldCodec(_int, int)
BOOL = FieldCodec(lambda v: "1" if v else "0", lambda s: s == "1")
TEXT_SET = FieldCodec(_set, lambda s: frozenset(str(v) for v in json.loads(s)))
INT_SET = FieldCodec(_set, lambda s: frozenset(int(v) for v in json.loads(s)))

CONVERSATION_FIELDS: dict[str, FieldCodec] = {
    "conversation_id": FieldCodec(str, ConversationId),
    "customer_id": FieldCodec(str, CustomerId),
    "channel": TEXT,
    "state": FieldCodec(lambda v: State(v).value, State),
    "created_at": FLOAT,
    "language": TEXT,
    "priority": FieldCodec(lambda v: str(int(Priority(v))), lambda s: Priority(int(s))),
    "tier": INT,
    "category": TEXT,
    "ticket_id": FieldCodec(_int, lambda s: TicketId(int(s))),
    "queued_at": FLOAT,
    "agent_id": FieldCodec(str, AgentId),
    "assigned_at": FLOAT,
    "answered": BOOL,
    "excluded": TEXT_SET,
    "requested_agent": FieldCodec(str, AgentId),
    "customer_left_at": FLOAT,
    "customer_name": TEXT,
    "customer_email": TEXT,
    "customer_external_id": TEXT,
    "profile": FieldCodec(_encode_profile, _decode_profile),
    "reasons": FieldCodec(lambda v: json.dumps(list(v)), lambda s: tuple(str(v) for v in json.loads(s))),
    "rank": FLOAT,
    "version": INT,
}

AGENT_STATIC_FIELDS: dict[str, FieldCodec] = {
    "capacity": INT,
    "tiers": INT_SET,
    "languages": TEXT_SET,
    "skills": TEXT_SET,
    "shift": FieldCodec(_encode_shift, _decode_shift),
    "timezone": TEXT,
}
"""What :meth:`Store.upsert_agent` overwrites; presence and idle_since are live fields."""

AGENT_LIVE_FIELDS: dict[str, FieldCodec] = {
    "presence": FieldCodec(lambda v: Presence(v).value, Presence),
    "idle_since": FLOAT,
}


def encode_changes(fields: Mapping[str, FieldCodec], changes: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    """Encode ``changes`` into the hash fields to set and the ones to delete (the ``None`` values).

    Raises:
        TypeError: a change names a field the record does not have.
    """
    unknown = sorted(set(changes) - set(fields))
    if unknown:
        raise TypeError(f"unknown field(s) {', '.join(unknown)}; expected some of {', '.join(fields)}")
    sets = {name: fields[name].encode(value) for name, value in changes.items() if value is not None}
    deletes = [name for name, value in changes.items() if value is None]
    return sets, deletes


def encode_conversation(record: ConversationRecord) -> dict[str, str]:
    """Every non-None field of the record, encoded."""
    sets, _ = encode_changes(CONVERSATION_FIELDS, {f.name: getattr(record, f.name)
                                                   for f in dataclasses.fields(record)})
    return sets


def decode_conversation(data: Mapping[str, str]) -> ConversationRecord:
    """Rebuild a record from its hash; absent fields take the dataclass defaults, unknown ones are ignored."""
    values = {name: CONVERSATION_FIELDS[name].decode(text) for name, text in data.items()
              if name in CONVERSATION_FIELDS}
    return ConversationRecord(**values)


def encode_agent(agent: AgentSnapshot) -> tuple[dict[str, str], dict[str, str]]:
    """The agent's static fields and live fields (presence, idle_since), encoded; load is not stored."""
    static = {name: codec.encode(getattr(agent, name)) for name, codec in AGENT_STATIC_FIELDS.items()}
    live = {name: codec.encode(getattr(agent, name)) for name, codec in AGENT_LIVE_FIELDS.items()}
    return static, live


def decode_agent(agent_id: AgentId, data: Mapping[str, str], load: int) -> AgentSnapshot:
    """Rebuild a snapshot from the agent's hash and its current load."""
    fields = {**AGENT_STATIC_FIELDS, **AGENT_LIVE_FIELDS}
    values = {name: fields[name].decode(text) for name, text in data.items() if name in fields}
    return AgentSnapshot(agent_id=agent_id, load=load, **values)


def dump_json(data: Mapping[str, Any]) -> str:
    """Compact JSON for sessions and bus events; raises ``ValueError``/``TypeError`` on what JSON cannot carry."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False)


def load_json(text: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(text)
    return loaded
