"""The supervisors' reports: the QA metrics of a period (docs/metrics.md), whole, by day or week, broken down by
path, agent, team, tier, channel, intent category, hand-off reason or article; today's KPIs against the team's
targets; the same as CSV.

Days and weeks are those of the business hours' timezone (``business_hours.timezone`` in routing.yml): a
"day" is the team's day. A period is given as dates (``2026-11-01``: that local midnight) or as ISO times with
an offset, ``until`` excluded. Supervisors and admins only (the policy's ``read_reports``).
"""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from handoff.core import metrics
from handoff.core.errors import BadRequest
from handoff.core.metrics import BUCKETS, DIMENSIONS, METRICS, Facts
from handoff.core.targets import Targets
from handoff.service import policy
from handoff.service.auth import Principal
from handoff.service.policy import Action
from handoff.service.ports import Clock, TicketLog

MAX_DAYS = 732  # the longest period a report covers: two years and a leap day
DEFAULT_DAYS = 30
Buckets = list[tuple[datetime, list[dict[str, Any]]]]  # each bucket's start and its rows (metrics.breakdown)


class Reports:
    """Metrics over the ticket log, for supervisors."""

    def __init__(self, log: TicketLog, targets: Targets, zone: tzinfo, clock: Clock) -> None:
        self._log, self._targets, self._zone, self._clock = log, targets, zone, clock

    @property
    def timezone(self) -> str:
        return str(self._zone)

    def period(self, since: str | None, until: str | None) -> tuple[datetime, datetime]:
        """The period ``[since, until)`` from the caller's strings; by default the last 30 days up to the end of
        today (local days).

        Raises:
            BadRequest: a date that is not one, an empty or reversed period, or one longer than two years.
        """
        today = datetime.fromtimestamp(self._clock(), self._zone).date()
        end = self._moment(until, "until") if until else datetime.combine(today + timedelta(days=1), time(),
                                                                             self._zone)
        start = self._moment(since, "since") if since else end - timedelta(days=DEFAULT_DAYS)
        if start >= end:
            raise BadRequest("The period is empty: since must come before until.")
        if end - start > timedelta(days=MAX_DAYS):
            raise BadRequest(f"A report covers at most {MAX_DAYS} days; choose a shorter period.")
        return start, end

    def _moment(self, text: str, name: str) -> datetime:
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            raise BadRequest(f"{name} must be a date (2026-11-01) or an ISO time with an offset "
                             f"(2026-11-01T09:00:00+01:00), not {text[:40]!r}.") from None
        if len(text.strip()) == 10:  # a date: its midnight in the report's timezone
            return moment.replace(tzinfo=self._zone)
        if moment.tzinfo is None:
            raise BadRequest(f"{name}: a time needs its offset (such as +00:00 or Z).")
        return moment

    @staticmethod
    def dimension(by: str | None) -> str | None:
        if by in (None, "", "none"):
            return None
        if by not in DIMENSIONS:
            raise BadRequest(f"A report is broken down by one of {', '.join(DIMENSIONS)}, not {by[:40]!r}.")
        return by

    @staticmethod
    def bucket(bucket: str | None) -> str:
        if bucket in (None, ""):
            return "day"
        if bucket not in BUCKETS:
            raise BadRequest(f"The bucket is day or week, not {bucket[:40]!r}.")
        return bucket

    async def facts(self, start: datetime, end: datetime) -> Facts:
        tickets = await self._log.kpis.ticket_facts(start, end)
        conversations = await self._log.kpis.conversation_counts(start, end, self.timezone)
        feedback = await self._log.kpis.feedback_facts(start, end)
        agents = await self._log.kpis.agents()
        return Facts(tickets, conversations, feedback, {a: metrics.team_of(tiers) for a, _, tiers in agents},
                     {a: name for a, name, _ in agents})

    def _head(self, start: datetime, end: datetime) -> dict[str, Any]:
        return {"since": start.isoformat(), "until": end.isoformat(), "timezone": self.timezone,
                "targets": self._targets.as_dict()}

    async def summary(self, principal: Principal, since: str | None = None, until: str | None = None,
                      by: str | None = None) -> dict[str, Any]:
        """The period's metrics (``total``), hand-offs per reason, and one row per value of ``by``."""
        policy.check(principal.role, Action.READ_REPORTS)
        start, end = self.period(since, until)
        dimension = self.dimension(by)
        measured, reasons = await self._measured(start, end, None, None, *([dimension] if dimension else []),
                                                 reasons=True)
        [(_, [whole])], *grouped = measured
        return {**self._head(start, end), "by": dimension, "total": whole["metrics"], "reasons": reasons,
                "rows": grouped[0][0][1] if grouped else []}

    async def timeseries(self, principal: Principal, since: str | None = None, until: str | None = None,
                         bucket: str | None = None, metric: str | None = None) -> dict[str, Any]:
        """The metrics per day or week of the period (``metric``: only that one)."""
        policy.check(principal.role, Action.READ_REPORTS)
        start, end = self.period(since, until)
        size = self.bucket(bucket)
        if metric not in (None, "") and metric not in METRICS:
            raise BadRequest(f"Unknown metric {metric[:40]!r}; the metrics are listed in docs/metrics.md.")
        points = await self._series(start, end, size, None)
        for point in points:
            point["metrics"] = {metric: point["metrics"][metric]} if metric else point["metrics"]
        return {**self._head(start, end), "bucket": size, "points": points}

    async def _series(self, start: datetime, end: datetime, size: str, dimension: str | None) -> list[dict[str, Any]]:
        [buckets], _ = await self._measured(start, end, size, dimension)
        return [{"start": begins.date().isoformat(), "key": row["key"], "label": row["label"],
                 "metrics": row["metrics"]} for begins, rows in buckets for row in rows]

    async def _measured(self, start: datetime, end: datetime, size: str | None, *dimensions: str | None,
                        reasons: bool = False) -> tuple[list[Buckets], dict[str, int]]:
        """For each of ``dimensions``, the rows (:func:`~handoff.core.metrics.breakdown`) of each bucket's start
        (just ``start`` without a ``size``); and the period's hand-offs per reason (if ``reasons``). PostgreSQL
        tallies the groups itself (the ticket log's ``tallies``); on SQLite the facts are read and measured here."""
        now = self._clock()
        starts = metrics.bucket_starts(start, end, size, self._zone) if size else [start]
        kpis = self._log.kpis
        if not await kpis.tallies_in_database():
            facts = await self.facts(start, end)
            parts = metrics.bucketed(facts, starts) if size else [facts]
            return [[(begins, metrics.breakdown(part, dimension, self._targets, now))
                     for begins, part in zip(starts, parts, strict=True)] for dimension in dimensions], \
                metrics.reasons(facts.tickets)
        # Independent reads, at once: the database works on them side by side.
        (counts, agents, per_reason), found = await asyncio.gather(
            asyncio.gather(kpis.conversation_counts(start, end, self.timezone), kpis.agents(),
                           kpis.reason_counts(start, end) if reasons else _nothing()),
            asyncio.gather(*(kpis.tallies(start, end, self.timezone, size, dimension, self._targets, now)
                             for dimension in dimensions)))
        names = {a: name for a, name, _ in agents}
        parts = metrics.bucketed(Facts((), counts, (), {}, names), starts)
        return [self._rows(starts, parts, size, dimension, tallies, names)
                for dimension, tallies in zip(dimensions, found, strict=True) if tallies is not None], per_reason

    @staticmethod
    def _rows(starts: list[datetime], parts: list[Facts], size: str | None, dimension: str | None,
              tallies: metrics.Tallies, names: dict[str, str]) -> Buckets:
        ticket_groups: dict[date | None, dict[str, metrics.TicketTally]] = {}
        for (day, key), tally in (tallies.tickets or {}).items():
            ticket_groups.setdefault(day, {})[key] = tally
        feedback_groups: dict[date | None, dict[str, metrics.FeedbackTally]] = {}
        for (day, key), found in tallies.feedback.items():
            feedback_groups.setdefault(day, {})[key] = found
        buckets = []
        for begins, part in zip(starts, parts, strict=True):
            day = begins.date() if size else None
            buckets.append((begins, metrics.grouped_rows(
                dimension, None if tallies.tickets is None else ticket_groups.get(day, {}), part.conversations,
                feedback_groups.get(day, {}), names)))
        return buckets

    async def today(self, principal: Principal) -> dict[str, Any]:
        """Today's KPIs (the local day so far) against the targets, one tile per target."""
        policy.check(principal.role, Action.READ_REPORTS)
        now = datetime.fromtimestamp(self._clock(), self._zone)
        start = datetime.combine(now.date(), time(), self._zone)
        end = datetime.combine(now.date() + timedelta(days=1), time(), self._zone)
        [[(_, [whole])]], _ = await self._measured(start, end, None, None)
        total = whole["metrics"]
        return {**self._head(start, end), "total": total, "tiles": metrics.against_targets(total, self._targets)}

    async def csv(self, principal: Principal, since: str | None = None, until: str | None = None,
                  by: str | None = None, bucket: str | None = None) -> str:
        """The metrics as CSV: one line per bucket (``bucket`` given) and group (``by`` given), or one line for the
        whole period; columns ``since``, ``until``, ``group``, ``label``, then every metric."""
        policy.check(principal.role, Action.READ_REPORTS)
        start, end = self.period(since, until)
        dimension = self.dimension(by)
        return self.csv_text(await self.table(start, end, dimension, self.bucket(bucket) if bucket else None),
                             dimension)

    @staticmethod
    def csv_text(rows: list[dict[str, Any]], dimension: str | None) -> str:
        """:meth:`table`'s rows as CSV."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["since", "until", dimension or "group", "label", *METRICS])
        for row in rows:
            writer.writerow([row["since"], row["until"], _inert(str(row["key"])), _inert(str(row["label"])),
                             *("" if row["metrics"][m] is None else row["metrics"][m] for m in METRICS)])
        return out.getvalue()

    async def table(self, start: datetime, end: datetime, dimension: str | None,
                    size: str | None) -> list[dict[str, Any]]:
        """``[{"since", "until", "key", "label", "metrics"}]``: per bucket (if ``size``) and group; the CSV file's
        and the command line's rows."""
        if size is None:
            [[(_, rows)]], _ = await self._measured(start, end, None, dimension)
            return [{"since": start.date().isoformat(), "until": end.date().isoformat(), **row} for row in rows]
        points = await self._series(start, end, size, dimension)
        step = timedelta(days=7 if size == "week" else 1)
        return [{"since": p["start"], "until": (datetime.fromisoformat(p["start"]) + step).date().isoformat(),
                 "key": p["key"], "label": p["label"], "metrics": p["metrics"]} for p in points]


async def _nothing() -> dict[str, int]:
    return {}


def _inert(text: str) -> str:
    """A spreadsheet never runs a name as a formula (=, +, -, @ first: CSV injection)."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") else text
