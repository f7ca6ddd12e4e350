"""The Redis hash encodings of conversation records and agent snapshots."""

from __future__ import annotations

import dataclasses
from datetime import time

import pytest

from handoff.adapters.store.codec import (
    AGENT_LIVE_FIELDS,
    AGENT_STATIC_FIELDS,
    CONVERSATION_FIELDS,
    decode_agent,
    decode_conversation,
    encode_agent,
    encode_changes,
    encode_conversation,
)
from handoff.core.model import (
    AgentId,
    AgentSnapshot,
    ConversationRecord,
    CustomerId,
    CustomerProfile,
    Presence,
    Priority,
    ShiftWindow,
    State,
    TicketId,
)


def test_codec_covers_every_field() -> None:
    assert set(CONVERSATION_FIELDS) == {f.name for f in dataclasses.fields(ConversationRecord)}
    agent_fields = {f.name for f in dataclasses.fields(AgentSnapshot)} - {"agent_id", "load"}
    assert set(AGENT_STATIC_FIELDS) | set(AGENT_LIVE_FIELDS) == agent_fields


def test_codec_conversation_round_trip() -> None:
    full = ConversationRecord(
        "c1", CustomerId("u1"), channel="whatsapp", state=State.ASSIGNED, created_at=1718000000.123456,
        language="pt-BR", priority=Priority.HIGH, tier=2, category="", ticket_id=TicketId(42),
        queued_at=0.1 + 0.2, agent_id=AgentId("a1"), assigned_at=1718000001.0, answered=True,
        excluded=frozenset({AgentId("a2"), AgentId("a3")}), requested_agent=AgentId("a4"), customer_left_at=-1.5,
        customer_name="Zoë \"Z\" O'Neil", customer_email="z@example.com", reasons=("complaint", "no_answer"),
        profile=CustomerProfile(CustomerId("u1"), "pt-BR", "vip", 1234.5, AgentId("a9"), 7), rank=1717999700.25,
        version=12)
    encoded = encode_conversation(full)
    assert all(isinstance(v, str) for v in encoded.values())
    assert encoded["state"] == "assigned" and encoded["priority"] == "1" and encoded["answered"] == "1"
    assert encoded["reasons"] == '["complaint", "no_answer"]' and encoded["version"] == "12"
    assert decode_conversation(encoded) == full
    bare = ConversationRecord("c2", CustomerId("u2"))
    assert "agent_id" not in encode_conversation(bare)
    assert decode_conversation(encode_conversation(bare)) == bare


def test_codec_agent_round_trip() -> None:
    agent = AgentSnapshot(AgentId("a1"), presence=Presence.AWAY, capacity=4, load=0, tiers=frozenset({1, 2}),
                          languages=frozenset({"en", "es"}), skills=frozenset({"payments"}), idle_since=12.75,
                          shift=(ShiftWindow(6, time(0, 0), time(23, 59, 59)),), timezone="America/Bogota")
    static, live = encode_agent(agent)
    assert static["tiers"] == "[1, 2]" and live["presence"] == "away"
    assert decode_agent(agent.agent_id, {**static, **live}, load=3) == dataclasses.replace(agent, load=3)


def test_codec_changes_split_sets_and_deletes() -> None:
    sets, deletes = encode_changes(CONVERSATION_FIELDS, {"state": "queued", "agent_id": None, "tier": 3})
    assert (sets, deletes) == ({"state": "queued", "tier": "3"}, ["agent_id"])
    with pytest.raises(TypeError, match="nope"):
        encode_changes(CONVERSATION_FIELDS, {"nope": 1})
