"""QA review: the sample of conversations to review, the reviews against the scorecard, the scores per agent.

The sample for a period (tickets closed in ``[since, until)`` that an agent handled, none reviewed yet):

- ``low_rating``: every ticket the customer rated 1 or 2;
- ``long_handle``: every ticket whose handle time (first assignment to closing) is at or above the period's
  90th percentile, once the period has at least :data:`MIN_FOR_PERCENTILE` handled tickets;
- ``random``: ``size`` more, drawn among the rest fairly: each agent's tickets are shuffled and the draw takes
  one ticket per agent in turn (the agents' order shuffled too), so every agent gets a few before anyone gets
  many. The draw is reproducible: the same ``seed`` over the same history gives the same sample.

A ticket that is in the sample for several reasons appears once, with every reason. The percentile is taken
over all the period's handled tickets, the reviewed ones included. Scoring is :mod:`handoff.core.scorecard`'s.
"""

from __future__ import annotations

import random
import secrets
import statistics
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from handoff.core.errors import BadRequest, Conflict, NotAllowed, UnknownConversation
from handoff.core.model import MAX_ROW_ID, storable
from handoff.core.scorecard import Score, Scorecard, checked_scores, outcome
from handoff.service import policy
from handoff.service.auth import Principal
from handoff.service.policy import Action, Scope
from handoff.service.ports import Clock, HandledTicket, ReviewView, TicketLog

LOW_RATING = 2  # a rating (1-5) at or below this is low
MIN_FOR_PERCENTILE = 10
MAX_RANDOM = 100
MAX_NOTES = 5000
DEFAULT_PERIOD = timedelta(days=7)
MAX_PERIOD = timedelta(days=366)


def period(since: str | None, until: str | None, now: float) -> tuple[datetime, datetime]:
    """``[since, until)`` from ISO 8601 dates or times (a time without a zone is UTC); ``until`` defaults to
    now, ``since`` to a week before ``until``."""
    def parse(text: str, name: str) -> datetime:
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            raise BadRequest(f"{name} must be an ISO 8601 date or time, such as 2026-11-30 or "
                             f"2026-11-30T09:00:00Z, not {text!r}.") from None
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

    end = parse(until, "until") if until else datetime.fromtimestamp(now, UTC)
    start = parse(since, "since") if since else end - DEFAULT_PERIOD
    if start >= end:
        raise BadRequest("since must be before until.")
    if end - start > MAX_PERIOD:
        raise BadRequest("A period is at most 366 days.")
    return start, end


def draw(handled: Sequence[HandledTicket], size: int, seed: int) -> list[tuple[HandledTicket, list[str]]]:
    """The sample (see the module): low ratings, long handle times, then ``size`` drawn fairly by agent."""
    reasons: dict[int, list[str]] = defaultdict(list)
    fresh = [ticket for ticket in handled if not ticket.reviewed]
    for ticket in fresh:
        if ticket.lowest_rating is not None and ticket.lowest_rating <= LOW_RATING:
            reasons[ticket.ticket_id].append("low_rating")
    if len(handled) >= MIN_FOR_PERCENTILE:
        # the 90th percentile, interpolated between ranks (as the KPIs' percentiles are)
        threshold = statistics.quantiles([t.handle_seconds for t in handled], n=10, method="inclusive")[8]
        for ticket in fresh:
            if ticket.handle_seconds >= threshold:
                reasons[ticket.ticket_id].append("long_handle")
    rng = random.Random(seed)
    by_agent: dict[str, list[HandledTicket]] = defaultdict(list)
    for ticket in sorted(fresh, key=lambda t: t.ticket_id):
        if ticket.ticket_id not in reasons:
            by_agent[ticket.agent_id].append(ticket)
    agents = sorted(by_agent)
    rng.shuffle(agents)
    for agent in agents:
        rng.shuffle(by_agent[agent])
    drawn = 0
    while drawn < size and any(by_agent.values()):
        for agent in agents:
            if drawn < size and by_agent[agent]:
                reasons[by_agent[agent].pop(0).ticket_id].append("random")
                drawn += 1
    chosen = [ticket for ticket in fresh if ticket.ticket_id in reasons]
    order = {"low_rating": 0, "long_handle": 1, "random": 2}
    chosen.sort(key=lambda t: (order[reasons[t.ticket_id][0]], t.resolved_at, t.ticket_id))
    return [(ticket, reasons[ticket.ticket_id]) for ticket in chosen]


def _sampled(ticket: HandledTicket, reasons: list[str]) -> dict[str, Any]:
    return {"ticket_id": ticket.ticket_id, "number": ticket.number, "conversation_id": ticket.conversation_id,
            "agent_id": ticket.agent_id, "agent_name": ticket.agent_name, "category": ticket.category,
            "summary": ticket.summary, "resolution": ticket.resolution,
            "handle_seconds": round(ticket.handle_seconds, 3), "resolved_at": ticket.resolved_at.isoformat(),
            "lowest_rating": ticket.lowest_rating, "reasons": reasons}


def rollup(reviews: Sequence[ReviewView], card: Scorecard) -> dict[str, Any]:
    """Scores per agent: reviews, average total (over the reviews that have one), critical failures, and each
    criterion's average as a percentage of its scale (N/A left out), criteria of older cards included."""
    criteria = {c.key: c.name for c in card.criteria}
    team: dict[str, list[float]] = defaultdict(list)
    agents: dict[str, dict[str, Any]] = {}
    for review in reviews:
        if review.agent_id is None:
            continue
        row = agents.setdefault(review.agent_id, {"agent_id": review.agent_id, "agent_name": review.agent_name,
                                                  "reviews": 0, "totals": [], "critical_failures": 0,
                                                  "marks": defaultdict(list)})
        row["reviews"] += 1
        if review.total is not None:
            row["totals"].append(review.total)
        row["critical_failures"] += bool(review.critical_failed)
        scales = {c["key"]: c for c in review.scorecard["criteria"]}
        for score in review.scores:
            scale = scales.get(score["criterion"])
            if scale is None or score["score"] is None:
                continue
            criteria.setdefault(score["criterion"], scale["name"])
            mark = 100 * (score["score"] - scale["low"]) / (scale["high"] - scale["low"])
            row["marks"][score["criterion"]].append(mark)
            team[score["criterion"]].append(mark)

    def mean(values: Sequence[float]) -> float | None:
        return round(sum(values) / len(values), 2) if values else None

    rows = [{"agent_id": r["agent_id"], "agent_name": r["agent_name"], "reviews": r["reviews"],
             "average": mean(r["totals"]), "critical_failures": r["critical_failures"],
             "criteria": {key: mean(r["marks"].get(key, [])) for key in criteria}}
            for r in sorted(agents.values(), key=lambda r: (r["agent_name"] or r["agent_id"]))]
    totals = [total for r in agents.values() for total in r["totals"]]
    return {"criteria": [{"key": key, "name": name} for key, name in criteria.items()], "agents": rows,
            "team": {"reviews": sum(r["reviews"] for r in rows), "average": mean(totals),
                     "criteria": {key: mean(team.get(key, [])) for key in criteria}}}


class Quality:
    """The sample, reviews and scores, for supervisors (an agent reads their own reviews and scores)."""

    def __init__(self, log: TicketLog, scorecard: Scorecard, clock: Clock) -> None:
        self._log, self._card, self._clock = log, scorecard, clock

    def scorecard(self, principal: Principal) -> dict[str, Any]:
        policy.check(principal.role, Action.QA_SCORES)
        return self._card.to_json()

    async def sample(self, principal: Principal, *, since: str | None = None, until: str | None = None,
                     size: int = 10, seed: int | None = None) -> dict[str, Any]:
        """A review sample for the period (see the module); ``seed`` None draws a new one (the answer says which
        seed it used, so the same draw can be made again)."""
        policy.check(principal.role, Action.QA_REVIEW)
        if not 0 <= size <= MAX_RANDOM:
            raise BadRequest(f"The random part of a sample is 0 to {MAX_RANDOM} conversations.")
        start, end = period(since, until, self._clock())
        seed = secrets.randbelow(2**31) if seed is None else seed
        handled = await self._log.qa.handled(start, end)
        sample = draw(handled, size, seed)
        return {"since": start.isoformat(), "until": end.isoformat(), "seed": seed, "handled": len(handled),
                "reviewed": sum(t.reviewed for t in handled),
                "sample": [_sampled(ticket, reasons) for ticket, reasons in sample]}

    async def ticket(self, principal: Principal, ticket_id: int) -> dict[str, Any]:
        """A ticket to review: its transcript and history, the scorecard, its reviews and the caller's own."""
        policy.check(principal.role, Action.QA_REVIEW)
        detail = await self._log.tickets.get_ticket(ticket_id) if 0 < ticket_id <= MAX_ROW_ID else None
        if detail is None:
            raise UnknownConversation("There is no ticket with this number.")
        reviews = await self._log.qa.reviews(ticket_id=ticket_id)
        mine = next((r for r in reviews if r.reviewer_id == principal.agent_id), None)
        return {"ticket": detail.to_json(), "scorecard": self._card.to_json(),
                "reviews": [r.to_json() for r in reviews], "mine": mine.to_json() if mine else None}

    async def review(self, principal: Principal, ticket_id: int, scores: Sequence[Score],
                     notes: str = "") -> dict[str, Any]:
        """Score the ticket's conversation against the current scorecard (replacing the caller's earlier review
        of it); the agent reviewed is the ticket's assignee, or the last one it had once closed."""
        policy.check(principal.role, Action.QA_REVIEW)
        ticket = await self._log.tickets.ticket(ticket_id) if 0 < ticket_id <= MAX_ROW_ID else None
        if ticket is None:
            raise UnknownConversation("There is no ticket with this number.")
        agent_id = ticket.assignee_id or await self._log.qa.last_agent(ticket_id)
        if agent_id is None:
            raise Conflict("No agent handled this ticket: there is nobody to review.")
        if agent_id == principal.agent_id:
            raise NotAllowed("You cannot review a conversation of your own.")
        if len(notes) > MAX_NOTES or not storable(notes, *(s.comment for s in scores)):
            raise BadRequest(f"The notes are at most {MAX_NOTES} characters, without NUL characters.")
        checked = checked_scores(self._card, scores)
        result = outcome(self._card, checked)
        saved = await self._log.qa.save_review(
            ticket_id, principal.agent_id, agent_id=agent_id, scorecard=self._card.to_json(),
            total=result.total, critical_failed=result.critical_failed, notes=notes.strip(),
            scores=[(s.criterion, s.score, s.comment.strip()) for s in checked], now=self._clock())
        return saved.to_json()

    async def reviews(self, principal: Principal, *, agent_id: str | None = None, since: str | None = None,
                      until: str | None = None) -> list[dict[str, Any]]:
        """Reviews of conversations closed in the period, of one agent or all (an agent: their own)."""
        if not storable(agent_id):
            raise BadRequest("A filter cannot contain a NUL character.")
        agent_id = self._own_agent(principal, agent_id or None)
        start, end = period(since, until, self._clock())
        found = await self._log.qa.reviews(agent_id=agent_id, since=start, until=end)
        return [review.to_json() for review in found]

    async def scores(self, principal: Principal, *, since: str | None = None,
                     until: str | None = None) -> dict[str, Any]:
        """The roll-up per agent (:func:`rollup`) of the reviews of conversations closed in the period (an agent:
        their own row)."""
        agent_id = self._own_agent(principal, None)
        start, end = period(since, until, self._clock())
        found = await self._log.qa.reviews(agent_id=agent_id, since=start, until=end)
        return {"since": start.isoformat(), "until": end.isoformat(), "scorecard_version": self._card.version,
                **rollup(found, self._card)}

    @staticmethod
    def _own_agent(principal: Principal, agent_id: str | None) -> str | None:
        """The agent whose reviews the caller may read: ``agent_id`` (None: everybody's), or the caller's own
        when their scope is ``own`` (another agent's is refused)."""
        if policy.scope(principal.role, Action.QA_SCORES) is Scope.OWN:
            policy.check(principal.role, Action.QA_SCORES, agent_id in (None, principal.agent_id))
            return principal.agent_id
        policy.check(principal.role, Action.QA_SCORES)
        return agent_id
