"""What both stores write when an assignment ends (one definition, so the backends cannot drift). What the
transition itself changes besides is the core's (:mod:`handoff.core.transitions`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handoff.core.model import State


def release_target(to: State | str) -> State:
    """The state a released conversation moves to; an assignment cannot be released into ``assigned``."""
    target = State(to)
    if target is State.ASSIGNED:
        raise ValueError("release() ends an assignment; it cannot move a conversation to 'assigned'")
    return target


def release_changes(to: State, changes: Mapping[str, Any]) -> dict[str, Any]:
    """The fields a release sets: the new state, no agent, not answered; the caller's ``changes`` win.

    ``queued_at`` is not touched, so a requeued conversation keeps its place by age.
    """
    return {"state": to, "agent_id": None, "assigned_at": None, "answered": False, **changes}
