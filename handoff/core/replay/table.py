"""The side-by-side table of a comparison, as ``python -m handoff capacity simulate`` prints it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from handoff.core.replay.history import Contact
from handoff.core.replay.results import Comparison, Spread

ROWS = (("queued", "hand-offs queued", "count"), ("offline", "offline (closed)", "count"),
        ("wait_p50", "wait p50", "seconds"), ("wait_p90", "wait p90", "seconds"),
        ("service_level", "service level", "share"), ("abandonment", "abandonment", "share"),
        ("transfers", "transfers", "count"), ("sticky_hits", "sticky-agent hits", "count"),
        ("sticky_rate", "sticky-agent hit rate", "share"), ("utilisation", "agent utilisation", "share"))
GROUP_ROWS = (("queued", "queued", "count"), ("wait_p50", "wait p50", "seconds"),
              ("wait_p90", "wait p90", "seconds"), ("service_level", "service level", "share"),
              ("abandonment", "abandonment", "share"))


def number(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "share":
        return f"{value:.1%}"
    if unit == "seconds":
        return f"{value:,.0f} s"
    return f"{value:,.0f}" if abs(value - round(value)) < 0.05 or abs(value) >= 100 else f"{value:,.1f}"


def cell(value: Spread | None, unit: str) -> str:
    """``mean (min-max)``; the mean alone when every seed gave the same."""
    if value is None or value.mean is None:
        return "-"
    text = number(value.mean, unit)
    if value.low is not None and value.high is not None and number(value.low, unit) != number(value.high, unit):
        low, high = number(value.low, unit), number(value.high, unit)
        text += f" ({low.removesuffix(' s')}-{high})"
    return text


def _lines(title: str, rows: tuple[tuple[str, str, str], ...], current: Mapping[str, Any],
           candidate: Mapping[str, Any], measured: Mapping[str, Any] | None = None) -> list[str]:
    table = [(label, number(measured.get(key), unit) if measured and key in measured else "",
              cell(current.get(key), unit), cell(candidate.get(key), unit)) for key, label, unit in rows]
    head = (title, "measured" if measured else "", "current", "candidate")
    widths = [max(len(row[i]) for row in (head, *table)) for i in range(4)]
    return ["  ".join(text.ljust(widths[i]) if i == 0 else text.rjust(widths[i]) for i, text in enumerate(row))
            .rstrip() for row in (head, *table)]


def matching(key: Callable[[Contact], str], name: str) -> Callable[[Contact], bool]:
    """Whether a contact's group (by ``key``) is ``name``."""
    return lambda contact: key(contact) == name


def day(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M")


def render(comparison: Comparison) -> str:
    """The comparison as text: the period, then overall, per tier and per category, current next to candidate
    (each ``mean (min-max)`` over the seeds), with the history's measured figures next to them (the period's own
    waits and abandonment: what the current scenario should reproduce when it is the one the period ran with)."""
    history = comparison.history
    target = comparison.target_seconds
    measured = history.measured(target)
    lines = [f"Routing simulator: {day(history.since)} to {day(history.until)} UTC, {len(history.contacts):,} "
             f"hand-offs, {len(comparison.seeds)} seeds",
             f"(mean (min-max) over the seeds; service level: assigned within {comparison.target_seconds:g} s)", ""]
    lines += _lines("overall", ROWS, comparison.current["overall"], comparison.candidate["overall"], measured)
    keys: dict[str, Callable[[Contact], str]] = {"tiers": lambda c: str(c.tier),
                                                  "categories": lambda c: c.category or "-"}
    for group, label in (("tiers", "tier"), ("categories", "category")):
        names = sorted(set(comparison.current[group]) | set(comparison.candidate[group]))
        for name in names:
            mine = history.measured(target, matching(keys[group], name))
            lines += ["", *_lines(f"{label} {name}", GROUP_ROWS, comparison.current[group].get(name, {}),
                                  comparison.candidate[group].get(name, {}), mine)]
    agents = sorted(set(comparison.current["agents"]) | set(comparison.candidate["agents"]))
    if agents:
        lines += ["", *_lines("utilisation by agent", tuple((a, comparison.names.get(a, a), "share") for a in agents),
                              comparison.current["agents"], comparison.candidate["agents"])]
    return "\n".join(lines)
