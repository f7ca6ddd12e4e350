"""``python -m handoff capacity simulate``: replay a past period through a candidate routing configuration and
roster, next to the current ones (docs/capacity.md, "Routing simulator")::

    python -m handoff capacity simulate --since 2026-11-02 --until 2026-11-09 --routing candidate.yml
    python -m handoff capacity simulate --since 2026-11-02 --until 2026-11-09 --roster roster.yml --seeds 10 --json
    python -m handoff capacity simulate --since 2026-11-02 --until 2026-11-09 --demo --routing candidate.yml

The current scenario is the service's routing configuration (``HANDOFF_ROUTING``) and the ticket log's active
agents with their profiles (capacity, tiers, languages, skills, shift; no shift: always on). ``--demo``: the
team and business hours the demo history was played with instead (handoff/cli/demo.py), which no profile
records (and a candidate configuration without business hours gets the demo's too). The candidate is
``--routing`` and ``--roster`` (each defaults to the current one).
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, time
from pathlib import Path
from typing import Any

import yaml

from handoff.core.errors import BadRequest
from handoff.core.model import DESK_ROLES, AgentId, ShiftWindow
from handoff.settings import HandoffSettings


def add_parser(group: Any) -> None:
    parser = group.add_parser("simulate", help="replay a past period through a candidate routing and roster")
    parser.add_argument("--since", required=True, help="first day of the period (YYYY-MM-DD, UTC)")
    parser.add_argument("--until", required=True, help="the day after the last (YYYY-MM-DD, UTC; excluded)")
    parser.add_argument("--routing", type=Path, help="candidate routing configuration (handoff/routing.yml's format)")
    parser.add_argument("--roster", type=Path, help="candidate roster (YAML: docs/capacity.md)")
    parser.add_argument("--seeds", type=int, default=5, help="runs per scenario (default 5)")
    parser.add_argument("--demo", action="store_true",
                        help="current team and business hours: the demo history's (handoff/cli/demo.py)")
    parser.add_argument("--json", action="store_true", help="the figures as JSON")
    parser.set_defaults(run=run)


def day(text: str, name: str) -> float:
    """Midnight (UTC) of a ``YYYY-MM-DD`` date, in seconds since the epoch."""
    try:
        if len(text) != 10:
            raise ValueError(text)
        return datetime.fromisoformat(text + "T00:00:00+00:00").timestamp()
    except ValueError:
        raise BadRequest(f"--{name} must be a date (2026-11-01), not {text[:40]!r}.") from None


def read_yaml(path: Path, what: str) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadRequest(f"Cannot read the {what} {path}: {exc.strerror}.") from exc
    except yaml.YAMLError as exc:
        raise BadRequest(f"The {what} {path} is not valid YAML: {exc}") from exc


def team_roster(accounts: list[Any], demo: bool) -> Any:
    """The current roster: the active agents with their profiles; with ``demo``, the demo team's shifts."""
    from handoff.cli.demo import SHIFTS
    from handoff.core.replay import Roster, RosterAgent

    def clock(hours: float) -> time:
        return time(0) if hours >= 24 else time(int(hours), round(hours % 1 * 60))

    agents = []
    for account in accounts:
        shift, timezone = account.shift, account.timezone
        if demo:
            if account.username not in SHIFTS:
                continue
            shift = tuple(ShiftWindow(weekday, clock(start), clock(end))
                          for weekday, (start, end) in sorted(SHIFTS[account.username].items()))
            timezone = "UTC"
        agents.append(RosterAgent(account.agent_id, account.capacity, account.tiers, account.languages,
                                  account.skills, shift, timezone, account.username))
    if not agents:
        raise BadRequest("The ticket log has no active agent: give a roster with --roster.")
    return Roster(tuple(agents))


def by_username(roster: Any, accounts: list[Any]) -> Any:
    """The roster with usernames of the ticket log's agents replaced by their ids (sticky routing knows ids)."""
    from dataclasses import replace

    from handoff.core.replay import Roster

    ids = {account.username: account.agent_id for account in accounts}
    return Roster(tuple(replace(agent, agent_id=AgentId(ids.get(agent.agent_id, agent.agent_id)))
                        for agent in roster.agents))


async def run(settings: HandoffSettings, args: argparse.Namespace) -> int:
    from handoff.adapters.tickets import TicketLog
    from handoff.cli.demo import HOURS
    from handoff.core.replay import Scenario, compare, render, roster_from_config
    from handoff.core.routing import load_routing_config
    from handoff.core.targets import load_targets

    since, until = day(args.since, "since"), day(args.until, "until")
    if since >= until:
        raise BadRequest("The period is empty: --since must come before --until.")
    if args.seeds < 1:
        raise BadRequest("--seeds must be at least 1.")
    if args.routing is None and args.roster is None and not args.json:
        print("(no --routing or --roster: the candidate is the current configuration and team)")
    current_config = load_routing_config(settings.routing_config)
    if args.demo:
        current_config = {**current_config, "business_hours": HOURS}
    candidate_config = load_routing_config(args.routing) if args.routing else current_config
    if args.demo and "business_hours" not in candidate_config:
        candidate_config = {**candidate_config, "business_hours": HOURS}
    log = await TicketLog.open(settings.database_url)
    try:
        accounts = [a for a in await log.people.list_agents(active_only=True) if a.role in DESK_ROLES]
        history = await log.replay.history(since, until)
    finally:
        await log.close()
    current_roster = team_roster(accounts, args.demo)
    candidate_roster = by_username(roster_from_config(read_yaml(args.roster, "roster")), accounts) \
        if args.roster else current_roster
    comparison = compare(history, Scenario.from_config(current_config, current_roster),
                         Scenario.from_config(candidate_config, candidate_roster), seeds=args.seeds,
                         target_seconds=load_targets(settings.targets_config).queue_wait_seconds)
    if args.json:
        print(json.dumps(comparison.as_dict(), indent=2))
    else:
        print(render(comparison))
    return 0
