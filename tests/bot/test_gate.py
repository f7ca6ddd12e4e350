"""The regression gate (bot/gate.py): a candidate's scorecard against the live model's, with a tolerance."""

from __future__ import annotations

import copy
from typing import Any

from bot.gate import compare, markdown, summary

LIVE: dict[str, Any] = {
    "intents": {"order_status": {"f1": 0.9, "support": 4}, "greet": {"f1": 1.0, "support": 3},
                "out_of_scope": {"f1": 0.8, "support": 4}},
    "handoff": {"recall": 0.75, "in_scope_rate": 0.05},
    "confusions": {"order_status -> delivery_tracking": 1, "out_of_scope -> greet": 1},
    "stories": {"order form": True, "hand-off": True, "stray yes": False},
    "inbox": {"total": 0, "understood": 0, "missed": []},
}


def candidate(**changes: Any) -> dict[str, Any]:
    card = copy.deepcopy(LIVE)
    card.update(changes)
    return card


def test_the_same_scores_pass() -> None:
    result = compare(candidate(), LIVE, 0.02)
    assert result["passed"] and result["failures"] == [] and result["confusions"] == []
    assert [row["delta"] for row in result["intents"]] == [0.0, 0.0, 0.0]


def test_a_drop_within_the_tolerance_passes_and_beyond_it_fails() -> None:
    within = candidate(intents={**LIVE["intents"], "order_status": {"f1": 0.88, "support": 4}})
    assert compare(within, LIVE, 0.02)["passed"]
    beyond = candidate(intents={**LIVE["intents"], "order_status": {"f1": 0.85, "support": 4}})
    result = compare(beyond, LIVE, 0.02)
    assert not result["passed"]
    assert result["failures"] == ["intent order_status: F1 0.900 -> 0.850 (drop 0.050 > 0.020)"]
    assert [row["intent"] for row in result["intents"] if row["regressed"]] == ["order_status"]
    assert compare(beyond, LIVE, 0.1)["passed"]  # the tolerance is a setting


def test_an_improvement_passes_and_the_changed_confusions_are_listed() -> None:
    better = candidate(intents={**LIVE["intents"], "order_status": {"f1": 1.0, "support": 4}},
                       confusions={"out_of_scope -> greet": 1, "greet -> thank": 2})
    result = compare(better, LIVE, 0.02)
    assert result["passed"]
    assert result["confusions"] == [{"pair": "greet -> thank", "live": 0, "candidate": 2},
                                    {"pair": "order_status -> delivery_tracking", "live": 1, "candidate": 0}]


def test_hand_off_decisions_may_not_regress() -> None:
    fewer = candidate(handoff={"recall": 0.5, "in_scope_rate": 0.05})
    assert compare(fewer, LIVE)["failures"] == ["out-of-scope hand-off recall 0.750 -> 0.500"]
    more = candidate(handoff={"recall": 0.75, "in_scope_rate": 0.2})
    assert compare(more, LIVE)["failures"] == ["in-scope messages handed off 0.050 -> 0.200"]


def test_a_story_that_passed_may_not_fail_one_that_failed_already_does_not_block() -> None:
    broken = candidate(stories={"order form": False, "hand-off": True, "stray yes": False})
    result = compare(broken, LIVE)
    assert result["failures"] == ["test story fails: order form (passed with the live model)"]
    assert compare(candidate(), LIVE)["passed"]  # "stray yes" failed with the live model too
    new_failing = candidate(stories={**LIVE["stories"], "new story": False})
    assert compare(new_failing, LIVE)["failures"] == ["test story fails: new story"]


def test_without_a_live_model_every_story_must_pass() -> None:
    result = compare(candidate(), None)
    assert result["failures"] == ["test story fails: stray yes"] and not result["live_compared"]


def test_every_trainer_confirmed_example_must_be_understood() -> None:
    missed = {"text": "click and collect?", "intent": "shipping_options", "predicted": "out_of_scope"}
    result = compare(candidate(inbox={"total": 2, "understood": 1, "missed": [missed]}), LIVE)
    assert result["failures"] == ["inbox example not understood: 'click and collect?' is shipping_options, "
                                  "the candidate says out_of_scope"]


def test_the_report_and_the_summary() -> None:
    result = compare(candidate(intents={**LIVE["intents"], "greet": {"f1": 0.5, "support": 3}}), LIVE)
    text = markdown(result, "v2", "v1")
    assert text.startswith("# Regression gate: v2 against v1\n\n**FAILED** (tolerance 0.020)")
    assert "| greet | 3 | 1.000 | 0.500 | -0.500 **regressed** |" in text
    assert "- FAIL stray yes" in text and "## Trainer-confirmed examples: 0 of 0 understood" in text
    assert summary(LIVE) == {"macro_f1": 0.9, "handoff_recall": 0.75, "handoff_in_scope_rate": 0.05,
                             "stories_passed": 2, "stories": 3, "inbox_understood": 0, "inbox_total": 0}
