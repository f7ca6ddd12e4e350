"""``python -m handoff topics``: find what sent customers to a person in a period, now (docs/insights.md).

    python -m handoff topics                                  # this week (Monday 00:00 UTC on)
    python -m handoff topics --week 2026-W49
    python -m handoff topics --since 2026-11-30 --until 2026-12-07

Progress goes to standard error; the topics (JSON) to standard output. The run is kept as the period's topics
(replacing an earlier run over the same period), which the console shows and routing uses.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

from handoff.core.errors import BadRequest
from handoff.settings import HandoffSettings


def add_parsers(sub: Any) -> None:
    parser = sub.add_parser("topics", help="find the topics of the conversations handed off or rated low")
    parser.add_argument("--week", help="an ISO week, e.g. 2026-W49 (default: this week)")
    parser.add_argument("--since", type=day, help="first day, YYYY-MM-DD (UTC), with --until")
    parser.add_argument("--until", type=day, help="the day after the last, YYYY-MM-DD (UTC)")


def day(raw: str) -> datetime:
    try:
        return datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a day such as 2026-11-30") from None


async def run(settings: HandoffSettings, args: argparse.Namespace) -> None:
    from handoff.service.insights import parse_week, week_of
    from handoff.service.wiring import open_service

    if (args.since is None) != (args.until is None):
        raise BadRequest("Give both --since and --until, or neither.")
    if args.since is not None:
        since, until = args.since, args.until
        if until <= since:
            raise BadRequest("--until must come after --since.")
    else:
        since, until = parse_week(args.week) if args.week else week_of(datetime.now(UTC))
    service = await open_service(settings, serving=False)
    try:
        result = await service.insights.find_topics(since, until, progress=lambda line: print(line, file=sys.stderr))
        print(json.dumps(result, indent=2, ensure_ascii=False))
    finally:
        await service.close()
