"""The QA scorecard: its file's validation (errors name the file, the line and the field) and the total of a
review (weights, N/A, critical criteria)."""

from __future__ import annotations

from pathlib import Path

import pytest

from handoff.core.errors import BadRequest, SettingsError
from handoff.core.scorecard import Score, checked_scores, load_scorecard, outcome, parse_scorecard
from tests.conftest import ROOT

CARD = """\
version: v1
criteria:
  - key: greeting
    name: Greeting
    weight: 1
    scale: 0-2
  - key: accuracy
    name: Accuracy
    description: Correct answers.
    weight: 3
    scale: 1-5
  - key: notes
    name: Notes
    weight: 1
    scale: 0-2
    na: true
  - key: identity
    name: Identity checked
    weight: 1
    scale: yes/no
    na: true
    critical: true
"""


def test_scorecard_the_shipped_card_loads() -> None:
    card = load_scorecard(ROOT / "handoff" / "scorecard.yml")
    assert [c.key for c in card.criteria] == ["greeting", "accuracy", "tone", "resolution", "notes",
                                              "data_protection"]
    assert card.criterion("data_protection") is not None and card.criterion("data_protection").critical  # type: ignore[union-attr]


def test_scorecard_scales_parse_to_their_bounds() -> None:
    card = parse_scorecard(CARD)
    assert [(c.scale, c.low, c.high) for c in card.criteria] == [("0-2", 0, 2), ("1-5", 1, 5), ("0-2", 0, 2),
                                                                  ("yes/no", 0, 1)]
    assert card.version == "v1"
    assert card.criteria[1].description == "Correct answers."


@pytest.mark.parametrize(("change", "message"), [
    (("weight: 3", "weight: -3"), "x.yml, line 10, criterion accuracy: weight must be a positive number, not -3."),
    (("scale: 1-5", "scale: 5-1"), "x.yml, line 11, criterion accuracy: scale must be 'yes/no' or a range"),
    (("scale: 1-5", "scale: lots"), "criterion accuracy: scale must be"),
    (("    weight: 3\n", "    weight: 3\n    colour: red\n"), "x.yml, line 11: unknown field(s) colour"),
    (("key: accuracy", "key: greeting"), "criterion key 'greeting' appears twice"),
    (("key: accuracy", "key: Accuracy!"), "x.yml, line 7, criteria[1]: key must be lower-case"),
    (("    name: Accuracy\n", ""), "criteria[1] (accuracy): name must be a non-empty text"),
    (("    na: true\n    critical", "    na: maybe\n    critical"), "identity): na must be true or false"),
    (("version: v1\n", ""), "x.yml: version is required"),
    (("version: v1\n", "version: v1\nowner: me\n"), "x.yml, line 2: unknown field(s) owner"),
])
def test_scorecard_a_malformed_card_is_refused_naming_file_line_and_field(change: tuple[str, str],
                                                                          message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        parse_scorecard(CARD.replace(*change, 1), "x.yml")
    assert message in str(raised.value)


@pytest.mark.parametrize("text", ["", "criteria: []\nversion: 1\n", "- a\n- b\n", "version: 1\ncriteria: [1]\n",
                                  "version: [1\n"])
def test_scorecard_no_criteria_or_no_yaml_is_refused(text: str) -> None:
    with pytest.raises(SettingsError, match=r"x\.yml"):
        parse_scorecard(text, "x.yml")


def test_scorecard_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"HANDOFF_SCORECARD: cannot read .*nothing\.yml"):
        load_scorecard(tmp_path / "nothing.yml")


def scores(greeting: int | None, accuracy: int | None, notes: int | None, identity: int | None) -> list[Score]:
    return [Score("greeting", greeting), Score("accuracy", accuracy), Score("notes", notes),
            Score("identity", identity)]


def test_scorecard_total_is_the_weighted_share_of_the_scale() -> None:
    card = parse_scorecard(CARD)
    # greeting 1/2 (w1) + accuracy 4 of 1-5 = 3/4 (w3) + notes 2/2 (w1) + identity yes (w1) = 0.5 + 2.25 + 1 + 1
    assert outcome(card, checked_scores(card, scores(1, 4, 2, 1))).total == pytest.approx(100 * 4.75 / 6, abs=0.005)
    assert outcome(card, checked_scores(card, scores(2, 5, 2, 1))).total == 100.0
    assert outcome(card, checked_scores(card, scores(0, 1, 0, 1))).total == pytest.approx(100 / 6, abs=0.005)


def test_scorecard_na_counts_neither_way() -> None:
    card = parse_scorecard(CARD)
    # notes and identity N/A: greeting 2/2 (w1) + accuracy 3 of 1-5 = 1/2 (w3) over weights 4
    assert outcome(card, checked_scores(card, scores(2, 3, None, None))).total == pytest.approx(100 * 2.5 / 4, abs=0.005)


def test_scorecard_a_failed_critical_criterion_fails_the_review() -> None:
    card = parse_scorecard(CARD)
    result = outcome(card, checked_scores(card, scores(2, 5, 2, 0)))
    assert (result.total, result.critical_failed) == (0.0, ("identity",))


@pytest.mark.parametrize(("given", "message"), [
    ([Score("greeting", 3)], "The criterion greeting is scored from 0 to 2, not 3."),
    ([Score("accuracy", 0)], "The criterion accuracy is scored from 1 to 5, not 0."),
    ([Score("empathy", 1)], "The scorecard has no criterion 'empathy'"),
    ([Score("greeting", None)], "The criterion greeting cannot be marked not applicable."),
    ([Score("greeting", 1), Score("greeting", 2)], "The criterion greeting is scored twice."),
    ([Score("greeting", 1)], "missing: accuracy, notes, identity"),
])
def test_scorecard_scores_outside_the_card_are_refused(given: list[Score], message: str) -> None:
    with pytest.raises(BadRequest) as raised:
        checked_scores(parse_scorecard(CARD), given)
    assert message in str(raised.value)
