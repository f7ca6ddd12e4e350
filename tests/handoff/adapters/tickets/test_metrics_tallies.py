"""PostgreSQL tallies the reports' groups in SQL (counts, sums, ``percentile_cont``); the figures must be those
core/metrics computes in Python from one fact per ticket and feedback (the SQLite way), on a random history of a
few thousand tickets (the benchmark's generator), for every dimension, bucket and timezone edge."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from handoff.adapters.tickets import TicketLog, migrate
from handoff.core import metrics
from handoff.core.metrics import DIMENSIONS
from handoff.core.targets import Targets
from handoff.service.reports import Reports
from scripts.bench_reports import NOW, SUPERVISOR, fill, history

BERLIN = ZoneInfo("Europe/Berlin")
CLOCK = NOW.timestamp() - 40 * 86400  # "now" inside the history: some tickets are still young for their SLA


@pytest.fixture
async def reports(postgres_url: str) -> AsyncIterator[Reports]:
    await migrate(postgres_url)
    await fill(postgres_url, history(3000, 3000, seed=11))
    log = await TicketLog.open(postgres_url)
    try:
        assert await log.kpis.tallies_in_database()
        yield Reports(log, Targets(), BERLIN, lambda: CLOCK)
    finally:
        await log.close()


async def in_python(reports: Reports, since: str, until: str, dimension: str | None,
                    bucket: str | None) -> list[tuple[str, list[dict[str, Any]]]]:
    start, end = reports.period(since, until)
    facts = await reports.facts(start, end)
    if bucket is None:
        return [(start.date().isoformat(), metrics.breakdown(facts, dimension, Targets(), CLOCK))]
    starts = metrics.bucket_starts(start, end, bucket, BERLIN)
    return [(begins.date().isoformat(), metrics.breakdown(part, dimension, Targets(), CLOCK))
            for begins, part in zip(starts, metrics.bucketed(facts, starts), strict=True)]


@pytest.mark.parametrize("dimension", [None, *DIMENSIONS])
async def test_sql_tallies_give_the_figures_of_the_facts(reports: Reports, dimension: str | None) -> None:
    summary = await reports.summary(SUPERVISOR, since="2026-03-01", until="2026-11-01", by=dimension)
    [(_, whole)] = await in_python(reports, "2026-03-01", "2026-11-01", None, None)
    assert summary["total"] == whole[0]["metrics"]
    if dimension:
        [(_, rows)] = await in_python(reports, "2026-03-01", "2026-11-01", dimension, None)
        assert summary["rows"] == rows and len(rows) > 1
    start, end = reports.period("2026-03-01", "2026-11-01")
    assert summary["reasons"] == metrics.reasons((await reports.facts(start, end)).tickets)
    for bucket, since in (("week", "2026-09-17"), ("day", "2026-10-20")):  # 25 October: Berlin's clocks go back
        table = await reports.table(*reports.period(since, "2026-11-01"), dimension, bucket)
        expected = [(day, row) for day, rows in await in_python(reports, since, "2026-11-01", dimension, bucket)
                    for row in rows]
        assert [(row["since"], {k: row[k] for k in ("key", "label", "metrics")}) for row in table] == expected
