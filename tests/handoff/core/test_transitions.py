"""What each transition does, decided without I/O: the cause checked first, the change returned."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from handoff.core import transitions
from handoff.core.conversation import Cause, causes
from handoff.core.errors import StateConflict
from handoff.core.model import AgentId, ConversationId, ConversationRecord, CustomerId, CustomerProfile, Priority, State
from handoff.core.transitions import BACK_TO_BOT, Change

ANN, BOB = AgentId("ann"), AgentId("bob")
BASE = ConversationRecord(ConversationId("c1"), CustomerId("u1"))


def at(state: State, **fields: object) -> ConversationRecord:
    return replace(BASE, state=state, **fields)  # type: ignore[arg-type]


ASSIGNED = at(State.ASSIGNED, agent_id=ANN, assigned_at=1000.0, ticket_id=7, tier=1, excluded=frozenset({BOB}))

# each transition, the state it starts from, and every state it must refuse to start from
CASES: list[tuple[str, Callable[[ConversationRecord], Change], State]] = [
    ("escalate", lambda r: transitions.escalate(
        r, Cause.HANDOFF_REQUESTED, priority=Priority.HIGH, tier=2, category="payments", reasons=("complaint",),
        profile=CustomerProfile(CustomerId("u1")), queued_at=5.0, rank=-295.0, difficulty=1.2), State.BOT),
    ("close_for_callback", transitions.close_for_callback, State.BOT),
    ("assign", lambda r: transitions.assign(r, ANN, "Ann", Cause.ASSIGNED), State.QUEUED),
    ("requeue", transitions.requeue, State.ASSIGNED),
    ("agent_gone", lambda r: transitions.agent_gone(r, "Ann"), State.ASSIGNED),
    ("transfer", lambda r: transitions.transfer(r, ANN, to_tier=3), State.ASSIGNED),
    ("hand_back", lambda r: transitions.hand_back(r, ANN, "Ann", 1300.0), State.ASSIGNED),
    ("resolve", lambda r: transitions.resolve(r, ANN, "Ann", 1300.0), State.ASSIGNED),
    ("abandon", transitions.abandon, State.QUEUED),
    ("customer_returned", transitions.customer_returned, State.RESOLVED),
]


@pytest.mark.parametrize(("name", "decide", "start"), CASES, ids=[c[0] for c in CASES])
def test_each_transition_starts_only_where_the_state_machine_lets_its_cause(
        name: str, decide: Callable[[ConversationRecord], Change], start: State) -> None:
    change = decide(replace(ASSIGNED, state=start))
    assert change.before is start and change.cause in causes(start, change.after)
    for state in State:
        if change.cause in causes(state, change.after):
            assert decide(replace(ASSIGNED, state=state)).before is state
            continue
        with pytest.raises(StateConflict) as caught:  # refused before anything is written
            decide(replace(ASSIGNED, state=state))
        assert caught.value.current is state


def test_escalate_queues_with_everything_routing_and_the_console_need() -> None:
    profile = CustomerProfile(CustomerId("u1"), value_tier="vip")
    change = transitions.escalate(at(State.BOT, excluded=frozenset({BOB}), requested_agent=BOB),
                                  Cause.BOT_UNAVAILABLE, priority=Priority.URGENT, tier=3, category=None,
                                  reasons=("bot_unavailable",), profile=profile, queued_at=5.0, rank=-595.0,
                                  difficulty=2.5)
    assert (change.after, change.cause) == (State.QUEUED, Cause.BOT_UNAVAILABLE)
    assert change.fields == {"priority": Priority.URGENT, "tier": 3, "category": None, "reasons": ("bot_unavailable",),
                             "profile": profile, "queued_at": 5.0, "rank": -595.0, "excluded": frozenset(),
                             "requested_agent": None, "agent_id": None}
    assert change.details == {"tier": 3, "priority": "urgent", "difficulty": 2.5}
    assert change.with_fields(ticket_id=9).fields["ticket_id"] == 9 and "ticket_id" not in change.fields
    with pytest.raises(ValueError, match="does not explain"):
        transitions.escalate(at(State.BOT), Cause.RESOLVED, priority=Priority.NORMAL, tier=1, category=None,
                             reasons=(), profile=profile, queued_at=5.0, rank=5.0, difficulty=0.0)


def test_the_two_ways_back_to_the_bot_reset_the_same_fields() -> None:
    handed = transitions.hand_back(ASSIGNED, ANN, "Ann", 1300.0)
    returned = transitions.customer_returned(at(State.OFFLINE, ticket_id=3, queued_at=1.0, rank=1.0))
    assert handed.fields == returned.fields == BACK_TO_BOT
    assert BACK_TO_BOT["ticket_id"] is None and BACK_TO_BOT["reasons"] == () and BACK_TO_BOT["rank"] is None
    assert (handed.close_ticket, handed.tell_bot, handed.handle_seconds) == ("handed_back", True, 300.0)
    assert "Ann left the conversation" in (handed.notice or "")
    assert (returned.close_ticket, returned.tell_bot, returned.notice) == (None, False, None)


def test_ending_an_assignment_says_whose_and_why() -> None:
    requeued = transitions.requeue(ASSIGNED)
    assert (requeued.after, requeued.cause, requeued.assignment_ends) == (State.QUEUED, Cause.ACCEPT_TIMEOUT, ANN)
    assert requeued.fields == {"excluded": frozenset({ANN, BOB}), "requested_agent": None}
    assert requeued.handle_seconds is None
    gone = transitions.agent_gone(ASSIGNED, "Ann")
    assert (gone.after, gone.cause, gone.assignment_ends, gone.fields) == (
        State.QUEUED, Cause.AGENT_OFFLINE, ANN, {"requested_agent": None})
    assert gone.notice == "Ann lost their connection. I'm finding another colleague for you; please stay here."
    moved = transitions.transfer(ASSIGNED, ANN, to_agent=BOB)
    assert moved.fields == {"excluded": frozenset({ANN, BOB}), "requested_agent": BOB, "tier": 1}
    assert moved.details == {"to_agent": BOB, "to_tier": None}
    resolved = transitions.resolve(ASSIGNED, ANN, "Ann", 1250.0)
    assert (resolved.close_ticket, resolved.handle_seconds, resolved.assignment_ends) == ("resolved", 250.0, ANN)
    assert resolved.notice == "Ann marked this conversation as resolved. If you need anything else, just write here."


def test_assignment_and_abandonment() -> None:
    queued = at(State.QUEUED, ticket_id=4)
    assigned = transitions.assign(queued, BOB, "Bob", Cause.TAKEN, {"scores": {BOB: 1.0}})
    assert (assigned.assignment_starts, assigned.actor, assigned.notice) == (BOB, BOB, "Bob has joined the conversation.")
    assert assigned.details == {"agent_id": BOB, "ticket_id": 4, "scores": {BOB: 1.0}}
    abandoned = transitions.abandon(queued)
    assert (abandoned.fields, abandoned.close_ticket, abandoned.notice) == ({"state": State.ABANDONED}, "abandoned",
                                                                           None)
    with pytest.raises(ValueError, match="does not explain"):
        transitions.assign(queued, BOB, "Bob", Cause.RESOLVED)


def test_a_supervisor_acting_ends_the_assigned_agents_turn() -> None:
    sup = AgentId("sup")
    moved = transitions.transfer(ASSIGNED, sup, to_tier=2)
    assert (moved.actor, moved.assignment_ends, moved.fields["excluded"]) == (sup, ANN, frozenset({ANN, BOB}))
    resolved = transitions.resolve(ASSIGNED, sup, "Sue", 1100.0)
    assert (resolved.actor, resolved.assignment_ends, resolved.notice) == (
        sup, ANN, "Sue marked this conversation as resolved. If you need anything else, just write here.")
    handed = transitions.hand_back(ASSIGNED, sup, "Sue", 1100.0)
    assert (handed.actor, handed.assignment_ends) == (sup, ANN)
    with pytest.raises(StateConflict):  # assigned to nobody: there is no turn to end
        transitions.resolve(replace(ASSIGNED, agent_id=None), sup, "Sue", 1100.0)
