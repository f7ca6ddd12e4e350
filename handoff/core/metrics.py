"""The QA metrics (docs/metrics.md): facts from the ticket log in, figures per period, bucket and group out.

Pure: the ticket log's adapter (:mod:`handoff.adapters.tickets.kpis`) reads one fact per ticket and per
feedback, and counts of conversations per local day or quarter hour; this module buckets them by local day or week,
groups them by a dimension, tallies each group (:class:`TicketTally`, :class:`FeedbackTally`) and measures the
tallies. On PostgreSQL the adapter tallies the groups in SQL instead (``percentile_cont`` interpolates as
:func:`percentile` does) and only :func:`measure_tallies` / :func:`grouped_rows` run here: the same figures.

Three kinds of facts, each with what it can be grouped by:

- tickets (hand-offs): path (always ``handoff``), agent, team, tier, channel, category, reason;
- conversations (counted, handed off or not): path (``bot`` or ``handoff``), channel;
- feedback (ratings and votes): every dimension, ``article`` included.

A metric whose facts cannot be grouped by the chosen dimension is ``None`` in every group (the containment
rate has no agent), never a misleading zero.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, NamedTuple

from handoff.core.targets import Targets

DIMENSIONS = ("path", "agent", "team", "tier", "channel", "category", "reason", "article")
BUCKETS = ("day", "week")
REOPEN_WINDOW = 7 * 86400.0  # a new hand-off of the same conversation this soon after a resolution reopens it
SLOT = 900.0  # seconds: conversations are counted per quarter of an hour (every timezone's offset is a multiple)
NONE_KEY = "(none)"  # the group of facts without a value for the dimension (an unassigned ticket's agent)

Value = float | int | None


class TicketFact(NamedTuple):
    """One ticket (a hand-off), as the ticket log reads it (in this order); durations in seconds."""

    at: float  # created, epoch seconds
    channel: str
    tier: int
    category: str | None
    reason: str | None  # the code of the bot's first (main) reason
    agent: str | None  # the assignee: who has it, or had it last
    status: str
    resolution: str | None
    wait: float | None  # created -> first assigned
    first_response: float | None  # created -> first agent message
    resolution_time: float | None  # created -> closed, for tickets an agent resolved or handed back
    handle: float | None  # the sum of the agents' assignment spells, once ended
    transfers: int  # assignments that ended with a transfer
    reopened: bool  # resolved, and handed off again within REOPEN_WINDOW


class ConversationCount(NamedTuple):
    """Conversations started in one quarter of an hour on one channel, handed off (to a person) or not."""

    slot: float  # epoch seconds: the start of the local day, or of a quarter hour (within one local day)
    channel: str
    handed: bool
    number: int


class FeedbackFact(NamedTuple):
    """One verdict: ``kind`` ``csat`` (score 1-5) or ``helpful`` (1 helpful, 0 not)."""

    at: float
    kind: str
    score: int
    path: str
    agent: str | None
    tier: int | None
    channel: str
    category: str | None
    reason: str | None
    article: str | None


@dataclass(frozen=True)
class Facts:
    """What the metrics of a period are measured from; ``teams`` maps an agent's id to their team's name,
    ``names`` to their display name."""

    tickets: Sequence[TicketFact]
    conversations: Sequence[ConversationCount]
    feedback: Sequence[FeedbackFact]
    teams: Mapping[str, str]
    names: Mapping[str, str]


def team_of(tiers: Iterable[int]) -> str:
    """An agent's team: the desk of their highest tier (``tier 2`` takes tier-2 and tier-1 work)."""
    return f"tier {max(tiers, default=1)}"


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile of sorted values, interpolating linearly between ranks (PostgreSQL's
    ``percentile_cont``, numpy's default)."""
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class Durations(NamedTuple):
    """One duration's values in a group: their sum and number, and their median and 90th percentile."""

    total: float
    number: int
    p50: float | None
    p90: float | None


def _spread(values: list[float]) -> Durations:
    if not values:
        return Durations(0.0, 0, None, None)
    values.sort()
    return Durations(sum(values), len(values), percentile(values, 0.5), percentile(values, 0.9))


def _durations(name: str, found: Durations) -> dict[str, Value]:
    if found.number == 0:
        return {f"{name}_mean": None, f"{name}_p50": None, f"{name}_p90": None}
    return {f"{name}_mean": round(found.total / found.number, 3), f"{name}_p50": round(float(found.p50 or 0.0), 3),
            f"{name}_p90": round(float(found.p90 or 0.0), 3)}


def _share(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


METRICS = (
    "conversations", "contained", "containment_rate", "handoffs", "handoff_rate",
    "tickets", "queue_wait_mean", "queue_wait_p50", "queue_wait_p90",
    "first_response_mean", "first_response_p50", "first_response_p90",
    "handle_time_mean", "handle_time_p50", "handle_time_p90",
    "resolution_time_mean", "resolution_time_p50", "resolution_time_p90",
    "abandoned", "abandonment_rate", "transfers", "transfer_rate", "reopened", "reopen_rate",
    "csat_responses", "csat_average", "csat_satisfied", "csat_response_rate", "helpful_votes", "helpfulness",
    "sla_met", "sla_measured", "sla_attainment",
)
"""Every figure, in the order tables and CSV files show them (docs/metrics.md defines each)."""


def _sla(ticket: TicketFact, targets: Targets, now: float) -> bool | None:
    """Whether the ticket met its service level: an agent's first reply within ``first_response_seconds`` of
    its creation and its closing within ``resolution_seconds``. None while it still may (open, in time), and for
    tickets no agent was meant to serve (abandoned while queued, offline out of hours)."""
    if ticket.status in ("abandoned", "offline"):
        return None
    first_ok = ticket.first_response is not None and ticket.first_response <= targets.first_response_seconds
    if ticket.resolution_time is not None:
        return first_ok and ticket.resolution_time <= targets.resolution_seconds
    age = now - ticket.at
    if age > targets.resolution_seconds or (ticket.first_response is None and age > targets.first_response_seconds):
        return False
    if ticket.first_response is not None and not first_ok:
        return False
    return None


class TicketTally(NamedTuple):
    """What the ticket metrics of a group are computed from: counts, and the four durations' spreads. Tallied
    here from :class:`TicketFact` rows (:func:`tally_tickets`), or by PostgreSQL in the same terms (the ticket
    log's ``ticket_tallies``)."""

    tickets: int
    queued: int  # not offline: put in a queue
    abandoned: int
    assigned: int  # ever assigned (have a queue wait)
    transferred: int  # tickets with at least one transfer
    transfers: int
    resolved: int
    reopened: int
    met: int  # met their service level
    measured: int  # whose service level is decided
    queue_wait: Durations
    first_response: Durations
    handle_time: Durations  # of tickets with a resolution time
    resolution_time: Durations


class FeedbackTally(NamedTuple):
    """What the feedback metrics of a group are computed from."""

    ratings: int
    rating_sum: int
    satisfied: int  # ratings of 4 or 5
    votes: int
    helpful: int


def tally_tickets(tickets: Sequence[TicketFact], targets: Targets, now: float) -> TicketTally:
    """The :class:`TicketTally` of some tickets."""
    waits: list[float] = []
    firsts: list[float] = []
    handles: list[float] = []
    resolutions: list[float] = []
    queued = abandoned = transferred = transfers = resolved = reopened = met = measured = 0
    for t in tickets:
        if t.wait is not None:
            waits.append(t.wait)
        if t.first_response is not None:
            firsts.append(t.first_response)
        if t.resolution_time is not None:
            resolutions.append(t.resolution_time)
            if t.handle is not None:
                handles.append(t.handle)
        if t.status != "offline":
            queued += 1
        abandoned += t.status == "abandoned"
        transfers += t.transfers
        transferred += t.transfers > 0
        if t.resolution == "resolved":
            resolved += 1
            reopened += t.reopened
        verdict = _sla(t, targets, now)
        if verdict is not None:
            measured += 1
            met += verdict
    return TicketTally(len(tickets), queued, abandoned, len(waits), transferred, transfers, resolved, reopened, met,
                       measured, _spread(waits), _spread(firsts), _spread(handles), _spread(resolutions))


def tally_feedback(feedback: Iterable[FeedbackFact]) -> FeedbackTally:
    """The :class:`FeedbackTally` of some feedback."""
    ratings = [f.score for f in feedback if f.kind == "csat"]
    votes = [f.score for f in feedback if f.kind == "helpful"]
    return FeedbackTally(len(ratings), sum(ratings), sum(1 for s in ratings if s >= 4), len(votes), sum(votes))


class Tallies(NamedTuple):
    """A period's tallies per ``(bucket, group)`` as a database computes them (the bucket's local start date, None
    for the whole period; the group's key as :func:`breakdown` makes it, ``all`` without a dimension):
    ``tickets`` None if they cannot be grouped by the dimension."""

    tickets: Mapping[tuple[date | None, str], TicketTally] | None
    feedback: Mapping[tuple[date | None, str], FeedbackTally]


NO_TICKETS = tally_tickets((), Targets(), 0.0)
NO_FEEDBACK = tally_feedback(())


def measure(tickets: Sequence[TicketFact] | None, conversations: Sequence[ConversationCount] | None,
            feedback: Sequence[FeedbackFact] | None, targets: Targets, now: float) -> dict[str, Value]:
    """Every metric of one group. A kind of facts given as None does not apply to the grouping: its metrics are
    None; an empty list measures zero facts (counts 0, rates and durations None)."""
    return measure_tallies(None if tickets is None else tally_tickets(tickets, targets, now), conversations,
                           None if feedback is None else tally_feedback(feedback))


def measure_tallies(tickets: TicketTally | None, conversations: Sequence[ConversationCount] | None,
                    feedback: FeedbackTally | None) -> dict[str, Value]:
    """Every metric of one group, from its tallies (:func:`measure`)."""
    out: dict[str, Value] = dict.fromkeys(METRICS)
    if conversations is not None:
        total = sum(c.number for c in conversations)
        handed = sum(c.number for c in conversations if c.handed)
        out.update(conversations=total, contained=total - handed, containment_rate=_share(total - handed, total),
                   handoffs=handed, handoff_rate=_share(handed, total))
    if tickets is not None:
        t = tickets
        out.update(tickets=t.tickets, abandoned=t.abandoned, abandonment_rate=_share(t.abandoned, t.queued),
                   transfers=t.transfers, transfer_rate=_share(t.transferred, t.assigned), reopened=t.reopened,
                   reopen_rate=_share(t.reopened, t.resolved), sla_met=t.met, sla_measured=t.measured,
                   sla_attainment=_share(t.met, t.measured))
        out.update(_durations("queue_wait", t.queue_wait) | _durations("first_response", t.first_response)
                   | _durations("handle_time", t.handle_time) | _durations("resolution_time", t.resolution_time))
        if conversations is None:
            out["handoffs"] = t.tickets
    if feedback is not None:
        f = feedback
        out.update(csat_responses=f.ratings, csat_average=round(f.rating_sum / f.ratings, 3) if f.ratings else None,
                   csat_satisfied=_share(f.satisfied, f.ratings), helpful_votes=f.votes,
                   helpfulness=_share(f.helpful, f.votes))
        if conversations is not None:
            out["csat_response_rate"] = _share(f.ratings, int(out["conversations"] or 0))
    return out


# ---- grouping -----------------------------------------------------------------------------------------------


def _ticket_key(dimension: str, teams: Mapping[str, str]) -> Callable[[TicketFact], Any] | None:
    keys: dict[str, Callable[[TicketFact], Any]] = {
        "path": lambda t: "handoff", "agent": lambda t: t.agent, "team": lambda t: teams.get(t.agent or ""),
        "tier": lambda t: t.tier, "channel": lambda t: t.channel, "category": lambda t: t.category,
        "reason": lambda t: t.reason}
    return keys.get(dimension)


def _conversation_key(dimension: str) -> Callable[[ConversationCount], Any] | None:
    keys: dict[str, Callable[[ConversationCount], Any]] = {
        "path": lambda c: "handoff" if c.handed else "bot", "channel": lambda c: c.channel}
    return keys.get(dimension)


def _feedback_key(dimension: str, teams: Mapping[str, str]) -> Callable[[FeedbackFact], Any]:
    if dimension == "team":
        return lambda f: teams.get(f.agent or "")
    if dimension == "article":
        return lambda f: f.article
    return lambda f: getattr(f, dimension)


def _groups(facts: Iterable[Any], key: Callable[[Any], Any]) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for fact in facts:
        value = key(fact)
        found.setdefault(NONE_KEY if value is None else str(value), []).append(fact)
    return found


def breakdown(facts: Facts, dimension: str | None, targets: Targets, now: float) -> list[dict[str, Any]]:
    """``[{"key", "label", "metrics"}]``: one row per value of ``dimension`` (the whole period's facts as one row
    ``"all"`` when None), sorted by key."""
    if dimension is None:
        return [{"key": "all", "label": "all", "metrics": measure(facts.tickets, facts.conversations, facts.feedback,
                                                                   targets, now)}]
    ticket_key = _ticket_key(dimension, facts.teams)
    tickets = _groups(facts.tickets, ticket_key) if ticket_key else None
    return grouped_rows(dimension, None if tickets is None else {
        key: tally_tickets(group, targets, now) for key, group in tickets.items()}, facts.conversations,
        {key: tally_feedback(group) for key, group in _groups(facts.feedback,
                                                             _feedback_key(dimension, facts.teams)).items()},
        facts.names)


def grouped_rows(dimension: str | None, tickets: Mapping[str, TicketTally] | None,
                 conversations: Sequence[ConversationCount], feedback: Mapping[str, FeedbackTally],
                 names: Mapping[str, str]) -> list[dict[str, Any]]:
    """:func:`breakdown`'s rows from the tallies of each group (``tickets`` None: they cannot be grouped by
    ``dimension``; ``dimension`` None: the tallies are keyed ``all``)."""
    if dimension is None:
        return [{"key": "all", "label": "all", "metrics": measure_tallies(
            (tickets or {}).get("all", NO_TICKETS), conversations, feedback.get("all", NO_FEEDBACK))}]
    conversation_key = _conversation_key(dimension)
    counts = _groups(conversations, conversation_key) if conversation_key else None
    keys = set(feedback) | set(tickets or ()) | set(counts or ())
    rows = []
    for key in sorted(keys, key=lambda k: (k == NONE_KEY, k)):
        label = names.get(key, key) if dimension == "agent" else key
        rows.append({"key": key, "label": label, "metrics": measure_tallies(
            None if tickets is None else tickets.get(key, NO_TICKETS),
            None if counts is None else counts.get(key, []), feedback.get(key, NO_FEEDBACK))})
    return rows


def reasons(tickets: Iterable[TicketFact]) -> dict[str, int]:
    """Hand-offs per reason code (the bot's main reason), most frequent first."""
    counts: dict[str, int] = {}
    for t in tickets:
        code = t.reason or NONE_KEY
        counts[code] = counts.get(code, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


# ---- periods and buckets ------------------------------------------------------------------------------------


def bucket_starts(since: datetime, until: datetime, bucket: str, zone: tzinfo) -> list[datetime]:
    """The local midnights that start each day (or Monday of each week) overlapping ``[since, until)``; the
    first may be before ``since`` (a week already under way). Aware datetimes in ``zone``, DST included."""
    first: date = since.astimezone(zone).date()
    if bucket == "week":
        first -= timedelta(days=first.weekday())
    step = timedelta(days=7 if bucket == "week" else 1)
    starts = []
    day = first
    while (moment := datetime(day.year, day.month, day.day, tzinfo=zone)) < until:
        starts.append(moment)
        day += step
    return starts


def bucketed(facts: Facts, starts: Sequence[datetime]) -> list[Facts]:
    """``facts`` split by the buckets that begin at ``starts`` (each runs to the next start, the last to
    infinity: the caller's period ends it)."""
    edges = [s.timestamp() for s in starts]
    split: list[tuple[list[Any], list[Any], list[Any]]] = [([], [], []) for _ in edges]

    def place(moment: float) -> int:
        return max(0, bisect_right(edges, moment) - 1)

    for t in facts.tickets:
        split[place(t.at)][0].append(t)
    for c in facts.conversations:
        split[place(c.slot)][1].append(c)
    for f in facts.feedback:
        split[place(f.at)][2].append(f)
    return [Facts(t, c, f, facts.teams, facts.names) for t, c, f in split]


# ---- today's KPIs against targets ----------------------------------------------------------------------------

KPIS: Mapping[str, tuple[str, str]] = {
    # target name -> (metric, "max": stay at or below / "min": stay at or above)
    "queue_wait_seconds": ("queue_wait_p90", "max"),
    "first_response_seconds": ("first_response_p90", "max"),
    "resolution_seconds": ("resolution_time_p90", "max"),
    "csat": ("csat_average", "min"),
    "containment_rate": ("containment_rate", "min"),
    "handoff_rate": ("handoff_rate", "max"),
    "sla_attainment": ("sla_attainment", "min"),
}
"""Which figure each target of ``handoff/targets.yml`` judges: durations by their 90th percentile (nine
customers in ten were served at least this fast)."""


def against_targets(metrics: Mapping[str, Value], targets: Targets) -> list[dict[str, Any]]:
    """One tile per target: ``{"target", "metric", "value", "goal", "direction", "met"}`` (``met`` None while the
    figure has no value yet)."""
    tiles = []
    for name, (metric, direction) in KPIS.items():
        value, goal = metrics.get(metric), getattr(targets, name)
        met = None if value is None else (value <= goal if direction == "max" else value >= goal)
        tiles.append({"target": name, "metric": metric, "value": value, "goal": goal, "direction": direction,
                      "met": met})
    return tiles
