"""What each state change does, decided without I/O: every function checks the change's cause against the
state machine (:mod:`handoff.core.conversation`) and returns a :class:`Change`; the service applies it.

The service picks the store's atomic operation that fits (``enqueue``, ``assign``, ``release`` or a
compare-and-set update), writes ``Change.fields`` with it, then records the rest: the transition and its
cause in the ticket log, the ticket's assignment and closing, the notice to the customer, the console's
queue. So a cause is always checked before anything is written, and what a transition resets is said once
here (:data:`BACK_TO_BOT`).

::

    function            move                          store operation      ticket
    escalate            bot -> queued                 enqueue              opened (with the transition)
    close_for_callback  bot -> offline                update               opened, status offline
    assign              queued -> assigned            assign               assignee history starts
    requeue             assigned -> queued            release              assignment ends
    agent_gone          assigned -> queued            release              assignment ends
    transfer            assigned -> queued            release              assignment ends
    hand_back           assigned -> bot               release              assignment ends, closed
    resolve             assigned -> resolved          release              assignment ends, closed
    resolve_by_rule     assigned -> resolved          release              assignment ends, closed
    requeue_by_rule     assigned -> queued            release              assignment ends
    abandon             queued -> abandoned           update               closed
    customer_returned   resolved/offline/abandoned    update               (a new one on the next hand-off)
                        -> bot
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from handoff.core import texts
from handoff.core.automation import actor as automation_actor
from handoff.core.conversation import Cause, causes, check_cause, refusal
from handoff.core.model import AgentId, ConversationRecord, CustomerProfile, Priority, State

BACK_TO_BOT: Mapping[str, Any] = MappingProxyType({
    "state": State.BOT, "agent_id": None, "ticket_id": None, "queued_at": None, "assigned_at": None,
    "answered": False, "excluded": frozenset(), "requested_agent": None, "rank": None, "reasons": ()})
"""What a conversation forgets when the bot owns it again: the hand-off it had is over."""


@dataclass(frozen=True)
class Change:
    """One state change, as decided: the move and its cause, and everything it does.

    Attributes:
        fields: the live record's fields to write (besides what the store's atomic operation sets itself).
        actor: who caused it (an agent id), if anyone.
        details: kept with the transition for QA (routing scores, tier, difficulty...).
        notice: what the service says to the customer about it, if anything.
        close_ticket: how the ticket ends (``resolved``, ``handed_back``, ``abandoned``), if it does.
        assignment_starts / assignment_ends: the agent whose turn on the ticket starts or ends (the assigned
            agent, also when a supervisor acts).
        handle_seconds: how long the agent handled it, when the change ends an agent's work on it.
        tell_bot: the bot should learn what was said while it was not listening.
    """

    before: State
    after: State
    cause: Cause
    fields: Mapping[str, Any] = field(default_factory=dict)
    actor: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    notice: str | None = None
    close_ticket: str | None = None
    assignment_starts: AgentId | None = None
    assignment_ends: AgentId | None = None
    handle_seconds: float | None = None
    tell_bot: bool = False

    def with_fields(self, **fields: Any) -> Change:
        """The same change writing more fields (those known only once something was written)."""
        return replace(self, fields={**self.fields, **fields})


def _checked(record: ConversationRecord, after: State, cause: Cause, **effects: Any) -> Change:
    """The change, if ``cause`` may move the conversation from where it is to ``after``.

    Raises:
        StateConflict: not from where it is (it moved on meanwhile, or the caller asked too late).
        ValueError: ``cause`` never explains a move to ``after`` (a bug in the caller).
    """
    if cause not in causes(record.state, after):
        if any(cause in causes(state, after) for state in State):
            raise refusal(record.state, after)
        check_cause(record.state, after, cause)  # raises: the move is refused, or the cause cannot explain it
    return Change(record.state, after, cause, **effects)


def _assignee(record: ConversationRecord, after: State) -> AgentId:
    """The agent whose assignment a change ends (whoever acts: a supervisor may act on it)."""
    if record.state is not State.ASSIGNED or record.agent_id is None:
        raise refusal(record.state, after)
    return record.agent_id


def escalate(record: ConversationRecord, cause: Cause, *, priority: Priority, tier: int, category: str | None,
             reasons: tuple[str, ...], profile: CustomerProfile, queued_at: float, rank: float,
             difficulty: float) -> Change:
    """The bot hands off (or is down): the conversation waits for an agent. The ticket's id joins the fields
    once the ticket is written (:meth:`Change.with_fields`)."""
    return _checked(record, State.QUEUED, cause, fields={
        "priority": priority, "tier": tier, "category": category, "reasons": reasons, "profile": profile,
        "queued_at": queued_at, "rank": rank, "excluded": frozenset(), "requested_agent": None, "agent_id": None},
        details={"tier": tier, "priority": priority.name.lower(), "difficulty": difficulty})


def close_for_callback(record: ConversationRecord) -> Change:
    """Out of hours: an offline ticket with a promised callback; nobody is queued. The notice names the
    ticket, so it joins once the ticket is written (:func:`handoff.core.texts.offline`)."""
    return _checked(record, State.OFFLINE, Cause.OUT_OF_HOURS, fields={"state": State.OFFLINE})


def assign(record: ConversationRecord, agent_id: AgentId, agent_name: str, cause: Cause,
           details: Mapping[str, Any] | None = None) -> Change:
    """Routing (``assigned``) or the agent (``taken``) gives the conversation to ``agent_id``; the store's
    ``assign`` makes the move, atomically."""
    return _checked(record, State.ASSIGNED, cause, actor=agent_id, assignment_starts=agent_id,
                    details={"agent_id": agent_id, "ticket_id": record.ticket_id, **(details or {})},
                    notice=texts.say(record.language, "assigned", agent=agent_name))


def requeue(record: ConversationRecord, cause: Cause = Cause.ACCEPT_TIMEOUT) -> Change:
    """The assigned agent did not answer in time (``accept_timeout``), or can no longer work
    (``agent_offline``: their account was deactivated): back to the queue, never to them again (nor only to
    them, had it been transferred to them by name: it would wait for nobody)."""
    agent = _assignee(record, State.QUEUED)
    return _checked(record, State.QUEUED, cause, actor=agent, assignment_ends=agent,
                    fields={"excluded": record.excluded | {agent}, "requested_agent": None},
                    notice=texts.say(record.language, "requeued"))


def agent_gone(record: ConversationRecord, agent_name: str) -> Change:
    """The assigned agent's consoles are all gone longer than the grace period: back to the queue for anyone
    (them too, should they come back first: sticky routing may give it back)."""
    agent = _assignee(record, State.QUEUED)
    return _checked(record, State.QUEUED, Cause.AGENT_OFFLINE, actor=agent, assignment_ends=agent,
                    fields={"requested_agent": None}, notice=texts.say(record.language, "agent_gone", agent=agent_name))


def transfer(record: ConversationRecord, actor: AgentId, *, to_agent: AgentId | None = None,
             to_tier: int | None = None) -> Change:
    """``actor`` (the assigned agent, or a supervisor) passes the conversation on, to one named colleague or
    to a tier; never back to the agent who had it."""
    agent = _assignee(record, State.QUEUED)
    return _checked(record, State.QUEUED, Cause.TRANSFERRED, actor=actor, assignment_ends=agent,
                    fields={"excluded": record.excluded | {agent}, "requested_agent": to_agent,
                            "tier": to_tier if to_tier is not None else record.tier},
                    details={"to_agent": to_agent, "to_tier": to_tier},
                    notice=texts.say(record.language, "transferred"))


def _handled(record: ConversationRecord, now: float) -> float | None:
    return None if record.assigned_at is None else max(now - record.assigned_at, 0.0)


def hand_back(record: ConversationRecord, actor: AgentId, actor_name: str, now: float) -> Change:
    """``actor`` gives the conversation back to the bot, which learns what was said meanwhile."""
    agent = _assignee(record, State.BOT)
    return _checked(record, State.BOT, Cause.HANDED_BACK, actor=actor, assignment_ends=agent,
                    fields=BACK_TO_BOT, close_ticket="handed_back", handle_seconds=_handled(record, now),
                    tell_bot=record.ticket_id is not None,
                    notice=texts.say(record.language, "handed_back", agent=actor_name))


def resolve(record: ConversationRecord, actor: AgentId, actor_name: str, now: float) -> Change:
    """``actor`` closes the conversation as resolved."""
    agent = _assignee(record, State.RESOLVED)
    return _checked(record, State.RESOLVED, Cause.RESOLVED, actor=actor, assignment_ends=agent,
                    close_ticket="resolved", handle_seconds=_handled(record, now),
                    notice=texts.say(record.language, "resolved", agent=actor_name))


def abandon(record: ConversationRecord) -> Change:
    """The customer stayed away from the queue too long."""
    return _checked(record, State.ABANDONED, Cause.CUSTOMER_LEFT, fields={"state": State.ABANDONED},
                    close_ticket="abandoned")


def customer_returned(record: ConversationRecord) -> Change:
    """The customer writes again after the end: the bot owns the conversation again."""
    return _checked(record, State.BOT, Cause.CUSTOMER_RETURNED, fields=BACK_TO_BOT)


def resolve_by_rule(record: ConversationRecord, rule: str, notice: str, now: float) -> Change:
    """An automation rule (``idle_customer``) closes the conversation as resolved; the customer is told the
    rule's ``notice``. The actor is ``automation:<rule>``."""
    agent = _assignee(record, State.RESOLVED)
    return _checked(record, State.RESOLVED, Cause.AUTOMATION, actor=automation_actor(rule), assignment_ends=agent,
                    close_ticket="resolved", handle_seconds=_handled(record, now), notice=notice,
                    details={"rule": rule, "agent_id": agent})


def requeue_by_rule(record: ConversationRecord, rule: str, priority: Priority, rank: float) -> Change:
    """An automation rule (``first_response_sla``) takes the conversation from the agent who has not answered
    it and queues it again with a higher ``priority`` (and its ``rank``), never for that agent again."""
    agent = _assignee(record, State.QUEUED)
    return _checked(record, State.QUEUED, Cause.AUTOMATION, actor=automation_actor(rule), assignment_ends=agent,
                    fields={"excluded": record.excluded | {agent}, "requested_agent": None, "priority": priority,
                            "rank": rank},
                    details={"rule": rule, "agent_id": agent, "priority": priority.name.lower()},
                    notice=texts.say(record.language, "requeued"))
