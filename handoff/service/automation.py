"""Automation: the rules of ``handoff/automation.yml`` applied to tickets (:mod:`handoff.core.automation`
decides; this part finds the tickets, acts, and writes what it did in the ticket's history).

``on_arrival`` rules run while a hand-off opens its ticket (:meth:`Automation.arrival` before, so that the ticket
opens tagged and the queue sees the priority; :meth:`Automation.arrived` once the ticket stands). The other
kinds run from the sweeper (:meth:`Automation.sweep`).

Once per ticket and rule, on any number of instances: the ticket log's ``automation_events`` row is claimed
before the action (a unique pair: of two instances, one gets it), the action uses the store's atomic
operation (``release``, a compare-and-set update), and a claim whose action found the ticket moved on is
withdrawn.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping
from datetime import UTC, datetime
from typing import Any

from handoff.core import transitions
from handoff.core.automation import Arrival, ArrivalChanges, Rule, Rules, arrival_changes
from handoff.core.errors import BadRequest, StateConflict
from handoff.core.model import ConversationRecord, CustomerProfile, Priority, State, TicketId, moment
from handoff.core.queue import QueueOrder
from handoff.core.targets import Targets
from handoff.service import policy
from handoff.service.auth import Principal
from handoff.service.board import Board
from handoff.service.changes import Changes
from handoff.service.dispatch import Dispatch
from handoff.service.policy import Action
from handoff.service.ports import AutomationCandidate as Candidate
from handoff.service.ports import Clock, Store, TicketLog
from handoff.service.rules_file import RulesFile

logger = logging.getLogger(__name__)


def arrival_of(request: Mapping[str, Any] | None, profile: CustomerProfile, channel: str,
               category: str | None, reasons: tuple[str, ...]) -> Arrival:
    """The facts an ``on_arrival`` rule looks at, from the bot's hand-off request (or its absence: ``reasons``
    is then the cause, ``bot_unavailable``) and the customer."""
    request = request or {}
    intents = tuple(str(i.get("name", "")) for i in request.get("intents") or [] if isinstance(i, Mapping))
    words = [request.get(key) for key in ("last_user_message", "summary")]
    return Arrival(category=category, intents=intents, reasons=reasons, channel=channel,
                   customer_tier=profile.value_tier, text=" ".join(w for w in words if isinstance(w, str)))


def arrival_details(rule: Rule, category: str | None, priority: Priority) -> tuple[str, dict[str, Any]]:
    """What one matched ``on_arrival`` rule did, as its event says it: the action and its details."""
    details: dict[str, Any] = {}
    if rule.set.get("tags"):
        details["tags"] = list(rule.set["tags"])
    if rule.set.get("category"):
        details["category"] = {"from": category, "to": rule.set["category"]}
    wanted = rule.set.get("priority")
    if wanted is not None and wanted > priority:
        details["priority"] = {"from": priority.name.lower(), "to": wanted.name.lower()}
    action = "tagged" if "tags" in details else "categorised" if "category" in details else "prioritised"
    return action, details


class Automation:
    """The rules, and what they did."""

    def __init__(self, rules: Rules, targets: Targets, store: Store, log: TicketLog, board: Board,
                 changes: Changes, dispatch: Dispatch, queue_order: QueueOrder, clock: Clock,
                 rules_file: RulesFile[Rules] | None = None) -> None:
        self.rules = rules
        self._rules_file = rules_file  # read again when it changes (:meth:`sweep`)
        self._targets = targets
        self._store = store
        self._log = log
        self._board = board
        self._changes = changes
        self._dispatch = dispatch
        self._order = queue_order
        self._clock = clock

    # ---- on arrival ------------------------------------------------------------------------------------

    def arrival(self, request: Mapping[str, Any] | None, profile: CustomerProfile, channel: str,
                category: str | None, reasons: tuple[str, ...]) -> ArrivalChanges:
        """What the ``on_arrival`` rules set on a ticket about to open (``reasons``: the hand-off's codes)."""
        return arrival_changes(self.rules.enabled("on_arrival"),
                               arrival_of(request, profile, channel, category, reasons))

    async def arrived(self, ticket_id: TicketId, changes: ArrivalChanges, category: str | None,
                      priority: Priority) -> None:
        """The ticket opened with ``changes`` applied: each rule that matched writes what it did (``category``
        and ``priority``: the ticket's before the rules)."""
        for rule in changes.rules:
            action, details = arrival_details(rule, category, priority)
            if details:
                await self._log.automation.claim(ticket_id, rule.name, rule.kind, action, details, self._now())

    # ---- the sweeper -------------------------------------------------------------------------------------

    async def sweep(self) -> None:
        """Every enabled timed rule, on each ticket it is due on (each on its own: one that fails is logged).
        A changed rules file that reads well replaces the rules first (a rule acts once per ticket by its name:
        renamed, it acts again)."""
        if self._rules_file is not None and (rules := self._rules_file.changed()) is not None:
            self.rules = rules
        now = self._clock()
        book = self._log.automation
        for rule in self.rules.enabled("idle_customer"):
            for found in await book.idle_customers(rule.name, rule.silent_since(now)):
                await self._each(found, self._idle(rule, found))
        target = self._targets.first_response_seconds
        for rule in self.rules.enabled("first_response_sla"):
            for found in await book.unanswered(rule.name, rule.created_before(now, target)):
                await self._each(found, self._at_risk(rule, found))
        for rule in self.rules.enabled("close_callback"):
            for found in await book.called_back(rule.name):
                if rule.callback_due(found.since.timestamp(), now):
                    await self._each(found, self._close(rule, found))

    @staticmethod
    async def _each(found: Candidate, acting: Awaitable[None]) -> None:
        try:
            await acting
        except Exception:
            logger.exception("ticket %s: an automation rule failed; the next sweep tries again", found.ticket_id)

    async def _live(self, found: Candidate, *states: State) -> ConversationRecord | None:
        """The ticket's conversation as the store has it, if it is still on this ticket and in ``states``."""
        record = await self._store.get_conversation(found.conversation_id)
        if record is None or record.ticket_id != found.ticket_id or record.state not in states:
            return None
        return record

    async def _idle(self, rule: Rule, found: Candidate) -> None:
        """``idle_customer``: the rule's notice to the customer, and the conversation resolved."""
        before = await self._live(found, State.ASSIGNED)
        if before is None or before.agent_id is None:
            return
        now = self._clock()
        change = transitions.resolve_by_rule(before, rule.name, rule.notice or "", now)
        details = {"notice": rule.notice, "agent_id": before.agent_id,
                   "silent_seconds": round(now - found.since.timestamp())}
        claim = await self._log.automation.claim(found.ticket_id, rule.name, rule.kind, "resolved", details,
                                                 moment(now))
        if claim is None:
            return  # done already (here or on another instance)
        after = await self._store.release(before.conversation_id, before.agent_id, change.after, now, change.fields)
        if after is None:  # the agent resolved, transferred or handed it back meanwhile
            await self._log.automation.withdraw(claim)
            return
        await self._changes.record(change, before, after)
        await self._board.tell_agent(before.agent_id, after)
        logger.info("ticket %s: resolved by automation rule %r (the customer was silent)", found.ticket_id,
                    rule.name)
        await self._dispatch.dispatch()

    async def _at_risk(self, rule: Rule, found: Candidate) -> None:
        """``first_response_sla``: the priority raised; with ``reroute``, an agent who has not answered loses
        the conversation to the queue."""
        before = await self._live(found, State.QUEUED, State.ASSIGNED)
        if before is None or before.answered:
            return
        priority = max(before.priority, rule.priority or Priority.HIGH)
        reroute = rule.reroute and before.state is State.ASSIGNED
        if priority == before.priority and not reroute:
            return  # nothing to raise (a vip's urgent request, say)
        now = self._clock()
        action = "requeued" if reroute else "priority_raised"
        details: dict[str, Any] = {"priority": {"from": before.priority.name.lower(), "to": priority.name.lower()},
                                   "state": before.state.value, "agent_id": before.agent_id,
                                   "target_seconds": self._targets.first_response_seconds,
                                   "left_seconds": round(found.since.timestamp()
                                                         + self._targets.first_response_seconds - now)}
        claim = await self._log.automation.claim(found.ticket_id, rule.name, rule.kind, action, details,
                                                 moment(now))
        if claim is None:
            return
        rank = self._order.rank(priority, before.queued_at if before.queued_at is not None else now)
        try:
            if reroute and before.agent_id is not None:
                change = transitions.requeue_by_rule(before, rule.name, priority, rank)
                after = await self._store.release(before.conversation_id, before.agent_id, State.QUEUED, now,
                                                  change.fields)
                if after is None:
                    raise StateConflict("released meanwhile", before.state)
                await self._changes.record(change, before, after)
                await self._board.tell_agent(before.agent_id, after)
            else:
                fields: dict[str, Any] = {"priority": priority}
                if before.state is State.QUEUED:
                    fields["rank"] = rank
                after = await self._store.update_conversation(before.conversation_id, [before.state], fields)
                if after.state is State.QUEUED:
                    await self._board.moved(State.QUEUED, after)  # the consoles' queue shows the new order
        except StateConflict:  # assigned, answered or ended meanwhile: the next sweep looks again
            await self._log.automation.withdraw(claim)
            return
        await self._log.tickets.update_ticket(found.ticket_id, priority=priority, now=moment(now))
        logger.info("ticket %s: first response at risk; automation rule %r raised it to %s%s", found.ticket_id,
                    rule.name, priority.name.lower(), " and requeued it" if reroute else "")
        await self._dispatch.dispatch()

    async def _close(self, rule: Rule, found: Candidate) -> None:
        """``close_callback``: the out-of-hours ticket closed, its callback made."""
        now = self._now()
        details = {"callback_sent_at": found.since.isoformat()}
        claim = await self._log.automation.claim(found.ticket_id, rule.name, rule.kind, "closed", details, now)
        if claim is None:
            return
        if not await self._log.tickets.close_ticket(found.ticket_id, "callback", now):
            await self._log.automation.withdraw(claim)
            return
        logger.info("ticket %s: closed by automation rule %r (its callback was made)", found.ticket_id, rule.name)

    def _now(self) -> datetime:
        return moment(self._clock())

    # ---- what supervisors read -----------------------------------------------------------------------------

    async def list_rules(self, principal: Principal) -> list[dict[str, Any]]:
        """Every rule of the file (enabled or not), in plain words, with how many tickets it acted on."""
        policy.check(principal.role, Action.READ_AUTOMATION)
        counts = await self._log.automation.counts()
        return [{**rule.to_json(), "count": counts.get(rule.name, {}).get("count", 0),
                 "last_acted_at": counts.get(rule.name, {}).get("last")} for rule in self.rules.rules]

    async def events(self, principal: Principal, rule: str | None = None, since: str | None = None,
                     limit: int = 200) -> list[dict[str, Any]]:
        """What the rules did, newest first: of one ``rule``, ``since`` an ISO 8601 moment."""
        policy.check(principal.role, Action.READ_AUTOMATION)
        since_moment = None
        if since:
            try:
                since_moment = datetime.fromisoformat(since)
            except ValueError:
                raise BadRequest("since: an ISO 8601 date and time, e.g. 2026-12-04T09:00:00Z.") from None
            if since_moment.tzinfo is None:
                since_moment = since_moment.replace(tzinfo=UTC)  # a moment without a zone is UTC
        found = await self._log.automation.events(rule=rule or None, since=since_moment,
                                                  limit=max(1, min(limit, 500)))
        return [event.to_json() for event in found]

