"""Alert rules (``handoff/alerts.yml``) and their state machine. Pure: no clock, no I/O.

A rule watches one metric of the service (:data:`METRICS`, measured by :mod:`handoff.service.alerts`) and
compares it with a threshold, a number or one of the team's targets (:class:`handoff.core.targets.Targets`)::

    ok ──breach──▶ pending ──held `for` seconds──▶ firing ──clear──▶ ok
     ▲                │                              │ └─still breached, `repeat` seconds since the last
     └────clear───────┘ (nothing sent)               │   notification──▶ firing (a reminder is sent)
                                                     └─ "fire" when it starts, "resolve" when it clears

:func:`step` is the whole machine: the rule, its state, the value measured now, the threshold, the time, in;
the next state and what to notify (``fire``, ``repeat``, ``resolve`` or nothing) out. An unknown value (no
data: an empty sample) changes nothing, so a rule neither fires nor resolves on a lack of evidence.

How it can fail: a metric that hovers at the threshold flaps; ``for`` is what absorbs it (a breach must hold
that long before anything is sent), and a rule that clears while pending sends nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from handoff.core.errors import SettingsError
from handoff.core.targets import Targets


@dataclass(frozen=True)
class Metric:
    """One measurable figure: what it is, its unit, and which of ``window`` / ``sample`` it reads."""

    description: str
    unit: str
    window: bool = False
    sample: bool = False


METRICS: dict[str, Metric] = {
    "queue_wait_p90": Metric("90th percentile of how long the conversations in the queue now have waited "
                             "(now - queued_at); 0 with an empty queue", "seconds"),
    "queue_wait_max": Metric("the longest wait of a conversation in the queue now; 0 with an empty queue",
                             "seconds"),
    "queue_length": Metric("conversations waiting in the queue now", "conversations"),
    "csat_average": Metric("mean of the last `sample` customer ratings (feedback of kind csat, 1-5); unknown "
                           "with fewer than `min_sample` ratings", "rating", sample=True),
    "handoff_rate": Metric("of the conversations started in the last `window` seconds, the share handed to a "
                           "person (a transition from bot to queued); unknown with fewer than `min_sample` "
                           "conversations", "share", window=True),
    "first_response_sla": Metric("of the tickets created in the last `window` seconds that got a first "
                                 "response, the share that got it within the target first_response_seconds; "
                                 "unknown with fewer than `min_sample` tickets", "share", window=True),
    "agents_offline_with_conversations": Metric("agents holding conversations while not online (away or "
                                                "offline)", "agents"),
    "agents_online": Metric("agents online now", "agents"),
    "understaffed_intervals_tomorrow": Metric(
        "open half-hour intervals of tomorrow (in the business hours' timezone) where the agents on shift are "
        "fewer than Erlang A requires (Erlang C when nobody abandoned) to answer the target sla_attainment "
        "share within queue_wait_seconds, at 85% occupancy and 30% shrinkage; demand, handle time and patience "
        "measured on the last `window` (default 1h: set 28d); unknown with fewer than `min_sample` contacts in "
        "it; recomputed every hour", "intervals", window=True),
}
COMPARISONS = ("above", "below")
SEVERITIES = ("info", "warning", "critical")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def seconds(raw: Any) -> float:
    """A duration: a number of seconds, or ``"90s"``, ``"5m"``, ``"1h"``, ``"1d"``.

    Raises:
        ValueError: anything else, or a negative duration.
    """
    if isinstance(raw, bool):
        raise ValueError(f"{raw!r} is not a duration")
    if isinstance(raw, int | float):
        if raw < 0:
            raise ValueError(f"{raw!r} is negative")
        return float(raw)
    match = _DURATION.match(str(raw))
    if match is None:
        raise ValueError(f"{raw!r} is not a duration (seconds, or a number with s, m, h or d)")
    return float(match.group(1)) * _UNITS[match.group(2)]


@dataclass(frozen=True)
class Rule:
    """One alert rule, as ``alerts.yml`` describes it (docs/alerts.md)."""

    name: str
    metric: str
    comparison: str
    threshold: float | None = None
    target: str | None = None
    for_seconds: float = 0.0
    repeat_seconds: float = 0.0
    window_seconds: float = 3600.0
    sample: int = 50
    min_sample: int = 1
    severity: str = "warning"
    description: str = ""
    webhooks: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()

    def limit(self, targets: Targets) -> float:
        """The threshold: the number, or the target's value now."""
        if self.target is not None:
            return float(getattr(targets, self.target))
        assert self.threshold is not None  # parse_rule ensures one of the two
        return self.threshold

    def breached(self, value: float, limit: float) -> bool:
        return value > limit if self.comparison == "above" else value < limit

    def to_json(self, targets: Targets) -> dict[str, Any]:
        metric = METRICS[self.metric]
        return {"name": self.name, "metric": self.metric, "unit": metric.unit, "comparison": self.comparison,
                "threshold": self.limit(targets), "target": self.target, "for_seconds": self.for_seconds,
                "repeat_seconds": self.repeat_seconds,
                "window_seconds": self.window_seconds if metric.window else None,
                "sample": self.sample if metric.sample else None,
                "min_sample": self.min_sample if metric.sample or metric.window else None,
                "severity": self.severity, "description": self.description,
                "channels": {"webhooks": len(self.webhooks), "emails": list(self.emails)}}


def _fail(source: str, rule: str, field: str, sentence: str) -> SettingsError:
    return SettingsError(f"{source}: rule {rule!r}, {field}: {sentence}")


def _duration(raw: dict[str, Any], key: str, default: float, source: str, name: str) -> float:
    try:
        return seconds(raw.get(key, default))
    except ValueError as exc:
        raise _fail(source, name, key, f"{exc}.") from None


def _count(raw: dict[str, Any], key: str, default: int, source: str, name: str) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(source, name, key, f"a whole number of 1 or more, not {value!r}.")
    return value


def _threshold(raw: dict[str, Any], comparison: str, source: str, name: str) -> tuple[float | None, str | None]:
    value = raw[comparison]
    if isinstance(value, str):
        target = value.removeprefix("target:").strip()
        known = [f.name for f in fields(Targets)]
        if target not in known:
            raise _fail(source, name, comparison, f"{value!r} is neither a number nor a target; targets: "
                        f"{', '.join(known)}.")
        return None, target
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(source, name, comparison, f"a number or a target's name, not {value!r}.")
    return float(value), None


def _channels(raw: dict[str, Any], source: str, name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    channels = raw.get("channels") or {}
    if not isinstance(channels, dict) or set(channels) - {"webhooks", "emails"}:
        raise _fail(source, name, "channels", "a mapping with `webhooks` (URLs) and `emails` (addresses).")
    webhooks, emails = channels.get("webhooks") or [], channels.get("emails") or []
    if not isinstance(webhooks, list) or not all(isinstance(u, str) and u.startswith(("http://", "https://"))
                                                 for u in webhooks):
        raise _fail(source, name, "channels.webhooks", "a list of http:// or https:// URLs.")
    if not isinstance(emails, list) or not all(isinstance(e, str) and _EMAIL.match(e) for e in emails):
        raise _fail(source, name, "channels.emails", "a list of e-mail addresses.")
    return tuple(webhooks), tuple(emails)


KNOWN_KEYS = {"name", "metric", "above", "below", "for", "repeat", "window", "sample", "min_sample", "severity",
              "description", "channels"}


def parse_rule(raw: Any, source: str, index: int) -> Rule:
    """One rule from its YAML mapping.

    Raises:
        SettingsError: naming the rule (or its place in the list) and the field.
    """
    if not isinstance(raw, dict):
        raise SettingsError(f"{source}: rule #{index + 1} is not a mapping.")
    name = raw.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_.-]{0,63}", name):
        raise SettingsError(f"{source}: rule #{index + 1}, name: a short name of lower-case letters, digits, "
                            f"'_', '.' or '-', not {name!r}.")
    if unknown := sorted(set(raw) - KNOWN_KEYS):
        raise _fail(source, name, unknown[0], f"unknown field; the fields are {', '.join(sorted(KNOWN_KEYS))}.")
    metric = raw.get("metric")
    if metric not in METRICS:
        raise _fail(source, name, "metric", f"{metric!r} is not a metric; metrics: {', '.join(METRICS)}.")
    comparisons = [c for c in COMPARISONS if c in raw]
    if len(comparisons) != 1:
        raise _fail(source, name, "above/below", "exactly one of `above` or `below`, with a number or a target.")
    threshold, target = _threshold(raw, comparisons[0], source, name)
    severity = raw.get("severity", "warning")
    if severity not in SEVERITIES:
        raise _fail(source, name, "severity", f"one of {', '.join(SEVERITIES)}, not {severity!r}.")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise _fail(source, name, "description", "a sentence.")
    window = _duration(raw, "window", 3600.0, source, name)
    if window <= 0:
        raise _fail(source, name, "window", "a positive duration.")
    sample, min_sample = _count(raw, "sample", 50, source, name), _count(raw, "min_sample", 1, source, name)
    if min_sample > sample and METRICS[metric].sample:
        raise _fail(source, name, "min_sample", f"at most the sample ({sample}).")
    webhooks, emails = _channels(raw, source, name)
    return Rule(name=name, metric=metric, comparison=comparisons[0], threshold=threshold, target=target,
                for_seconds=_duration(raw, "for", 0.0, source, name),
                repeat_seconds=_duration(raw, "repeat", 0.0, source, name), window_seconds=window,
                sample=sample, min_sample=min_sample, severity=severity, description=description.strip(),
                webhooks=webhooks, emails=emails)


def parse_rules(raw: Any, source: str = "alerts") -> tuple[Rule, ...]:
    """The rules of a parsed ``alerts.yml`` (``{"rules": [...]}``; empty or missing: none).

    Raises:
        SettingsError: a malformed rule (naming it and the field), or two rules of one name.
    """
    if raw is None:
        return ()
    if not isinstance(raw, dict) or set(raw) - {"rules"}:
        raise SettingsError(f"{source}: expected a mapping with one key, `rules`: a list of rules.")
    items = raw.get("rules") or []
    if not isinstance(items, list):
        raise SettingsError(f"{source}: `rules` must be a list of rules.")
    rules = tuple(parse_rule(item, source, index) for index, item in enumerate(items))
    names = [rule.name for rule in rules]
    if duplicate := next((n for n in names if names.count(n) > 1), None):
        raise SettingsError(f"{source}: rule {duplicate!r}, name: two rules have this name.")
    return rules


def load_rules(path: Path) -> tuple[Rule, ...]:
    """The rules in the YAML file at ``path``.

    Raises:
        SettingsError: the file is missing, not YAML, or holds a malformed rule.
    """
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"HANDOFF_ALERTS: cannot read {path} ({exc.strerror}).") from None
    except yaml.YAMLError as exc:
        raise SettingsError(f"HANDOFF_ALERTS: {path} is not valid YAML ({exc}).") from None
    return parse_rules(raw, f"HANDOFF_ALERTS ({path})")


# ---- the state machine ------------------------------------------------------------------------------------


class Phase(StrEnum):
    OK = "ok"
    PENDING = "pending"  # breached, not yet for long enough
    FIRING = "firing"


class Notice(StrEnum):
    """What a step tells the rule's channels."""

    FIRE = "fire"
    REPEAT = "repeat"
    RESOLVE = "resolve"


@dataclass(frozen=True)
class AlertState:
    """Where a rule is. ``since``: when it became pending (pending) or fired (firing); ``notified``: the last
    notification (firing); ``value``: the last known value."""

    phase: Phase = Phase.OK
    since: float | None = None
    notified: float | None = None
    value: float | None = None


def step(rule: Rule, state: AlertState, value: float | None, limit: float,
         now: float) -> tuple[AlertState, Notice | None]:
    """The rule's next state with ``value`` measured at ``now`` against ``limit``, and what to notify."""
    if value is None:
        return state, None
    if not rule.breached(value, limit):
        if state.phase is Phase.FIRING:
            return AlertState(value=value), Notice.RESOLVE
        return AlertState(value=value), None
    if state.phase is Phase.OK:
        state = AlertState(Phase.PENDING, since=now, value=value)
    if state.phase is Phase.PENDING:
        assert state.since is not None
        if now - state.since >= rule.for_seconds:
            return AlertState(Phase.FIRING, since=now, notified=now, value=value), Notice.FIRE
        return replace(state, value=value), None
    assert state.notified is not None
    if rule.repeat_seconds > 0 and now - state.notified >= rule.repeat_seconds:
        return replace(state, notified=now, value=value), Notice.REPEAT
    return replace(state, value=value), None
