"""``python -m handoff capacity``: forecast the contacts, staff each interval, replay a routing change
(docs/capacity.md).

Each action is a module of its own that adds its parser to the ``capacity`` group (``add_parser(group)``) and
sets ``run``: ``run(settings, args)``, a coroutine function, does the work.
"""

from __future__ import annotations

import argparse
import inspect
from typing import Any

from handoff.settings import HandoffSettings

ACTIONS: tuple[str, ...] = ("capacity_forecast", "capacity_plan", "capacity_simulate")
"""The modules of ``handoff.cli`` that each add one ``capacity`` action."""


def add_parsers(sub: Any) -> None:
    import importlib

    group = sub.add_parser("capacity", help="forecast, staffing and routing simulation (docs/capacity.md)")
    actions = group.add_subparsers(dest="action", required=True)
    for name in ACTIONS:
        importlib.import_module(f"handoff.cli.{name}").add_parser(actions)


async def run(settings: HandoffSettings, args: argparse.Namespace) -> int:
    """Run the chosen action; its exit status (0 when it returns nothing)."""
    result = args.run(settings, args)
    if inspect.isawaitable(result):
        result = await result
    return int(result or 0)
