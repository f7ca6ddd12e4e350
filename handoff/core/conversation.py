"""The conversation state machine: which state may follow which, and why.

::

    bot ──▶ queued ──▶ assigned ──▶ resolved                  (handoff_requested / bot_unavailable,
     │       │  │         │                                     assigned / taken, resolved / automation)
     │       │  │         ├──▶ bot                             (handed_back)
     │       │  │         └──▶ queued                          (accept_timeout, agent_offline, transferred,
     │       │  │                                               automation)
     │       │  ├──▶ abandoned                                 (customer_left)
     │       │  └──▶ bot                                       (customer_cancelled)
     └───────┴──▶ offline                                      (out_of_hours, no_agents)
    resolved, offline, abandoned ──▶ bot                       (customer_returned)

Pure data and checks, no I/O: the store applies a transition atomically
(compare-and-set on the current state), this module only says whether it is
allowed and names its cause, so that every stored transition row carries one of
the :class:`Cause` values (the raw material of the QA metrics).

A state never moves to itself: re-queueing with a new priority is an update of
a queued conversation, not a transition.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from handoff.core.errors import StateConflict
from handoff.core.model import State


class Cause(StrEnum):
    """Why a conversation changed state (stored with every transition)."""

    STARTED = "started"  # the customer opened the conversation (recorded with no previous state)
    HANDOFF_REQUESTED = "handoff_requested"  # the bot asked for a person (bot -> queued / offline)
    ESCALATED = "escalated"  # an agent or supervisor escalated it by hand, without a bot request
    BOT_UNAVAILABLE = "bot_unavailable"  # the bot did not answer, so a person takes over (bot -> queued / offline)
    ASSIGNED = "assigned"  # routing gave it to an agent (queued -> assigned)
    TAKEN = "taken"  # an agent took it from the queue by hand (queued -> assigned)
    ACCEPT_TIMEOUT = "accept_timeout"  # the agent did not answer in time (assigned -> queued)
    AGENT_OFFLINE = "agent_offline"  # the agent went offline or lost their connection (assigned -> queued)
    TRANSFERRED = "transferred"  # the agent passed it to a colleague or another tier (assigned -> queued)
    HANDED_BACK = "handed_back"  # the agent gave it back to the bot (assigned -> bot)
    RESOLVED = "resolved"  # the agent closed it (assigned -> resolved)
    CUSTOMER_LEFT = "customer_left"  # the customer went away while waiting (queued -> abandoned)
    CUSTOMER_CANCELLED = "customer_cancelled"  # the customer chose to go back to the bot (queued -> bot)
    OUT_OF_HOURS = "out_of_hours"  # business hours closed (bot / queued -> offline)
    NO_AGENTS = "no_agents"  # open, but no agent online to wait for (bot / queued -> offline)
    CUSTOMER_RETURNED = "customer_returned"  # the customer wrote again after the end (-> bot)
    AUTOMATION = "automation"  # a supervisor's automation rule acted (assigned -> resolved / queued)
    UNCITED = "bot_uncited"  # where the bot answers only from an article (e-mail), it had none (bot -> queued)


TRANSITIONS: Mapping[State, frozenset[State]] = MappingProxyType({
    State.BOT: frozenset({State.QUEUED, State.OFFLINE}),
    State.QUEUED: frozenset({State.ASSIGNED, State.ABANDONED, State.BOT, State.OFFLINE}),
    State.ASSIGNED: frozenset({State.BOT, State.RESOLVED, State.QUEUED}),
    State.RESOLVED: frozenset({State.BOT}),
    State.OFFLINE: frozenset({State.BOT}),
    State.ABANDONED: frozenset({State.BOT}),
})
"""Allowed transitions: current state -> the states that may follow it."""

CAUSES: Mapping[tuple[State, State], frozenset[Cause]] = MappingProxyType({
    (State.BOT, State.QUEUED): frozenset({Cause.HANDOFF_REQUESTED, Cause.ESCALATED, Cause.BOT_UNAVAILABLE,
                                             Cause.UNCITED}),
    (State.BOT, State.OFFLINE): frozenset({Cause.OUT_OF_HOURS, Cause.NO_AGENTS}),
    (State.QUEUED, State.ASSIGNED): frozenset({Cause.ASSIGNED, Cause.TAKEN}),
    (State.QUEUED, State.ABANDONED): frozenset({Cause.CUSTOMER_LEFT}),
    (State.QUEUED, State.BOT): frozenset({Cause.CUSTOMER_CANCELLED}),
    (State.QUEUED, State.OFFLINE): frozenset({Cause.OUT_OF_HOURS, Cause.NO_AGENTS}),
    (State.ASSIGNED, State.BOT): frozenset({Cause.HANDED_BACK}),
    (State.ASSIGNED, State.RESOLVED): frozenset({Cause.RESOLVED, Cause.AUTOMATION}),
    (State.ASSIGNED, State.QUEUED): frozenset({Cause.ACCEPT_TIMEOUT, Cause.AGENT_OFFLINE, Cause.TRANSFERRED,
                                               Cause.AUTOMATION}),
    (State.RESOLVED, State.BOT): frozenset({Cause.CUSTOMER_RETURNED}),
    (State.OFFLINE, State.BOT): frozenset({Cause.CUSTOMER_RETURNED}),
    (State.ABANDONED, State.BOT): frozenset({Cause.CUSTOMER_RETURNED}),
})
"""The causes that may explain each allowed transition."""

_WHERE = {
    State.BOT: "with the assistant",
    State.QUEUED: "waiting for an agent",
    State.ASSIGNED: "with an agent",
    State.RESOLVED: "resolved",
    State.OFFLINE: "closed until we call back",
    State.ABANDONED: "closed because the customer left",
}
_BECOME = {
    State.BOT: "handed back to the assistant",
    State.QUEUED: "put in the queue for an agent",
    State.ASSIGNED: "given to an agent",
    State.RESOLVED: "resolved",
    State.OFFLINE: "closed for a callback",
    State.ABANDONED: "marked as abandoned",
}


def allowed(current: State) -> frozenset[State]:
    """The states a conversation in ``current`` may move to."""
    return TRANSITIONS[current]


def check_transition(current: State, new: State) -> None:
    """Check that a conversation in ``current`` may move to ``new``.

    Args:
        current: the state the conversation is in now.
        new: the state the caller wants.

    Raises:
        StateConflict: the move is not allowed; the message is a sentence for the person who asked
            ("This conversation is already resolved, so it cannot be given to an agent."), and
            ``current`` is carried on the exception.
    """
    if new not in TRANSITIONS[current]:
        raise refusal(current, new)


def refusal(current: State, new: State) -> StateConflict:
    """The refusal of a move from ``current`` to ``new``, in a sentence for the person who asked."""
    if new is current:
        return StateConflict(f"This conversation is already {_WHERE[current]}.", current)
    return StateConflict(f"This conversation is {_WHERE[current]}, so it cannot be {_BECOME[new]}.", current)


def causes(current: State, new: State) -> frozenset[Cause]:
    """The causes that may explain a move from ``current`` to ``new`` (empty when the move is not allowed)."""
    return CAUSES.get((current, new), frozenset())


def check_cause(current: State, new: State, cause: Cause) -> None:
    """Check the move and that ``cause`` explains it (a wrong cause would corrupt the QA metrics).

    Raises:
        StateConflict: the move is not allowed.
        ValueError: the move is allowed but ``cause`` does not explain it (a bug in the caller).
    """
    check_transition(current, new)
    if cause not in CAUSES[(current, new)]:
        valid = ", ".join(sorted(CAUSES[(current, new)]))
        raise ValueError(f"cause {cause!s} does not explain {current!s} -> {new!s} (valid: {valid})")
