"""How long the capacity page's four calls take on a ticket database (docs/capacity.md, "The capacity page")::

    .venv/app/bin/python scripts/time_capacity_page.py /tmp/forecast/handoff.sqlite3

Works on a copy (``--copy``, default /tmp/capacity-page.sqlite3) of the SQLite file given, with handoff/routing.yml
and handoff/targets.yml, as a supervisor: the forecast against what came (the default period), the plan of the
next 7 days, three what-ifs on it (one agent always on shift; 80, 90 and 95% within 30 s, 35% shrinkage) and a
simulation of the last 7 days (3 seeds).
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import time
from datetime import date, timedelta
from pathlib import Path

from handoff.adapters.tickets import TicketLog
from handoff.core.model import AgentId, Role
from handoff.core.replay import RosterAgent
from handoff.core.routing import build_business_hours, load_routing_config
from handoff.core.staffing import Target
from handoff.core.targets import load_targets
from handoff.service.auth import Principal
from handoff.service.capacity import Capacity
from handoff.service.staffing import Staffing
from handoff.settings import HandoffSettings


async def measure(url: str) -> None:
    settings = HandoffSettings()
    log = await TicketLog.open(url)
    try:
        hours = build_business_hours(load_routing_config(settings.routing_config))
        capacity = Capacity(log, Staffing(log, hours, settings.abandon_after, time.time), hours,
                            load_targets(settings.targets_config), settings.routing_config, time.time)
        who = Principal(AgentId("timing"), "timing", "Timing", Role.SUPERVISOR)
        began = time.perf_counter()
        found = await capacity.forecast(who)
        print(f"forecast against what came ({found['since']} to {found['until']}): "
              f"{time.perf_counter() - began:.2f} s, WAPE {found['wape']}")
        began = time.perf_counter()
        plan = await capacity.plan(who, days=7)
        print(f"plan, 7 days: {time.perf_counter() - began:.2f} s, {len(plan.get('intervals', []))} intervals, "
              f"{plan.get('understaffed_intervals')} understaffed")
        first = plan["roster"][0]
        alone = [RosterAgent(AgentId(first["id"]), first["capacity"], frozenset(first["tiers"]),
                             frozenset(first["languages"]), frozenset(first["skills"]), (), first["timezone"])]
        for level in (0.8, 0.9, 0.95):
            began = time.perf_counter()
            answer = await capacity.what_if(who, alone, Target(level, 30.0, 0.85, 0.35), days=7)
            print(f"what-if, one agent, {level:.0%} within 30 s: {(time.perf_counter() - began) * 1000:.0f} ms, "
                  f"{answer.get('understaffed_intervals')} understaffed")
        today = date.today()
        began = time.perf_counter()
        simulated = await capacity.simulate(who, today - timedelta(days=7), today)
        print(f"simulation, last 7 days, 3 seeds: {time.perf_counter() - began:.2f} s, {simulated['handoffs']} hand-offs")
    finally:
        await log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", type=Path, help="a ticket database (SQLite file)")
    parser.add_argument("--copy", type=Path, default=Path("/tmp/capacity-page.sqlite3"))
    args = parser.parse_args()
    source, copy = sqlite3.connect(args.database), sqlite3.connect(args.copy)
    source.backup(copy)
    source.close()
    copy.close()
    asyncio.run(measure(f"sqlite:///{args.copy}"))


if __name__ == "__main__":
    main()
