"""Benchmark of the routing simulator (handoff/core/replay): a week of 10,000 hand-offs and 50 agents.

The week is synthetic, shaped like the demo history (handoff/cli/demo.py: arrivals by hour of day and day of
week, one customer in four returning, tiers 1-3, six categories, handle times around seven minutes, one in ten
customers giving up, one in twelve transferred), and so is the team: 50 agents in four daily shifts with mixed
tiers, languages and skills. One run replays it through handoff/routing.yml with one seed (the median of
``--repeat`` runs), then once with a third of the team, so that queues build and every freed slot walks them;
the target is under 30 s for each. The baseline, measured in the same run: the routing decisions
alone, as many ``Router.route`` calls as the replay made on a fixed snapshot of the 50 agents, so the ratio is
what the simulator costs beyond routing itself. Then the whole command's work: both scenarios, five seeds.
Writes the section "Routing simulator" of docs/benchmarks.md (``--doc``; ``-`` prints it only).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from handoff.cli.demo import HOURLY, WEEKDAY
from handoff.core.model import (
    AgentId,
    ConversationId,
    CustomerId,
    CustomerProfile,
    Presence,
    Priority,
    ShiftWindow,
    WaitingConversation,
    moment,
)
from handoff.core.replay import Contact, History, Replay, Roster, RosterAgent, Scenario, compare, run_figures
from handoff.core.routing import load_routing_config
from scripts.benchmarks.report import write_section

ROOT = Path(__file__).resolve().parent.parent
MONDAY = datetime(2026, 11, 2, tzinfo=UTC)
LIMIT = 30.0
CATEGORIES = ("orders", "payments", "shipping", "returns", "accounts", "products")
SHIFTS = ((0, 8), (6, 14), (10, 18), (16, 24))


def week(contacts: int, seed: int = 7) -> History:
    """``contacts`` hand-offs over the week from MONDAY, shaped like the demo's."""
    rng = random.Random(seed)
    slots = [(d, h, WEEKDAY[d] * HOURLY[h]) for d in range(7) for h in range(24)]
    customers = [CustomerId(f"cu_{n}") for n in range(contacts * 3 // 4)]
    rows = []
    for number, (d, h, _) in enumerate(rng.choices(slots, [w for _, _, w in slots], k=contacts)):
        at = (MONDAY + timedelta(days=d, hours=h)).timestamp() + rng.uniform(0, 3600)
        gave_up = rng.random() < 0.1
        rows.append(Contact(
            number, rng.choice(customers), at, tier=rng.choices((1, 2, 3), (6, 3, 1))[0],
            category=rng.choice(CATEGORIES), priority=Priority.HIGH if rng.random() < 0.15 else Priority.NORMAL,
            language=rng.choices(("en", "de", "sv"), (8, 1, 1))[0], status="abandoned" if gave_up else "resolved",
            wait=None if gave_up else rng.expovariate(1 / 45), gave_up_after=rng.lognormvariate(5.5, 0.8)
            if gave_up else None, handle_seconds=None if gave_up else rng.lognormvariate(6.0, 0.5),
            transfers=int(not gave_up and rng.random() < 0.08)))
    rows.sort(key=lambda c: c.created_at)
    return History(MONDAY.timestamp(), (MONDAY + timedelta(days=7)).timestamp(), tuple(rows))


def team(agents: int) -> Roster:
    """``agents`` agents in four daily shifts (one at night), every day, with mixed tiers, languages and skills."""
    roster = []
    for n in range(agents):
        start, end = SHIFTS[n % 4]
        tiers = frozenset(range(1, 2 + n // 4 % 3))
        languages = frozenset({"en", ("de", "sv", "en")[n % 3]})
        skills = frozenset({CATEGORIES[n % 6], CATEGORIES[(n + 2) % 6]})
        shift = tuple(ShiftWindow(d, clock(start), clock(end % 24)) for d in range(7))
        roster.append(RosterAgent(AgentId(f"a_{n:02d}"), 3, tiers, languages, skills, shift, "UTC"))
    return Roster(tuple(roster))


def decisions_alone(scenario: Scenario, history: History, count: int) -> float:
    """Seconds for ``count`` routing decisions on a fixed snapshot: every agent online, a third of them with
    one conversation, at the hand-offs' own moments."""
    agents = [replace(a.snapshot(), presence=Presence.ONLINE, load=n % 3 == 0)
              for n, a in enumerate(scenario.roster.agents)]
    conversations = [(WaitingConversation(ConversationId(str(c.ticket_id)), CustomerProfile(c.customer_id, c.language), c.priority,
                                          c.tier, c.category, c.created_at), moment(c.created_at + 30))
                      for c in history.contacts]
    started = time.perf_counter()
    for n in range(count):
        conversation, when = conversations[n % len(conversations)]
        scenario.router.route(conversation, agents, when)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3, help="runs of the replay; the median counts")
    parser.add_argument("--seeds", type=int, default=5, help="seeds of the whole comparison")
    parser.add_argument("--doc", default=str(ROOT / "docs" / "benchmarks.md"), help="- prints the section only")
    args = parser.parse_args()
    history, roster = week(args.contacts), team(args.agents)
    config = load_routing_config(ROOT / "handoff" / "routing.yml")
    scenario = Scenario.from_config(config, roster)
    times, decisions = [], 0
    for _ in range(args.repeat):
        replay = Replay(history, scenario, 0)
        started = time.perf_counter()
        out = replay.run()
        times.append(time.perf_counter() - started)
        decisions = replay.decisions
    one = statistics.median(times)
    short = Scenario.from_config(config, Roster(roster.agents[:args.agents // 3]))  # queues build: full walks
    started = time.perf_counter()
    busy = Replay(history, short, 0)
    busy_figures = run_figures(busy.run(), 120.0)["overall"]
    busy_seconds = time.perf_counter() - started
    baseline = decisions_alone(scenario, history, decisions)
    lighter = Scenario.from_config({**config, "strategies": [s for s in config["strategies"]
                                                              if s["name"] != "profile"]}, roster)
    started = time.perf_counter()
    comparison = compare(history, scenario, lighter, seeds=args.seeds)
    whole = time.perf_counter() - started
    figures = comparison.current["overall"]
    served = sum(p.wait is not None for p in out.contacts)
    verdict = "meets" if max(one, busy_seconds) < LIMIT else "MISSES"
    lines = [
        "## Routing simulator", "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()} ({platform.python_implementation()} "
        f"{platform.python_version()}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores), by "
        "`scripts/bench_simulation.py` (`make bench`). A synthetic week shaped "
        f"like the demo history: {args.contacts:,} hand-offs, {args.agents} agents in four daily shifts, "
        "replayed through handoff/routing.yml (docs/capacity.md, \"Routing simulator\").", "",
        "| what | seconds | |",
        "|---|---:|---|",
        f"| one replay (one seed; median of {args.repeat}) | {one:.2f} | {verdict} the target of {LIMIT:g} s; "
        f"{decisions:,} routing decisions, {served:,} hand-offs assigned |",
        f"| baseline: the same {decisions:,} routing decisions alone (`Router.route`, fixed snapshot) | "
        f"{baseline:.2f} | the replay takes {one / baseline:.2f}x its routing decisions |",
        f"| one replay with a third of the team ({args.agents // 3} agents): queues build | {busy_seconds:.2f} | "
        f"{busy.decisions:,} routing decisions; wait p90 {busy_figures['wait_p90'] or 0:.0f} s, abandonment "
        f"{busy_figures['abandonment'] or 0:.1%} |",
        f"| the command's work: two scenarios x {args.seeds} seeds (full team) | {whole:.2f} | |", "",
        f"The replay's figures (current configuration): wait p50 {figures['wait_p50'].mean:.0f} s, p90 "
        f"{figures['wait_p90'].mean:.0f} s, abandonment {figures['abandonment'].mean:.1%}, utilisation "
        f"{figures['utilisation'].mean:.1%}.", ""]
    if args.doc == "-":
        print("\n".join(lines))
    else:
        write_section(Path(args.doc), "## Routing simulator", lines)
        print("\n".join(lines))
    return 0 if max(one, busy_seconds) < LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
