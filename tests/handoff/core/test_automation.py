"""The automation rules' file: what it accepts, the errors that name the rule and the field, and the pure
decisions (which on_arrival rules match, when a timed rule is due)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from handoff.core.automation import Arrival, Rules, arrival_changes, load_rules
from handoff.core.errors import SettingsError
from handoff.core.model import Priority
from handoff.core.targets import load_targets
from tests.conftest import ROOT


def rules(*items: dict[str, Any], target: float | None = 180.0) -> Rules:
    return Rules.from_mapping({"rules": list(items)}, "automation", target)


def test_the_shipped_rules_load_against_the_shipped_targets() -> None:
    targets = load_targets(ROOT / "handoff" / "targets.yml")
    shipped = load_rules(ROOT / "handoff" / "automation.yml", targets.first_response_seconds)
    assert {rule.kind for rule in shipped.rules} == {"idle_customer", "on_arrival", "first_response_sla",
                                                     "close_callback"}
    sla = next(rule for rule in shipped.rules if rule.kind == "first_response_sla")
    assert sla.before == pytest.approx(targets.first_response_seconds * 0.2)  # raised at 80% of the target


@pytest.mark.parametrize(("item", "error"), [
    ({"kind": "idle_customer", "after": 60, "notice": "Bye"}, "rule 1: name: a rule needs a name"),
    ({"name": "x", "kind": "sometimes"}, "rule 'x': kind: 'sometimes' is not one of idle_customer"),
    ({"name": "x", "kind": "idle_customer", "notice": "Bye"}, "rule 'x': after: required for kind idle_customer"),
    ({"name": "x", "kind": "idle_customer", "after": -5, "notice": "Bye"}, "rule 'x': after: a positive number"),
    ({"name": "x", "kind": "idle_customer", "after": 60, "notice": " "}, "rule 'x': notice: a text of 1 to 1000"),
    ({"name": "x", "kind": "idle_customer", "after": 60, "notice": "Bye", "before": 5},
     "rule 'x': before: not a field of kind idle_customer"),
    ({"name": "x", "kind": "idle_customer", "after": 60, "notice": "Bye", "colour": "red"},
     "rule 'x': colour: not a field of a rule"),
    ({"name": "x", "kind": "on_arrival", "set": {"tags": ["a"]}, "when": {"mood": "sad"}},
     "rule 'x': when.mood: not a condition"),
    ({"name": "x", "kind": "on_arrival", "set": {"owner": "ada"}}, "rule 'x': set.owner: not something a rule sets"),
    ({"name": "x", "kind": "on_arrival", "set": {"priority": "asap"}}, "rule 'x': set.priority: normal, high or "
                                                                       "urgent"),
    ({"name": "x", "kind": "on_arrival", "set": {"tags": [1]}}, "rule 'x': set.tags: a word or a list of words"),
    ({"name": "x", "kind": "on_arrival"}, "rule 'x': set: required for kind on_arrival"),
    ({"name": "x", "kind": "first_response_sla", "before": 200}, "rule 'x': before: 200 seconds is not less than "
                                                                 "the first-response target"),
    ({"name": "x", "kind": "first_response_sla", "before": 30, "priority": "normal"},
     "rule 'x': priority: a raise is to high or urgent"),
    ({"name": "x", "kind": "first_response_sla", "before": 30, "reroute": "yes"}, "rule 'x': reroute: true or false"),
    ({"name": "x", "kind": "close_callback", "after": 60, "enabled": "no"}, "rule 'x': enabled: true or false"),
])
def test_a_malformed_rule_is_refused_naming_rule_and_field(item: dict[str, Any], error: str) -> None:
    with pytest.raises(SettingsError, match=error.replace("(", r"\(")):
        rules(item)


def test_names_are_unique_and_the_file_is_a_list_of_rules(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="rule 'x': name: another rule has this name"):
        rules({"name": "x", "kind": "close_callback", "after": 60}, {"name": "x", "kind": "close_callback",
                                                                      "after": 30})
    with pytest.raises(SettingsError, match="one key, rules"):
        Rules.from_mapping({"rule": []})
    assert Rules.from_mapping(None) == Rules()
    missing = tmp_path / "none.yml"
    with pytest.raises(SettingsError, match="HANDOFF_AUTOMATION: cannot read"):
        load_rules(missing)
    missing.write_text("rules: [")
    with pytest.raises(SettingsError, match="is not valid YAML"):
        load_rules(missing)


def arrival(**facts: Any) -> Arrival:
    base: dict[str, Any] = {"category": "orders", "intents": ("refund_status",), "reasons": ("explicit_request",),
                            "channel": "web", "customer_tier": "standard", "text": "Where is my REFUND?"}
    return Arrival(**{**base, **facts})


def test_on_arrival_rules_match_on_every_condition_and_combine_in_order() -> None:
    found = rules(
        {"name": "refunds", "kind": "on_arrival", "when": {"intents": ["Refund_Status"], "channel": ["web", "email"]},
         "set": {"tags": ["refund"], "priority": "high"}},
        {"name": "vip", "kind": "on_arrival", "when": {"customer_tier": "vip"}, "set": {"priority": "urgent"}},
        {"name": "words", "kind": "on_arrival", "when": {"keywords": ["refund", "money back"]},
         "set": {"tags": ["refund", "words"], "category": "payments"}},
        {"name": "off", "kind": "on_arrival", "enabled": False, "set": {"tags": ["never"]}})
    changes = arrival_changes(found.rules, arrival())
    assert (changes.tags, changes.category, changes.priority) == (("refund", "words"), "payments", Priority.HIGH)
    assert [rule.name for rule in changes.rules] == ["refunds", "words"]
    vip = arrival_changes(found.rules, arrival(customer_tier="vip", text="hello", channel="sms"))
    assert (vip.tags, vip.priority, [r.name for r in vip.rules]) == ((), Priority.URGENT, ["vip"])


def test_the_timed_rules_are_due_at_their_moment() -> None:
    idle, sla, callback = rules(
        {"name": "idle", "kind": "idle_customer", "after": 900, "notice": "Bye"},
        {"name": "sla", "kind": "first_response_sla", "before": 36},
        {"name": "cb", "kind": "close_callback", "after": 86400}).rules
    assert idle.silent_since(10_000) == 9_100
    assert sla.created_before(10_000, 180) == 9_856 and sla.priority is Priority.HIGH
    assert not callback.callback_due(0, 86_399) and callback.callback_due(0, 86_400)


def test_rules_read_in_plain_words() -> None:
    idle, tagging, sla, callback = rules(
        {"name": "idle", "kind": "idle_customer", "after": 900, "notice": "Bye"},
        {"name": "tag", "kind": "on_arrival", "when": {"intents": ["complaint"], "keywords": "refund"},
         "set": {"tags": ["angry"], "priority": "urgent"}},
        {"name": "sla", "kind": "first_response_sla", "before": 36, "reroute": True},
        {"name": "cb", "kind": "close_callback", "after": 86400}).rules
    assert idle.describe() == {"when": "the customer has not answered the agent for 15 minutes",
                               "then": 'tell the customer "Bye" and resolve the conversation'}
    assert tagging.describe() == {
        "when": "a ticket opens and the intent is complaint; the customer's words contain refund",
        "then": "tag it angry; raise the priority to at least urgent"}
    assert sla.describe()["when"] == "no agent has answered 36 seconds before the first-response target"
    assert "loses the conversation to the queue" in sla.describe()["then"]
    assert callback.describe() == {"when": "24 hours after an out-of-hours ticket's callback was made",
                                   "then": "close the ticket"}
    assert tagging.to_json()["set"] == {"tags": ["angry"], "priority": "urgent"}
