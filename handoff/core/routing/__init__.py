"""Routing: which agent gets a waiting conversation, composed from the routing configuration.

One interface (:class:`~handoff.core.routing.base.Strategy`), a table from short
names to strategies (:data:`STRATEGIES`, like kombu's cycle aliases), and one
resolver (:func:`build_router`). The configuration (``handoff/routing.yml`` by
default)::

    strategies:                 # run in this order, each on the agents the previous ones kept
      - {name: schedule, weight: 1}
      - {name: tier, weight: 2, options: {overflow_after_seconds: 300}}
    business_hours: {timezone: Europe/Berlin, hours: {mon: "09:00-18:00"}}
    queue: {aging_seconds: 300}

Everything here is pure; only :func:`load_routing_config` reads a file.
"""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike
from typing import Any

import yaml

from handoff.core.errors import RoutingConfigError
from handoff.core.queue import DEFAULT_AGING_SECONDS, QueueOrder
from handoff.core.routing.base import Options, Strategy
from handoff.core.routing.profile import ProfileStrategy
from handoff.core.routing.router import Router
from handoff.core.routing.schedule import BusinessHours, ScheduleStrategy
from handoff.core.routing.tier import TierStrategy
from handoff.core.routing.workload import WorkloadStrategy

__all__ = ["STRATEGIES", "BusinessHours", "Router", "Strategy", "build_business_hours", "build_queue_order",
           "build_router", "load_routing_config"]

STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls for cls in (ProfileStrategy, WorkloadStrategy, TierStrategy, ScheduleStrategy)
}
"""Short name (as written in the configuration) -> strategy class."""

SECTIONS = ("strategies", "business_hours", "queue")
ENTRY_KEYS = ("name", "weight", "options")


def _check_sections(config: Mapping[str, Any]) -> None:
    if not isinstance(config, Mapping):
        raise RoutingConfigError("The routing configuration must be a mapping of sections.")
    unknown = sorted(str(key) for key in config if key not in SECTIONS)
    if unknown:
        raise RoutingConfigError(f"The routing configuration has no section {unknown[0]!r} "
                                 f"(valid sections: {', '.join(SECTIONS)}).")


def _build_strategy(position: int, entry: Any, seen: set[str]) -> tuple[Strategy, float]:
    valid = ", ".join(sorted(STRATEGIES))
    if not isinstance(entry, Mapping) or "name" not in entry:
        raise RoutingConfigError(f"Routing strategy #{position} must be a mapping with a name (one of: {valid}).")
    name = entry["name"]
    if name not in STRATEGIES:
        raise RoutingConfigError(f"Unknown routing strategy {name!r} (valid names: {valid}).")
    if name in seen:
        raise RoutingConfigError(f"Routing strategy {name!r} is named twice.")
    seen.add(name)
    Options(name, {k: v for k, v in entry.items() if k != "name"}, ENTRY_KEYS[1:], kind="entry of routing strategy")
    weight = Options(name, {"weight": entry.get("weight", 1.0)}, ("weight",)).number("weight", 1.0)
    strategy: Strategy = STRATEGIES[name].from_options(entry.get("options") or {})
    return strategy, weight


def build_router(config: Mapping[str, Any]) -> Router:
    """Build the router the configuration's ``strategies`` section describes.

    Each entry: ``name`` (one of :data:`STRATEGIES`), ``weight`` (a number >= 0, default 1), ``options``
    (the strategy's options).

    Raises:
        RoutingConfigError: an unknown section, strategy name or option, a bad weight or option value,
            no strategy at all; the message names the valid names.
    """
    _check_sections(config)
    entries = config.get("strategies")
    if not isinstance(entries, list) or not entries:
        raise RoutingConfigError("The routing configuration needs a non-empty list 'strategies' "
                                 f"(valid names: {', '.join(sorted(STRATEGIES))}).")
    seen: set[str] = set()
    return Router([_build_strategy(position, entry, seen) for position, entry in enumerate(entries, start=1)])


def build_business_hours(config: Mapping[str, Any]) -> BusinessHours:
    """The business hours of the configuration's ``business_hours`` section (absent: open 24/7)."""
    _check_sections(config)
    return BusinessHours.from_options(config.get("business_hours"))


def build_queue_order(config: Mapping[str, Any]) -> QueueOrder:
    """The hold-queue order of the configuration's ``queue`` section (``aging_seconds``, default 300)."""
    _check_sections(config)
    reader = Options("queue", config.get("queue"), ("aging_seconds",), kind="routing section")
    return QueueOrder(reader.number("aging_seconds", DEFAULT_AGING_SECONDS, minimum=1.0))


def load_routing_config(path: str | PathLike[str]) -> dict[str, Any]:
    """Read a routing configuration file (YAML) into a dictionary, without building it.

    Raises:
        RoutingConfigError: the file cannot be read, is not YAML, or is not a mapping.
    """
    try:
        with open(path, encoding="utf-8") as stream:
            config = yaml.safe_load(stream)
    except OSError as exc:
        raise RoutingConfigError(f"Cannot read the routing configuration {path}: {exc.strerror}.") from exc
    except yaml.YAMLError as exc:
        raise RoutingConfigError(f"The routing configuration {path} is not valid YAML: {exc}") from exc
    if not isinstance(config, dict):
        raise RoutingConfigError(f"The routing configuration {path} must be a mapping of sections.")
    return config
