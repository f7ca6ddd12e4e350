"""Follow-up items: the customers' low verdicts somebody should look at (a rating of 1-2, a "not helpful" with a
comment), opened by the feedback part; supervisors list them, read each with its feedback and a link to the
conversation's ticket, assign them to a supervisor, leave notes, close (and reopen) them.

Statuses: ``open`` -> ``done`` (closed, with an optional outcome note) -> ``open`` again if reopened.
"""

from __future__ import annotations

from typing import Any

from handoff.core.errors import BadRequest, Conflict, UnknownConversation
from handoff.core.model import MAX_ROW_ID, Role, storable
from handoff.service import policy
from handoff.service.auth import Principal
from handoff.service.policy import Action
from handoff.service.ports import Clock, TicketLog

STATUSES = ("open", "done")
REASONS = ("low_rating", "not_helpful")
MAX_NOTE = 5000
MAX_PAGE = 200


def _note(text: str) -> str:
    text = text.strip()
    if not text or len(text) > MAX_NOTE or not storable(text):
        raise BadRequest(f"A note is 1 to {MAX_NOTE} characters, without NUL characters.")
    return text


class FollowUps:
    """The follow-up list and each item's handling, for supervisors and admins."""

    def __init__(self, log: TicketLog, clock: Clock) -> None:
        self._log, self._clock = log, clock

    async def list(self, principal: Principal, *, status: str | None = None, assignee: str | None = None,
                   reason: str | None = None, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        """Items, the oldest open first; ``assignee`` ``me`` is the caller, ``none`` nobody's (an empty filter is
        no filter)."""
        policy.check(principal.role, Action.FOLLOW_UPS)
        status, assignee, reason = status or None, assignee or None, reason or None
        if status is not None and status not in STATUSES:
            raise BadRequest("The status is open or done.")
        if reason is not None and reason not in REASONS:
            raise BadRequest("The reason is low_rating or not_helpful.")
        if assignee is not None and not storable(assignee):
            raise BadRequest("A filter cannot contain a NUL character.")
        mine = principal.agent_id if assignee == "me" else None if assignee == "none" else assignee
        found = await self._log.qa.follow_ups(status=status, reason=reason, assignee_id=mine,
                                              unassigned=assignee == "none", limit=max(1, min(limit, MAX_PAGE)),
                                              offset=min(max(0, offset), MAX_ROW_ID))
        return [item.to_json() for item in found]

    async def get(self, principal: Principal, follow_up_id: int) -> dict[str, Any]:
        """One item with its feedback, its notes and its ticket's id and number (the link to the transcript)."""
        policy.check(principal.role, Action.FOLLOW_UPS)
        found = await self._log.qa.follow_up(follow_up_id) if 0 < follow_up_id <= MAX_ROW_ID else None
        if found is None:
            raise UnknownConversation("There is no follow-up item with this number.")
        return found.to_json()

    async def assign(self, principal: Principal, follow_up_id: int, agent_id: str | None) -> dict[str, Any]:
        """Give the item to a supervisor or an admin (None: to nobody)."""
        await self.get(principal, follow_up_id)
        if agent_id is not None:
            account = await self._log.people.get_agent(agent_id) if storable(agent_id) else None
            if account is None or not account.active or account.role not in (Role.SUPERVISOR, Role.ADMIN):
                raise BadRequest("A follow-up goes to an active supervisor or admin.")
        await self._log.qa.assign_follow_up(follow_up_id, agent_id)
        return await self.get(principal, follow_up_id)

    async def note(self, principal: Principal, follow_up_id: int, text: str) -> dict[str, Any]:
        """Add the caller's note to the item's history."""
        await self.get(principal, follow_up_id)
        await self._log.qa.add_follow_up_note(follow_up_id, principal.agent_id, _note(text), self._clock())
        return await self.get(principal, follow_up_id)

    async def close(self, principal: Principal, follow_up_id: int, note: str | None = None) -> dict[str, Any]:
        """Mark the item done, with its outcome (also kept in its notes); an item done already is a conflict."""
        await self.get(principal, follow_up_id)
        outcome = _note(note) if note and note.strip() else None
        if not await self._log.qa.close_follow_up(follow_up_id, outcome, self._clock()):
            raise Conflict("This follow-up is closed already.")
        if outcome is not None:
            await self._log.qa.add_follow_up_note(follow_up_id, principal.agent_id, outcome, self._clock())
        return await self.get(principal, follow_up_id)

    async def reopen(self, principal: Principal, follow_up_id: int) -> dict[str, Any]:
        await self.get(principal, follow_up_id)
        if not await self._log.qa.reopen_follow_up(follow_up_id):
            raise Conflict("This follow-up is open already.")
        return await self.get(principal, follow_up_id)
