"""Ticket automation (``handoff/automation.yml``): the rules a supervisor configures, and what each decides.

Pure: the rules are frozen values read once at start-up, and every decision is a function of a rule and facts
(a ticket's arrival, how long the customer has been silent, how much of the first-response target is left,
when a callback was made). :mod:`handoff.service.automation` finds the tickets, asks these functions, and
applies what they decide, once per ticket and rule.

Kinds (a fixed vocabulary):

- ``idle_customer``: an assigned conversation whose last word is the agent's, the customer silent ``after``
  seconds: the customer is told ``notice`` and the conversation is resolved.
- ``on_arrival``: when a ticket is opened, if every condition of ``when`` holds, ``set`` its tags, category
  and (at least) priority.
- ``first_response_sla``: a queued or assigned ticket with no agent reply when ``before`` seconds are left of
  the first-response target: its priority is raised to ``priority``, and with ``reroute`` an agent who has it
  and has not answered loses it to the queue (never to get it again).
- ``close_callback``: an out-of-hours ticket whose callback someone marked as made: closed ``after`` seconds
  later.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from handoff.core.errors import SettingsError
from handoff.core.model import Priority

KINDS = ("idle_customer", "on_arrival", "first_response_sla", "close_callback")
CONDITIONS = ("category", "intents", "reasons", "channel", "customer_tier", "keywords")
SETTINGS = ("tags", "category", "priority")
MAX_NAME = 64
ACTOR_PREFIX = "automation:"


def actor(rule: str) -> str:
    """The actor a rule's transition carries in the ticket log: ``automation:<rule>``."""
    return f"{ACTOR_PREFIX}{rule}"


@dataclass(frozen=True)
class Arrival:
    """What an ``on_arrival`` rule may look at: the ticket as it opens.

    Attributes:
        intents: the intents the bot saw (the hand-off request's ``intents`` names).
        reasons: the request's reason codes.
        customer_tier: ``standard`` or ``vip``.
        text: the customer's words the request quotes (its last user message and summary), for keywords.
    """

    category: str | None
    intents: tuple[str, ...]
    reasons: tuple[str, ...]
    channel: str
    customer_tier: str
    text: str


@dataclass(frozen=True)
class ArrivalChanges:
    """What the ``on_arrival`` rules that matched set, and which rules they were (in the file's order)."""

    tags: tuple[str, ...] = ()
    category: str | None = None
    priority: Priority | None = None
    rules: tuple[Rule, ...] = ()


@dataclass(frozen=True)
class Rule:
    """One rule of the file.

    Attributes:
        name: unique; the ticket's history and the transition's actor name it.
        kind: one of :data:`KINDS`.
        enabled: a disabled rule is listed but never acts.
        after: seconds (``idle_customer``: of the customer's silence; ``close_callback``: since the callback).
        before: seconds left of the first-response target (``first_response_sla``).
        notice: what the customer is told (``idle_customer``).
        when: ``on_arrival`` conditions, each a set of accepted values (lower case); all must hold.
        set: ``on_arrival`` settings: ``tags`` (a tuple), ``category`` (a str), ``priority`` (a
            :class:`Priority`).
        priority: the priority ``first_response_sla`` raises a ticket to.
        reroute: ``first_response_sla``: take the ticket from an agent who has not answered.
    """

    name: str
    kind: str
    enabled: bool = True
    after: float | None = None
    before: float | None = None
    notice: str | None = None
    when: Mapping[str, frozenset[str]] = field(default_factory=dict)
    set: Mapping[str, Any] = field(default_factory=dict)
    priority: Priority | None = None
    reroute: bool = False

    def matches(self, arrival: Arrival) -> bool:
        """Whether every condition of an ``on_arrival`` rule holds for the ticket (no conditions: always)."""
        facts: dict[str, set[str]] = {
            "category": {arrival.category.lower()} if arrival.category else set(),
            "intents": {i.lower() for i in arrival.intents}, "reasons": {r.lower() for r in arrival.reasons},
            "channel": {arrival.channel.lower()}, "customer_tier": {arrival.customer_tier.lower()}}
        for condition, accepted in self.when.items():
            if condition == "keywords":
                text = arrival.text.lower()
                if not any(word in text for word in accepted):
                    return False
            elif not facts[condition] & accepted:
                return False
        return True

    def silent_since(self, now: float) -> float:
        """``idle_customer``: the agent's last message is due if written at or before this moment."""
        return now - (self.after or 0.0)

    def created_before(self, now: float, target: float) -> float:
        """``first_response_sla``: a ticket with no reply is due if created at or before this moment (``before``
        seconds or fewer are left of the first-response ``target``)."""
        return now - target + (self.before or 0.0)

    def callback_due(self, callback_sent_at: float, now: float) -> bool:
        """``close_callback``: ``after`` seconds have passed since the callback was made."""
        return now - callback_sent_at >= (self.after or 0.0)

    def describe(self) -> dict[str, str]:
        """The rule in plain words, for the console: ``{"when": ..., "then": ...}``."""
        if self.kind == "idle_customer":
            return {"when": f"the customer has not answered the agent for {_duration(self.after)}",
                    "then": f'tell the customer "{self.notice}" and resolve the conversation'}
        if self.kind == "first_response_sla":
            raise_to = f"raise the priority to {self.priority.name.lower() if self.priority else 'high'}"
            if self.reroute:
                raise_to += "; an agent who has not answered loses the conversation to the queue"
            return {"when": f"no agent has answered {_duration(self.before)} before the first-response target",
                    "then": raise_to}
        if self.kind == "close_callback":
            return {"when": f"{_duration(self.after)} after an out-of-hours ticket's callback was made",
                    "then": "close the ticket"}
        when = "; ".join(_condition_words(condition, values) for condition, values in self.when.items())
        then: list[str] = []
        if self.set.get("tags"):
            then.append(f"tag it {', '.join(self.set['tags'])}")
        if self.set.get("category"):
            then.append(f"set the category to {self.set['category']}")
        if self.set.get("priority") is not None:
            then.append(f"raise the priority to at least {self.set['priority'].name.lower()}")
        return {"when": f"a ticket opens and {when}" if self.when else "a ticket opens", "then": "; ".join(then)}

    def to_json(self) -> dict[str, Any]:
        settings = {key: (value.name.lower() if isinstance(value, Priority) else
                          list(value) if isinstance(value, tuple) else value) for key, value in self.set.items()}
        return {"name": self.name, "kind": self.kind, "enabled": self.enabled, "after": self.after,
                "before": self.before, "notice": self.notice,
                "when": {key: sorted(values) for key, values in self.when.items()}, "set": settings,
                "priority": self.priority.name.lower() if self.priority else None, "reroute": self.reroute,
                **self.describe()}


_LABELS = {"category": "the category", "intents": "the intent", "reasons": "the hand-off reason",
           "channel": "the channel", "customer_tier": "the customer's tier"}


def _condition_words(condition: str, values: frozenset[str]) -> str:
    accepted = " or ".join(sorted(values))
    if condition == "keywords":
        return f"the customer's words contain {accepted}"
    return f"{_LABELS[condition]} is {accepted}"


def _duration(seconds: float | None) -> str:
    seconds = seconds or 0.0
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds:g} seconds"


def arrival_changes(rules: Iterable[Rule], arrival: Arrival) -> ArrivalChanges:
    """What the enabled ``on_arrival`` rules that match set, in the file's order: the tags of all of them
    (each once), the category of the last that sets one, the highest priority any sets."""
    tags: list[str] = []
    category: str | None = None
    priority: Priority | None = None
    matched: list[Rule] = []
    for rule in rules:
        if rule.kind != "on_arrival" or not rule.enabled or not rule.matches(arrival):
            continue
        matched.append(rule)
        tags.extend(tag for tag in rule.set.get("tags", ()) if tag not in tags)
        category = rule.set.get("category") or category
        if (wanted := rule.set.get("priority")) is not None:
            priority = wanted if priority is None else max(priority, wanted)
    return ArrivalChanges(tuple(tags), category, priority, tuple(matched))


@dataclass(frozen=True)
class Rules:
    """The file's rules, in order."""

    rules: tuple[Rule, ...] = ()

    def enabled(self, kind: str) -> list[Rule]:
        return [rule for rule in self.rules if rule.enabled and rule.kind == kind]

    def named(self, name: str) -> Rule | None:
        return next((rule for rule in self.rules if rule.name == name), None)

    @classmethod
    def from_mapping(cls, raw: Any, source: str = "automation", first_response_seconds: float | None = None
                     ) -> Rules:
        """The rules of a parsed YAML document (``{"rules": [...]}``, or nothing: no rules).

        Raises:
            SettingsError: naming the rule (by name, or by its place when it has none) and the field.
        """
        if raw is None:
            return cls()
        if not isinstance(raw, dict) or set(raw) - {"rules"}:
            raise SettingsError(f"{source}: expected a mapping with one key, rules (a list of rules).")
        items = raw.get("rules") or []
        if not isinstance(items, list):
            raise SettingsError(f"{source}: rules must be a list of rules.")
        rules: list[Rule] = []
        for place, item in enumerate(items, 1):
            rule = _rule(item, f"{source}: rule {place}", first_response_seconds)
            if any(other.name == rule.name for other in rules):
                raise SettingsError(f"{source}: rule {rule.name!r}: name: another rule has this name.")
            rules.append(rule)
        return cls(tuple(rules))


_FIELDS = {"name", "kind", "enabled", "after", "before", "notice", "when", "set", "priority", "reroute"}
_NEEDS = {"idle_customer": {"after", "notice"}, "on_arrival": {"set"}, "first_response_sla": {"before"},
          "close_callback": {"after"}}
_ALLOWS = {"idle_customer": {"after", "notice"}, "on_arrival": {"when", "set"},
           "first_response_sla": {"before", "priority", "reroute"}, "close_callback": {"after"}}


def _rule(item: Any, where: str, first_response_seconds: float | None) -> Rule:
    if not isinstance(item, dict):
        raise SettingsError(f"{where}: expected a mapping (name, kind, ...).")
    name = item.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise SettingsError(f"{where}: name: a rule needs a name of 1 to {MAX_NAME} characters.")
    where = f"{where.rsplit(': rule', 1)[0]}: rule {name!r}"
    kind = item.get("kind")
    if kind not in KINDS:
        raise SettingsError(f"{where}: kind: {kind!r} is not one of {', '.join(KINDS)}.")
    unknown = sorted(set(item) - _FIELDS)
    if unknown:
        raise SettingsError(f"{where}: {unknown[0]}: not a field of a rule.")
    for name_of in sorted(_NEEDS[kind] - set(item)):
        raise SettingsError(f"{where}: {name_of}: required for kind {kind}.")
    for name_of in sorted(set(item) - _ALLOWS[kind] - {"name", "kind", "enabled"}):
        raise SettingsError(f"{where}: {name_of}: not a field of kind {kind}.")
    enabled = item.get("enabled", True)
    if not isinstance(enabled, bool):
        raise SettingsError(f"{where}: enabled: true or false, not {enabled!r}.")
    after = _seconds(item, "after", where)
    before = _seconds(item, "before", where)
    if before is not None and first_response_seconds is not None and before >= first_response_seconds:
        raise SettingsError(f"{where}: before: {before:g} seconds is not less than the first-response target "
                            f"({first_response_seconds:g} seconds, HANDOFF_TARGETS).")
    notice = item.get("notice")
    if "notice" in item and (not isinstance(notice, str) or not notice.strip() or len(notice) > 1000):
        raise SettingsError(f"{where}: notice: a text of 1 to 1000 characters for the customer.")
    priority = _priority(item["priority"], where, "priority") if "priority" in item else None
    if kind == "first_response_sla" and priority is None:
        priority = Priority.HIGH
    if kind == "first_response_sla" and priority is Priority.NORMAL:
        raise SettingsError(f"{where}: priority: a raise is to high or urgent.")
    reroute = item.get("reroute", False)
    if not isinstance(reroute, bool):
        raise SettingsError(f"{where}: reroute: true or false, not {reroute!r}.")
    return Rule(name=name.strip(), kind=kind, enabled=enabled, after=after, before=before,
                notice=notice.strip() if isinstance(notice, str) else None,
                when=_conditions(item.get("when"), where), set=_settings(item.get("set"), where),
                priority=priority, reroute=reroute)


def _seconds(item: Mapping[str, Any], key: str, where: str) -> float | None:
    if key not in item:
        return None
    value = item[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise SettingsError(f"{where}: {key}: a positive number of seconds, not {value!r}.")
    return float(value)


def _priority(value: Any, where: str, key: str) -> Priority:
    if not isinstance(value, str) or value.strip().upper() not in Priority.__members__:
        raise SettingsError(f"{where}: {key}: normal, high or urgent, not {value!r}.")
    return Priority[value.strip().upper()]


def _words(value: Any, where: str, key: str) -> tuple[str, ...]:
    """A string or a list of strings, trimmed and lower-cased; none empty."""
    values: Sequence[Any] = [value] if isinstance(value, str) else value if isinstance(value, list) else [None]
    if not values or not all(isinstance(v, str) and v.strip() and len(v) <= 200 for v in values):
        raise SettingsError(f"{where}: {key}: a word or a list of words, not {value!r}.")
    return tuple(dict.fromkeys(v.strip().lower() for v in values))


def _conditions(raw: Any, where: str) -> dict[str, frozenset[str]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SettingsError(f"{where}: when: a mapping of conditions ({', '.join(CONDITIONS)}).")
    for key in raw:
        if key not in CONDITIONS:
            raise SettingsError(f"{where}: when.{key}: not a condition; known: {', '.join(CONDITIONS)}.")
    return {key: frozenset(_words(value, where, f"when.{key}")) for key, value in raw.items()}


def _settings(raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not raw:
        raise SettingsError(f"{where}: set: a mapping of what to set ({', '.join(SETTINGS)}).")
    settings: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "tags":
            settings["tags"] = _words(value, where, "set.tags")
        elif key == "category":
            settings["category"] = _words(value, where, "set.category")[0] if isinstance(value, str) else None
            if settings["category"] is None or len(settings["category"]) > 64:
                raise SettingsError(f"{where}: set.category: one word of at most 64 characters, not {value!r}.")
        elif key == "priority":
            settings["priority"] = _priority(value, where, "set.priority")
        else:
            raise SettingsError(f"{where}: set.{key}: not something a rule sets; known: {', '.join(SETTINGS)}.")
    return settings


def load_rules(path: Path, first_response_seconds: float | None = None) -> Rules:
    """The rules in the YAML file at ``path``, checked against the first-response target.

    Raises:
        SettingsError: the file is missing, not YAML, or a rule is malformed (named, with the field).
    """
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"HANDOFF_AUTOMATION: cannot read {path} ({exc.strerror}).") from None
    except yaml.YAMLError as exc:
        raise SettingsError(f"HANDOFF_AUTOMATION: {path} is not valid YAML ({exc}).") from None
    return Rules.from_mapping(raw, f"HANDOFF_AUTOMATION ({path})", first_response_seconds)
