"""``python -m handoff report``: the QA metrics of a period (docs/metrics.md) from the ticket log, as a table,
CSV or JSON, for whoever runs the service (no account needed: the command reads ``DATABASE_URL`` itself).

::

    python -m handoff report --since 2026-11-01 --until 2026-12-01                 # the month, one line
    python -m handoff report --since 2026-11-01 --until 2026-12-01 --by agent --bucket week
    python -m handoff report --since 2026-11-01 --format csv > november.csv        # every metric
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from handoff.core.metrics import DIMENSIONS
from handoff.settings import HandoffSettings

# The table's columns: (heading, metric, how it is shown); CSV and JSON carry every metric.
COLUMNS = (("convs", "conversations", "n"), ("contained", "containment_rate", "%"), ("handoff", "handoff_rate", "%"),
           ("tickets", "tickets", "n"), ("wait p50", "queue_wait_p50", "s"), ("wait p90", "queue_wait_p90", "s"),
           ("1st resp p50", "first_response_p50", "s"), ("1st resp p90", "first_response_p90", "s"),
           ("handle", "handle_time_mean", "s"), ("resolve p50", "resolution_time_p50", "s"),
           ("abandon", "abandonment_rate", "%"), ("transfers", "transfers", "n"), ("reopen", "reopen_rate", "%"),
           ("CSAT", "csat_average", "f"), ("CSAT resp", "csat_response_rate", "%"), ("helpful", "helpfulness", "%"),
           ("SLA", "sla_attainment", "%"))


def add_parsers(sub: Any) -> None:
    """The ``report`` command."""
    parser = sub.add_parser("report", help="the QA metrics of a period (docs/metrics.md)")
    parser.add_argument("--since", help="first day (2026-11-01) or ISO time; default: 30 days before --until")
    parser.add_argument("--until", help="the day after the last (excluded); default: tomorrow")
    parser.add_argument("--by", choices=DIMENSIONS, help="one line per group of this dimension")
    parser.add_argument("--bucket", choices=("day", "week"), help="one line per day or week")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table")


def shown(value: Any, kind: str) -> str:
    if value is None:
        return "-"
    if kind == "%":
        return f"{value * 100:.1f}%"
    if kind == "s":
        return f"{value:.0f}s" if value < 120 else f"{value / 60:.1f}m"
    return f"{value:.2f}" if kind == "f" else str(value)


def table(rows: list[dict[str, Any]], dimension: str | None) -> str:
    """The rows as an aligned text table (the period and group first)."""
    head = ["since", "until", dimension or "group", *(heading for heading, _, _ in COLUMNS)]
    lines = [[row["since"], row["until"], str(row["label"])[:24],
              *(shown(row["metrics"][metric], kind) for _, metric, kind in COLUMNS)] for row in rows]
    widths = [max(len(cells[i]) for cells in [head, *lines]) for i in range(len(head))]
    render = ["  ".join(cell.ljust(widths[i]) if i < 3 else cell.rjust(widths[i]) for i, cell in enumerate(cells))
              for cells in [head, *lines]]
    return "\n".join([render[0], "-" * len(render[0]), *render[1:]])


async def run(settings: HandoffSettings, args: argparse.Namespace) -> None:
    from handoff.adapters.tickets import TicketLog
    from handoff.core.routing import build_business_hours, load_routing_config
    from handoff.core.targets import load_targets
    from handoff.service.reports import Reports

    hours = build_business_hours(load_routing_config(settings.routing_config))
    log = await TicketLog.open(settings.database_url)
    try:
        reports = Reports(log, load_targets(settings.targets_config), hours.tz, time.time)
        start, end = reports.period(args.since, args.until)
        rows = await reports.table(start, end, args.by, args.bucket)
        if args.format == "json":
            print(json.dumps({"since": start.isoformat(), "until": end.isoformat(), "timezone": reports.timezone,
                              "by": args.by, "bucket": args.bucket, "rows": rows}, indent=2, ensure_ascii=False))
        elif args.format == "csv":
            print(reports.csv_text(rows, args.by), end="")
        else:
            print(f"QA metrics {start.isoformat()} to {end.isoformat()} ({reports.timezone}); definitions: "
                  "docs/metrics.md")
            print(table(rows, args.by))
    finally:
        await log.close()
