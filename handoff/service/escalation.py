"""Escalation: the bot's hand-off request (or its silence) becomes a ticket and a place in the queue.

The request (schemas/handoff-request.*.json, docs/handoff-payload.md) says why and how urgent; the pure
core turns it into a tier, a priority and a category (:mod:`handoff.core.difficulty`; when the bot did not
know the category, the topic of past hand-offs nearest the customer's words may give it:
:class:`~handoff.service.insights.TopicMap`, docs/insights.md) and checks the move
(:mod:`handoff.core.transitions`). Then the ticket and the transition are written in one transaction (it is
the escalation's latency), the store queues the conversation only if it is still the bot's, and routing
runs at once. Out of business hours the ticket is an offline one with a promised callback instead.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema

from handoff.core import texts, transitions
from handoff.core.conversation import Cause
from handoff.core.difficulty import category_for, estimate_tier, priority_for
from handoff.core.errors import StateConflict
from handoff.core.model import ConversationId, ConversationRecord, State, TicketId, moment
from handoff.core.queue import QueueOrder
from handoff.core.routing.schedule import BusinessHours
from handoff.service.automation import Automation
from handoff.service.board import Board
from handoff.service.changes import Changes, log_transition, note
from handoff.service.dispatch import Dispatch
from handoff.service.ports import Clock, Store, TicketLog
from handoff.service.telemetry import Telemetry

if TYPE_CHECKING:
    from handoff.service.insights import TopicMap

logger = logging.getLogger(__name__)
SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


@cache
def contracts() -> dict[str, jsonschema.Draft202012Validator]:
    """Every version of the hand-off request contract in schemas/, by the name a request gives
    (``handoff-request/v2`` for handoff-request.v2.json), loaded once."""
    found = {}
    for path in sorted(SCHEMAS.glob("handoff-request.v*.json")):
        schema = json.loads(path.read_text())
        found[schema["properties"]["schema"]["const"]] = jsonschema.Draft202012Validator(schema)
    return found


def request_problem(request: Mapping[str, Any]) -> str | None:
    """Why the bot's hand-off request does not match its contract, or None when it does."""
    name = request.get("schema")
    validator = contracts().get(name) if isinstance(name, str) else None
    if validator is None:
        return f"unknown contract {str(name)[:40]!r}"
    errors = sorted(validator.iter_errors(request), key=lambda e: (list(map(str, e.absolute_path)), e.validator))
    if not errors:
        return None
    first = errors[0]
    if first.validator == "required":  # names a property of the contract, nothing the customer said
        return str(first.message)
    # else where and which rule, never the value: jsonschema's message quotes it (it may be the customer's words)
    return f"{'/'.join(map(str, first.absolute_path)) or 'the request'} fails {first.validator!r}"


def reasons_of(request: Mapping[str, Any] | None, cause: Cause) -> list[dict[str, Any]]:
    """The request's reasons, strongest first (the ones that are objects); without any, the cause itself."""
    given = [dict(r) for r in (request or {}).get("reasons") or [] if isinstance(r, Mapping)]
    detail = {Cause.BOT_UNAVAILABLE: texts.BOT_DOWN, Cause.UNCITED: texts.UNCITED}.get(cause, texts.NO_REASON)
    return given or [{"code": cause.value, "detail": detail, "figures": {}}]


class Escalation:
    """Opens the ticket, queues (or closes for a callback), and routes at once."""

    def __init__(self, store: Store, log: TicketLog, board: Board, changes: Changes, dispatch: Dispatch,
                 hours: BusinessHours, queue_order: QueueOrder, clock: Clock, automation: Automation,
                 telemetry: Telemetry, topic_map: TopicMap | None = None) -> None:
        self._store = store
        self._log = log
        self._board = board
        self._changes = changes
        self._dispatch = dispatch
        self._hours = hours
        self._order = queue_order
        self._clock = clock
        self._automation = automation
        self._telemetry = telemetry
        self._topics = topic_map
        # who confirms an out-of-hours promise by e-mail (the e-mail channel, when it runs)
        self.on_callback: Callable[[ConversationRecord, TicketId, str | None, str], Awaitable[None]] | None = None

    async def escalate(self, conversation_id: str, request: dict[str, Any] | None, cause: Cause) -> None:
        """Open a ticket and queue the conversation (or, out of hours, make it an offline ticket)."""
        record = await self._board.conversation(conversation_id)
        if record.state is not State.BOT:
            return
        if request is not None and (problem := request_problem(request)):
            logger.warning("conversation %s: the bot's hand-off request does not match its contract (%s)",
                           record.conversation_id, problem)
        profile = replace(await self._log.people.customer_profile(record.customer_id), language=record.language)
        difficulty = estimate_tier(request, profile, 0)  # the bot's failed turns are in the request's figures
        priority, category = priority_for(request, profile), category_for(request)
        reasons = reasons_of(request, cause)
        codes = tuple(str(r.get("code", "")) for r in reasons)
        arrival = self._automation.arrival(request, profile, record.channel, category, codes)  # on_arrival rules
        first = (category, priority)
        category = arrival.category or category
        priority = max(priority, arrival.priority) if arrival.priority is not None else priority
        summary = (request or {}).get("summary")
        if category is None and self._topics is not None:  # the bot did not know: the topic nearest their words
            category = await self._topics.category(record.conversation_id, summary if isinstance(summary, str) else "")
        now = self._clock()
        now_dt = moment(now)
        common: dict[str, Any] = {"now": now_dt, "priority": priority.name.lower(), "tier": difficulty.tier,
                                  "category": category, "request": request, "reasons": list(reasons),
                                  "summary": summary if isinstance(summary, str) else "", "tags": arrival.tags}
        if not self._hours.is_open(now_dt):
            if (ticket := await self._close_for_callback(record, common)) is not None:
                self._telemetry.handoff(reasons[0].get("code"), "offline")
                await self._automation.arrived(ticket, arrival, *first)
            return
        change = transitions.escalate(
            record, cause, priority=priority, tier=difficulty.tier, category=category,
            reasons=codes, profile=profile, queued_at=now,
            rank=self._order.rank(priority, now), difficulty=difficulty.score)
        ticket_id = await self._log.tickets.open_ticket(record.conversation_id, record.customer_id, record.channel,
                                                        transition=note(change), **common)
        change = change.with_fields(ticket_id=ticket_id)
        try:  # only if it is still the bot's: of two escalations at once (two sockets, two instances) one wins
            after = await self._store.enqueue(record.conversation_id, change.fields)
        except StateConflict:
            await self._lost_race(record.conversation_id, ticket_id)
            return
        log_transition(record.conversation_id, change)
        self._telemetry.handoff(reasons[0].get("code"), "queued")
        await self._automation.arrived(ticket_id, arrival, *first)
        if await self._dispatch.dispatch():  # an agent was free: the customer heard who
            after = await self._board.conversation(record.conversation_id)
        if after.state is State.QUEUED:
            status = await self._board.queue_status(after) or {"position": 1, "wait_seconds": None}
            await self._changes.announce(replace(change, notice=texts.queued(status["position"],
                                                                             status["wait_seconds"],
                                                                             after.language)), after)

    async def _close_for_callback(self, record: ConversationRecord, common: dict[str, Any]) -> TicketId | None:
        """The offline ticket, or None if another escalation of the conversation came first."""
        customer = await self._log.people.get_customer(record.customer_id)
        opening = self._hours.next_opening(common["now"])
        email = customer.email if customer else None
        callback = {"contact": email, "channel": "email" if email else record.channel, "by": opening.isoformat()}
        change = transitions.close_for_callback(record)
        ticket_id = await self._log.tickets.open_ticket(record.conversation_id, record.customer_id, record.channel,
                                                        status="offline", callback=callback,
                                                        transition=note(change), **common)
        change = replace(change.with_fields(ticket_id=ticket_id), notice=texts.offline(ticket_id, email, opening,
                                                                                          record.language))
        try:
            after = await self._store.update_conversation(record.conversation_id, [change.before], change.fields)
        except StateConflict:
            await self._lost_race(record.conversation_id, ticket_id)
            return None
        log_transition(record.conversation_id, change)
        await self._changes.announce(change, after)
        if self.on_callback is not None and change.notice is not None:
            try:
                await self.on_callback(after, ticket_id, email, change.notice)
            except Exception:  # the ticket and its promise stand; the confirmation is what failed
                logger.exception("ticket %s: the out-of-hours confirmation e-mail could not be kept", ticket_id)
        return ticket_id

    async def _lost_race(self, conversation_id: ConversationId, ticket_id: TicketId) -> None:
        """Another escalation of the conversation (a second socket's message, another instance) moved it
        between our read and our move: that one stands, with its ticket; ours is withdrawn."""
        await self._log.tickets.withdraw_ticket(ticket_id)
        logger.info("conversation %s: escalated twice at once; the second ticket (%s) was withdrawn",
                    conversation_id, ticket_id)
