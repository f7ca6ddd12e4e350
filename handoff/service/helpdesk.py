"""Tickets and canned responses as agents browse and edit them (an agent sees only their own tickets)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from handoff.core.errors import BadRequest, Conflict, UnknownConversation
from handoff.core.model import MAX_ROW_ID, AgentId, Priority, storable
from handoff.service import policy
from handoff.service.auth import Principal
from handoff.service.inbox import TrainingInbox
from handoff.service.policy import Action, Scope
from handoff.service.ports import Clock, TicketLog

MAX_PAGE = 200
MAX_CALLBACK_CHARS = 20000
TIERS = (1, 2, 3)


class Helpdesk:
    """The ticket list, one ticket, edits, canned responses."""

    def __init__(self, log: TicketLog, clock: Clock = time.time, inbox: TrainingInbox | None = None) -> None:
        self._log = log
        self._clock = clock
        self._inbox = inbox
        # the e-mail channel's callback (ticket id, conversation, address, words, agent), when it runs
        self.callback_mail: Callable[[int, str, str | None, str, AgentId], Awaitable[None]] | None = None

    async def tickets(self, principal: Principal, *, status: str | None = None, assignee: str | None = None,
                      tier: int | None = None, priority: str | None = None, tag: str | None = None,
                      q: str | None = None, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        """Tickets, newest first, filtered (to the caller's own when the policy says so; an empty filter is no
        filter, as a form sends it); ``limit`` is capped at 200."""
        policy.check(principal.role, Action.LIST_TICKETS)
        own = principal.agent_id if policy.scope(principal.role, Action.LIST_TICKETS) is Scope.OWN else None
        status, assignee, priority, tag, q = (value or None for value in (status, assignee, priority, tag, q))
        if not storable(status, assignee, priority, tag, q):
            raise BadRequest("A filter cannot contain a NUL character.")
        if priority is not None and priority.strip().upper() not in Priority.__members__:
            raise BadRequest("The priority is normal, high or urgent.")
        if tier is not None and tier not in TIERS:
            raise BadRequest("The tier is 1, 2 or 3.")
        found = await self._log.tickets.list_tickets(status=status, assignee=assignee, tier=tier, priority=priority,
                                                     tag=tag, q=q, worked_by=own, limit=max(1, min(limit, MAX_PAGE)),
                                                     offset=min(max(0, offset), MAX_ROW_ID))
        return [ticket.to_json() for ticket in found]

    async def ticket(self, principal: Principal, ticket_id: int) -> dict[str, Any]:
        """One ticket with its transcript, notes, assignments, transitions and what automation rules did to it
        (``automation``, oldest first)."""
        await self._authorize(principal, Action.READ_TICKET, ticket_id)
        found = await self._log.tickets.get_ticket(ticket_id)
        if found is None:
            raise UnknownConversation("There is no ticket with this number.")
        automation = await self._log.automation.events(ticket_id=ticket_id)
        return {**found.to_json(), "automation": [event.to_json() for event in reversed(automation)]}

    async def edit_ticket(self, principal: Principal, ticket_id: int, *, tags: list[str] | None = None,
                          priority: str | None = None, category: str | None = None,
                          callback_sent: bool = False, callback_text: str | None = None) -> dict[str, Any]:
        """Replace the ticket's tags and/or set its priority (``normal``, ``high``, ``urgent``) or its category
        (an agent's correction of what the bot thought it was about: the hand-off's message goes to the NLU
        inbox with it); with ``callback_sent``, note that the caller made the callback an out-of-hours ticket
        promised (now), which lets a ``close_callback`` automation rule close it. ``callback_text``: make that
        callback by e-mail with these words (the e-mail channel sends it; implies ``callback_sent``)."""
        await self._authorize(principal, Action.EDIT_TICKET, ticket_id)
        before = await self._log.tickets.ticket(ticket_id)
        callback = None
        if callback_text is not None:
            callback = await self._callback_by_mail(ticket_id, callback_text)
            callback_sent = True
        if callback_sent and not await self._log.automation.callback_sent(ticket_id, principal.agent_id,
                                                                          self._clock()):
            raise Conflict("This ticket has no callback waiting: it is not an out-of-hours ticket, or its callback "
                           "is marked as made already.")
        if callback is not None and self.callback_mail is not None:
            await self.callback_mail(ticket_id, callback[0], callback[1], callback[2], principal.agent_id)
        try:
            await self._log.tickets.update_ticket(ticket_id, tags=tags, priority=priority, category=category)
        except ValueError as exc:
            raise BadRequest(f"{exc}.") from None
        if category is not None and before is not None and category != before.category and self._inbox:
            await self._inbox.recategorised(before, category, principal.agent_id)
        return await self.ticket(principal, ticket_id)

    async def _callback_by_mail(self, ticket_id: int, text: str) -> tuple[str, str | None, str]:
        """Whether the ticket's callback can be made by e-mail with ``text``: (its conversation, the address,
        the words)."""
        words = text.strip()
        if not words or len(words) > MAX_CALLBACK_CHARS or not storable(words):
            raise BadRequest(f"A callback needs some text, at most {MAX_CALLBACK_CHARS} characters.")
        if self.callback_mail is None:
            raise BadRequest("Callbacks by e-mail need the e-mail channel (HANDOFF_CHANNELS=web,email).")
        found = await self._log.tickets.get_ticket(ticket_id)
        contact = (found.callback or {}).get("contact") if found is not None else None
        if found is None or (found.channel != "email" and not contact):
            raise Conflict("This ticket's customer left no e-mail address to call back.")
        return found.conversation_id, contact if isinstance(contact, str) else None, words

    async def canned(self, principal: Principal) -> list[dict[str, Any]]:
        policy.check(principal.role, Action.CANNED)
        return [c.to_json() for c in await self._log.people.list_canned()]

    async def _authorize(self, principal: Principal, action: Action, ticket_id: int) -> None:
        """The ticket exists (else ``UnknownConversation``) and the policy lets ``principal`` do ``action`` to
        it: their own if they are or were assigned to it."""
        if not 0 < ticket_id <= MAX_ROW_ID or await self._log.tickets.ticket(ticket_id) is None:
            raise UnknownConversation("There is no ticket with this number.")
        own = None
        if policy.scope(principal.role, action) is Scope.OWN:
            own = await self._log.tickets.worked_on(ticket_id, principal.agent_id)
        policy.check(principal.role, action, own)
