"""The alert rules' format and their state machine, on a fake clock (plain numbers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from handoff.core.alerting import METRICS, AlertState, Notice, Phase, Rule, load_rules, parse_rules, seconds, step
from handoff.core.errors import SettingsError
from handoff.core.targets import Targets
from tests.conftest import ROOT

RULE = Rule(name="queue-wait", metric="queue_wait_p90", comparison="above", threshold=120.0, for_seconds=300.0,
            repeat_seconds=600.0)


def run(rule: Rule, samples: list[tuple[float, float | None]]) -> list[tuple[float, Notice]]:
    """Step the rule through ``(time, value)`` samples; the notices, with their times."""
    state, notices = AlertState(), []
    for now, value in samples:
        state, notice = step(rule, state, value, rule.limit(Targets()), now)
        if notice is not None:
            notices.append((now, notice))
    return notices


def test_step_fires_once_after_for_then_repeats_at_the_interval_then_resolves() -> None:
    samples = [(t, 200.0) for t in range(0, 1500, 60)] + [(1500.0, 100.0), (1560.0, 100.0)]
    assert run(RULE, samples) == [(300, Notice.FIRE), (900, Notice.REPEAT), (1500, Notice.RESOLVE)]


def test_step_a_breach_shorter_than_for_sends_nothing() -> None:
    flapping = [(0.0, 200.0), (120.0, 200.0), (240.0, 90.0), (300.0, 200.0), (540.0, 200.0), (600.0, 50.0)]
    assert run(RULE, flapping) == []


def test_step_pending_restarts_after_a_clear() -> None:
    state, _ = step(RULE, AlertState(), 200.0, 120.0, 0.0)
    assert state.phase is Phase.PENDING and state.since == 0.0
    state, _ = step(RULE, state, 100.0, 120.0, 100.0)
    state, _ = step(RULE, state, 200.0, 120.0, 200.0)
    assert state.since == 200.0
    assert step(RULE, state, 200.0, 120.0, 499.0)[1] is None
    assert step(RULE, state, 200.0, 120.0, 500.0)[1] is Notice.FIRE


def test_step_flapping_after_firing_fires_again_only_after_for() -> None:
    samples = [(0.0, 200.0), (300.0, 200.0), (360.0, 100.0), (420.0, 200.0), (600.0, 200.0), (720.0, 200.0)]
    assert run(RULE, samples) == [(300, Notice.FIRE), (360, Notice.RESOLVE), (720, Notice.FIRE)]


def test_step_without_for_fires_at_once_and_without_repeat_never_reminds() -> None:
    rule = Rule(name="r", metric="queue_length", comparison="above", threshold=5.0)
    assert run(rule, [(0.0, 6.0), (3600.0, 9.0), (7200.0, 5.0)]) == [(0, Notice.FIRE), (7200, Notice.RESOLVE)]


def test_step_an_unknown_value_changes_nothing() -> None:
    rule = Rule(name="csat", metric="csat_average", comparison="below", threshold=3.5)
    assert run(rule, [(0.0, 3.0), (60.0, None), (120.0, None), (180.0, 4.0)]) == [(0, Notice.FIRE),
                                                                                  (180, Notice.RESOLVE)]
    pending = AlertState(Phase.PENDING, since=5.0, value=3.0)
    assert step(RULE, pending, None, 120.0, 1e6) == (pending, None)


def test_step_at_the_threshold_is_no_breach() -> None:
    above = Rule(name="a", metric="queue_length", comparison="above", threshold=5.0)
    below = Rule(name="b", metric="csat_average", comparison="below", threshold=3.5)
    assert run(above, [(0.0, 5.0)]) == [] and run(below, [(0.0, 3.5)]) == []


def test_a_rule_naming_a_target_follows_the_target() -> None:
    (rule,) = parse_rules({"rules": [{"name": "wait", "metric": "queue_wait_p90", "above": "queue_wait_seconds"}]})
    assert rule.target == "queue_wait_seconds" and rule.limit(Targets()) == 120.0
    assert rule.limit(Targets(queue_wait_seconds=45.0)) == 45.0
    (same,) = parse_rules({"rules": [{"name": "w", "metric": "queue_wait_p90", "above": "target:queue_wait_seconds"}]})
    assert same.target == "queue_wait_seconds"


def test_the_shipped_rules_load_and_cover_the_issue_examples() -> None:
    rules = {rule.metric: rule for rule in load_rules(ROOT / "handoff" / "alerts.yml")}
    assert rules["queue_wait_p90"].for_seconds == 300 and rules["queue_wait_p90"].target == "queue_wait_seconds"
    assert (rules["csat_average"].threshold, rules["csat_average"].sample) == (3.5, 50)
    assert rules["handoff_rate"].window_seconds == 3600 and rules["handoff_rate"].target == "handoff_rate"
    assert rules["agents_offline_with_conversations"].threshold == 0
    assert set(rules) <= set(METRICS)


def test_rule_fields_are_parsed() -> None:
    (rule,) = parse_rules({"rules": [{
        "name": "csat-low", "metric": "csat_average", "below": 3.5, "sample": 50, "min_sample": 10, "for": "90s",
        "repeat": "4h", "severity": "critical", "description": " Low. ",
        "channels": {"webhooks": ["https://hooks.example.com/a"], "emails": ["lead@example.com"]}}]})
    assert rule == Rule(name="csat-low", metric="csat_average", comparison="below", threshold=3.5, for_seconds=90,
                        repeat_seconds=14400, sample=50, min_sample=10, severity="critical", description="Low.",
                        webhooks=("https://hooks.example.com/a",), emails=("lead@example.com",))
    assert parse_rules(None) == () and parse_rules({"rules": []}) == ()


@pytest.mark.parametrize(("raw", "error"), [
    ({"name": "x", "metric": "nope", "above": 1}, "rule 'x', metric: 'nope' is not a metric"),
    ({"name": "x", "metric": "queue_length"}, "rule 'x', above/below: exactly one"),
    ({"name": "x", "metric": "queue_length", "above": 1, "below": 2}, "rule 'x', above/below"),
    ({"name": "x", "metric": "queue_length", "above": "speed"}, "rule 'x', above: 'speed' is neither"),
    ({"name": "x", "metric": "queue_length", "above": True}, "rule 'x', above: a number"),
    ({"name": "x", "metric": "queue_length", "above": 1, "for": "soon"}, "rule 'x', for: 'soon' is not a duration"),
    ({"name": "x", "metric": "queue_length", "above": 1, "repeat": -5}, "rule 'x', repeat: -5 is negative"),
    ({"name": "x", "metric": "handoff_rate", "above": 1, "window": 0}, "rule 'x', window: a positive duration"),
    ({"name": "x", "metric": "csat_average", "below": 3, "sample": 0}, "rule 'x', sample: a whole number"),
    ({"name": "x", "metric": "csat_average", "below": 3, "sample": 5, "min_sample": 9}, "rule 'x', min_sample"),
    ({"name": "x", "metric": "queue_length", "above": 1, "severity": "loud"}, "rule 'x', severity: one of"),
    ({"name": "x", "metric": "queue_length", "above": 1, "channels": {"webhooks": ["ftp://a"]}},
     "rule 'x', channels.webhooks"),
    ({"name": "x", "metric": "queue_length", "above": 1, "channels": {"emails": ["not-an-address"]}},
     "rule 'x', channels.emails"),
    ({"name": "x", "metric": "queue_length", "above": 1, "channels": {"slack": []}}, "rule 'x', channels:"),
    ({"name": "x", "metric": "queue_length", "above": 1, "threshold": 3}, "rule 'x', threshold: unknown field"),
    ({"name": "Bad Name", "metric": "queue_length", "above": 1}, "rule #1, name"),
    ("just text", "rule #1 is not a mapping"),
])
def test_malformed_rules_are_refused_naming_rule_and_field(raw: Any, error: str) -> None:
    with pytest.raises(SettingsError, match=r"^alerts: ") as caught:
        parse_rules({"rules": [raw]})
    assert error in str(caught.value)


def test_two_rules_of_one_name_are_refused() -> None:
    rule = {"name": "x", "metric": "queue_length", "above": 1}
    with pytest.raises(SettingsError, match="rule 'x', name: two rules have this name"):
        parse_rules({"rules": [rule, rule]})
    with pytest.raises(SettingsError, match=r"one key, `rules`"):
        parse_rules({"rule": [rule]})


def test_load_rules_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="HANDOFF_ALERTS: cannot read"):
        load_rules(tmp_path / "missing.yml")
    (tmp_path / "bad.yml").write_text("rules: [\n")
    with pytest.raises(SettingsError, match=r"HANDOFF_ALERTS: .* is not valid YAML"):
        load_rules(tmp_path / "bad.yml")


@pytest.mark.parametrize(("raw", "expected"), [(30, 30.0), (1.5, 1.5), ("90s", 90.0), ("5m", 300.0), ("1h", 3600.0),
                                               ("2d", 172800.0), ("45", 45.0)])
def test_seconds_reads_durations(raw: Any, expected: float) -> None:
    assert seconds(raw) == expected
