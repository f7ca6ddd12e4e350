"""``python -m handoff capacity plan``: required agents against the roster, per interval (docs/capacity.md).

Without a forecast the demand is the measured arrivals of the same weekday and interval averaged over the last
four weeks, and the output says so.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from datetime import date, datetime, timedelta
from typing import Any

from handoff.settings import HandoffSettings


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a share between 0 and 1")
    return value


def add_parser(group: Any) -> None:
    parser = group.add_parser("plan", help="required agents per interval against the roster (Erlang C and A)")
    parser.add_argument("--date", type=date.fromisoformat, help="first day, YYYY-MM-DD (default: tomorrow, in the "
                        "business hours' timezone)")
    parser.add_argument("--days", type=int, default=1, help="days to plan (default 1)")
    parser.add_argument("--interval", type=int, choices=(15, 30, 60), default=30, help="minutes (default 30)")
    parser.add_argument("--target", type=_share, default=0.8, help="service level: share answered in time (0.8)")
    parser.add_argument("--within", type=float, default=60.0, help="seconds to answer within (60)")
    parser.add_argument("--occupancy", type=_share, default=0.85, help="occupancy cap (0.85)")
    parser.add_argument("--shrinkage", type=_share, default=0.3, help="share of scheduled time not available (0.3)")
    parser.add_argument("--tier", type=int, help="plan this tier's contacts for the agents of this tier only")
    parser.add_argument("--skill", help="plan this category's contacts for the agents with this skill only")
    parser.add_argument("--demand", choices=("forecast", "recent"), default="forecast",
                        help="the forecast of the live hand-offs (default), or the last 4 weeks' average")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run)


def _cell(value: float | None, kind: str) -> str:
    if value is None:
        return "-"
    if not math.isfinite(value):
        return "inf"
    return {"share": f"{value:.0%}", "seconds": f"{value:.0f}", "agents": f"{value:.1f}"}[kind]


def table(plan: Any, zone: Any) -> str:
    """The plan's rows as a fixed-width table (local interval starts)."""
    head = ["start", "demand", "req C", "req A", "scheduled", "gap", "SL", "wait s", "abandon"]
    lines = [[row.start.astimezone(zone).strftime("%a %m-%d %H:%M"), f"{row.demand:.1f}", str(row.required_c),
              "-" if row.required_a is None else str(row.required_a), _cell(row.scheduled, "agents"),
              ("!" if row.understaffed else "") + f"{row.gap:+.1f}", _cell(row.expected.service_level, "share"),
              _cell(row.expected.mean_wait, "seconds"), _cell(row.expected.abandonment, "share")]
             for row in plan.rows]
    widths = [max(len(cells[i]) for cells in [head, *lines]) for i in range(len(head))]
    render = ["  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(cells))
              for cells in [head, *lines]]
    return "\n".join([render[0], "-" * len(render[0]), *render[1:]])


def summary(plan: Any) -> list[str]:
    measured, workload, target = plan.measured, plan.measured.workload, plan.target
    patience = (f"patience {workload.patience_seconds:.0f} s ({measured.abandoned} of {measured.waited} contacts "
                "abandoned)" if workload.patience_seconds is not None else "nobody abandoned: Erlang C only")
    return [f"Demand: {plan.demand_source}.",
            f"Measured {measured.since:%Y-%m-%d} to {measured.until:%Y-%m-%d}: {measured.tickets} contacts, handle "
            f"time {workload.handle_seconds:.0f} s ({measured.handled} tickets), {patience}, concurrency "
            f"{workload.concurrency:.2f}.",
            f"Target: {target.service_level:.0%} answered within {target.within:g} s, occupancy at most "
            f"{target.occupancy:.0%}, shrinkage {target.shrinkage:.0%}. Required and scheduled are agents; gap = "
            "scheduled - required (A when known); SL, wait and abandon: the roster as it is."]


async def run(settings: HandoffSettings, args: argparse.Namespace) -> int:
    from handoff.adapters.tickets import TicketLog
    from handoff.core.routing import build_business_hours, load_routing_config
    from handoff.core.staffing import Target
    from handoff.service.staffing import Staffing

    if args.days < 1:
        raise SystemExit("--days must be 1 or more")
    try:
        target = Target(args.target, args.within, args.occupancy, args.shrinkage)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    hours = build_business_hours(load_routing_config(settings.routing_config))
    log = await TicketLog.open(settings.database_url)
    try:
        staffing = Staffing(log, hours, settings.abandon_after, time.time)
        first = args.date or datetime.now(hours.tz).date() + timedelta(days=1)
        plan = await staffing.plan(first, args.days, args.interval * 60, target, demand=args.demand,
                                   tier=args.tier, skill=args.skill)
    finally:
        await log.close()
    if plan is None:
        print("No handled ticket in the last 28 days: nothing to measure the handle time on.")
        return 1
    if args.json:
        print(json.dumps({"first_day": first.isoformat(), "days": args.days, "timezone": hours.timezone,
                          **plan.to_json()}, indent=2))
        return 0
    print(f"Staffing plan from {first.isoformat()}, {args.days} day(s), {args.interval}-minute intervals "
          f"({hours.timezone}); definitions: docs/capacity.md")
    print("\n".join(summary(plan)))
    print(table(plan, hours.tz))
    print(f"{plan.understaffed} of {len(plan.rows)} open intervals understaffed.")
    return 0
