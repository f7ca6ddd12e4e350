"""The authorization policy and the sign-in back-off, as tables: pure functions, no service."""

from __future__ import annotations

import pytest

from handoff.core.errors import NotAllowed
from handoff.core.model import DESK_ROLES, Role
from handoff.service import policy
from handoff.service.policy import RULES, Action, Scope
from handoff.service.throttle import BY_ADDRESS, BY_USERNAME, Backoff

ORDER = [Scope.NONE, Scope.OWN, Scope.ALL]


@pytest.mark.parametrize("action", list(Action))
def test_each_role_may_do_at_least_what_the_one_below_may(action: Action) -> None:
    """Agent < supervisor < admin; a trainer stands beside them (see the next test)."""
    scopes = [ORDER.index(policy.scope(role, action)) for role in (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)]
    assert scopes == sorted(scopes)


WORKBENCH = {Action.READ_INBOX, Action.LABEL_INBOX, Action.READ_KNOWLEDGE, Action.EDIT_KNOWLEDGE, Action.READ_MODELS,
             Action.TRAIN_MODELS, Action.PROMOTE_MODELS}
TRAINER_MAY = {Action.SELF, *WORKBENCH}


@pytest.mark.parametrize("action", list(Action))
def test_a_trainer_may_use_the_workbench_and_nothing_of_an_agent(action: Action) -> None:
    """A trainer's row: the NLU inbox, the knowledge workbench and their own account, nothing of a conversation,
    the queue, the team or the supervisors' tools; the workbench is theirs, supervisors' and admins', never an
    agent's."""
    assert policy.scope(Role.TRAINER, action) is (Scope.ALL if action in TRAINER_MAY else Scope.NONE)
    if action in WORKBENCH:
        assert [policy.scope(role, action) for role in (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)] == [
            Scope.NONE, Scope.ALL, Scope.ALL]


@pytest.mark.parametrize(("role", "action", "own", "allowed"), [
    (Role.AGENT, Action.READ_CONVERSATION, True, True), (Role.AGENT, Action.READ_CONVERSATION, False, False),
    (Role.AGENT, Action.LIST_TICKETS, None, True),  # a list: filtered to their own by the caller
    (Role.SUPERVISOR, Action.WORK_CONVERSATION, False, True), (Role.AGENT, Action.QUEUE, None, True),
    (Role.SUPERVISOR, Action.MANAGE_ACCOUNTS, None, False), (Role.ADMIN, Action.MANAGE_ACCOUNTS, None, True),
    (Role.ADMIN, Action.EDIT_TICKET, False, True),
    (Role.TRAINER, Action.READ_INBOX, None, True), (Role.TRAINER, Action.LABEL_INBOX, None, True),
    (Role.TRAINER, Action.TAKE, None, False), (Role.TRAINER, Action.QUEUE, None, False),
    (Role.TRAINER, Action.READ_CONVERSATION, True, False), (Role.TRAINER, Action.READ_TICKET, True, False),
    (Role.AGENT, Action.READ_INBOX, None, False), (Role.AGENT, Action.LABEL_INBOX, None, False)])
def test_allowed(role: Role, action: Action, own: bool | None, allowed: bool) -> None:
    assert policy.allowed(role, action, own) is allowed
    if not allowed:
        with pytest.raises(NotAllowed, match=RULES[action].refusal):
            policy.check(role, action, own)


def test_every_action_has_a_rule_for_every_role() -> None:
    assert set(RULES) == set(Action)
    assert all(set(rule.scopes) == set(Role) and rule.refusal.endswith(".") for rule in RULES.values())
    assert policy.markdown_table().count("\n") == len(Action) + 1


@pytest.mark.parametrize(("backoff", "failures", "seconds"), [
    (BY_USERNAME, 1, 0.0), (BY_USERNAME, 5, 0.0), (BY_USERNAME, 6, 1.0), (BY_USERNAME, 7, 2.0),
    (BY_USERNAME, 10, 16.0), (BY_USERNAME, 15, 512.0), (BY_USERNAME, 16, 900.0), (BY_USERNAME, 10_000, 900.0),
    (BY_ADDRESS, 20, 0.0), (BY_ADDRESS, 21, 1.0), (Backoff(free=0, base=0.5, cap=3.0), 4, 3.0)])
def test_the_lock_out_doubles_after_the_free_failures_up_to_its_cap(backoff: Backoff, failures: int,
                                                                   seconds: float) -> None:
    assert backoff.lockout(failures) == seconds


def test_the_roles_that_take_conversations_are_the_take_rows() -> None:
    """Routing, rosters and the team list use ``DESK_ROLES``; the policy's ``take`` row must say the same."""
    assert {role for role in Role if policy.allowed(role, Action.TAKE)} == set(DESK_ROLES)
