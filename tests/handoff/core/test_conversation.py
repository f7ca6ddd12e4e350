"""The conversation state machine: allowed moves, their causes, and the sentences of refusals."""

from __future__ import annotations

import itertools

import pytest

from handoff.core.conversation import CAUSES, TRANSITIONS, Cause, allowed, causes, check_cause, check_transition
from handoff.core.errors import StateConflict
from handoff.core.model import State

EXPECTED = {
    (State.BOT, State.QUEUED), (State.BOT, State.OFFLINE),
    (State.QUEUED, State.ASSIGNED), (State.QUEUED, State.ABANDONED), (State.QUEUED, State.BOT),
    (State.QUEUED, State.OFFLINE),
    (State.ASSIGNED, State.BOT), (State.ASSIGNED, State.RESOLVED), (State.ASSIGNED, State.QUEUED),
    (State.RESOLVED, State.BOT), (State.OFFLINE, State.BOT), (State.ABANDONED, State.BOT),
}


@pytest.mark.parametrize("current, new", sorted(itertools.product(State, State)))
def test_conversation_allows_exactly_the_documented_moves(current: State, new: State) -> None:
    if (current, new) in EXPECTED:
        check_transition(current, new)
        assert new in allowed(current)
    else:
        with pytest.raises(StateConflict) as refused:
            check_transition(current, new)
        assert refused.value.current is current
        assert new not in allowed(current)


def test_conversation_every_move_has_a_cause_and_every_cause_a_move() -> None:
    assert set(CAUSES) == {(c, n) for c, targets in TRANSITIONS.items() for n in targets}
    assert all(CAUSES.values())
    assert set().union(*CAUSES.values()) == set(Cause) - {Cause.STARTED}  # STARTED has no previous state


def test_conversation_refusals_are_sentences_for_people() -> None:
    with pytest.raises(StateConflict, match=r"^This conversation is resolved, so it cannot be given to an agent\.$"):
        check_transition(State.RESOLVED, State.ASSIGNED)
    with pytest.raises(StateConflict, match=r"^This conversation is already with an agent\.$"):
        check_transition(State.ASSIGNED, State.ASSIGNED)


def test_conversation_checks_the_cause_of_a_move() -> None:
    check_cause(State.ASSIGNED, State.QUEUED, Cause.ACCEPT_TIMEOUT)
    assert causes(State.ASSIGNED, State.QUEUED) == {Cause.ACCEPT_TIMEOUT, Cause.AGENT_OFFLINE, Cause.TRANSFERRED,
                                                    Cause.AUTOMATION}
    assert causes(State.BOT, State.RESOLVED) == frozenset()
    with pytest.raises(ValueError, match="cause resolved does not explain assigned -> queued"):
        check_cause(State.ASSIGNED, State.QUEUED, Cause.RESOLVED)
    with pytest.raises(StateConflict):
        check_cause(State.BOT, State.RESOLVED, Cause.RESOLVED)


def test_conversation_a_full_lifecycle_walks_allowed_moves() -> None:
    path = [(State.BOT, State.QUEUED, Cause.HANDOFF_REQUESTED), (State.QUEUED, State.ASSIGNED, Cause.ASSIGNED),
            (State.ASSIGNED, State.QUEUED, Cause.ACCEPT_TIMEOUT), (State.QUEUED, State.ASSIGNED, Cause.ASSIGNED),
            (State.ASSIGNED, State.RESOLVED, Cause.RESOLVED), (State.RESOLVED, State.BOT, Cause.CUSTOMER_RETURNED)]
    for current, new, cause in path:
        check_cause(current, new, cause)
