from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.evaluate import score
from tests.bot.conftest import NLU, ROOT

TEST = """version: "3.1"
nlu:
- intent: order_status
  examples: |
    - where's my parcel for order 99812
    - did my order ship
- intent: greet
  examples: |
    - hello!
    - morning
- intent: out_of_scope
  examples: |
    - what's a good pasta recipe
    - who is the president of France
"""

GOLD = ["a", "a", "b", "out_of_scope", "out_of_scope"]
PREDICTED = ["a", "nlu_fallback", "b", "out_of_scope", "b"]
RANKINGS = [[{"name": "a", "confidence": 0.9}], [{"name": "a", "confidence": 0.2}],
            [{"name": "b", "confidence": 0.8}], [{"name": "out_of_scope", "confidence": 0.7}],
            [{"name": "b", "confidence": 0.6}]]


def test_score_counts_handoffs_as_out_of_scope() -> None:
    gold, predicted, rankings = GOLD, PREDICTED, RANKINGS
    report = score(gold, predicted, rankings)
    assert report["intent_accuracy"] == pytest.approx(2 / 3, abs=1e-4)
    assert report["handoff_recall"] == 0.5
    assert report["handoff_precision"] == 0.5
    at_07 = next(c for c in report["curve"] if c["threshold"] == 0.7)
    assert at_07 == {"threshold": 0.7, "intent_accuracy": pytest.approx(2 / 3, abs=1e-4),
                     "handoff_recall": 1.0, "handoff_precision": pytest.approx(2 / 3, abs=1e-4)}


def test_score_reports_mcc_with_out_of_scope_as_one_class_and_the_auroc_of_each_score() -> None:
    gold, predicted, rankings = GOLD, PREDICTED, RANKINGS
    from sklearn.metrics import matthews_corrcoef

    report = score(gold, predicted, rankings, distances=[0.5, 3.0, 0.8, 2.0, None])
    handed_as_oos = ["a", "out_of_scope", "b", "out_of_scope", "b"]
    assert report["mcc"] == pytest.approx(matthews_corrcoef(gold, handed_as_oos), abs=1e-4)
    # 1 - top in-scope confidence: 0.1, 0.8, 0.2, 1.0 (no in-scope intent ranked), 0.4
    assert report["auroc_confidence"] == pytest.approx(5 / 6, abs=1e-4)
    # the unscored message counts as the most out of scope; 2.0 is under 3.0 only
    assert report["auroc_distance"] == pytest.approx(5 / 6, abs=1e-4)
    assert "auroc_distance" not in score(gold, predicted, rankings)
    # the detector's final (combined) score is scored on its own: here it ranks every out-of-scope message first
    combined = score(gold, predicted, rankings, distances=[0.5, 3.0, 0.8, 2.0, None],
                     detector_scores=[0.1, 0.2, 0.3, 8.0, 9.0])
    assert combined["auroc_detector"] == pytest.approx(1.0)
    assert combined["auroc_distance"] == report["auroc_distance"]
    assert "auroc_detector" not in report


def test_score_sweeps_the_detectors_threshold_keeping_the_other_hand_off_rules() -> None:
    gold = ["a", "a", "b", "out_of_scope", "out_of_scope", "a"]
    # message 2 was handed off by the FallbackClassifier (detector under its threshold of 4.0), message 4 by the
    # detector (6.0 > 4.0); message 5 (3.0) and the in-scope message 6 (3.5) were answered
    predicted = ["a", "nlu_fallback", "b", "nlu_fallback", "b", "a"]
    rankings = [[{"name": "a", "confidence": 0.9}], [{"name": "a", "confidence": 0.2}],
                [{"name": "b", "confidence": 0.8}], [{"name": "b", "confidence": 0.5}],
                [{"name": "b", "confidence": 0.6}], [{"name": "a", "confidence": 0.7}]]
    report = score(gold, predicted, rankings, detector_scores=[1.0, 2.0, 0.5, 6.0, 3.0, 3.5],
                   detector_threshold=4.0)
    curve = {c["factor"]: c for c in report["detector_curve"]}
    assert report["detector_threshold"] == 4.0
    # at the trained threshold the sweep gives the report's own figures
    assert {k: curve[1.0][k] for k in ("intent_accuracy", "handoff_recall", "handoff_precision")} == {
        k: report[k] for k in ("intent_accuracy", "handoff_recall", "handoff_precision")}
    # at 0.7 x 4.0 = 2.8, messages 5 and 6 are handed off too; message 2 stays handed off (another rule)
    assert curve[0.7]["threshold"] == 2.8
    assert curve[0.7]["handoff_recall"] == 1.0
    assert curve[0.7]["intent_accuracy"] == pytest.approx(2 / 4)
    # at 2 x 4.0 the detector fires on nothing: message 4 is answered, message 2 still handed off
    assert curve[2.0]["handoff_recall"] == 0.0
    assert curve[2.0]["intent_accuracy"] == pytest.approx(3 / 4)
    assert "detector_curve" not in score(gold, predicted, rankings)
    # message 4 labelled out_of_scope by the classifier (the detector left it alone, as its fired says): handed
    # off at any threshold
    rankings[3] = [{"name": "out_of_scope", "confidence": 0.5}]
    labelled = score(gold, ["a", "nlu_fallback", "b", "out_of_scope", "b", "a"], rankings,
                     detector_scores=[1.0, 2.0, 0.5, 6.0, 3.0, 3.5], detector_threshold=4.0,
                     detector_fired=[False, False, False, False, False, False])
    assert [c["handoff_recall"] for c in labelled["detector_curve"] if c["factor"] in (1.0, 2.0)] == [0.5, 0.5]
    # without fired (an older model), a score over the threshold on an out_of_scope top intent is no detector's doing
    older = score(gold, ["a", "nlu_fallback", "b", "out_of_scope", "b", "a"], rankings,
                  detector_scores=[1.0, 2.0, 0.5, 6.0, 3.0, 3.5], detector_threshold=4.0)
    assert older["detector_curve"] == labelled["detector_curve"]
    # a message the FallbackClassifier handed off scores over the threshold too: fired False keeps it handed off
    fallback_first = score(gold, predicted, [*rankings[:3], [{"name": "b", "confidence": 0.5}], *rankings[4:]],
                           detector_scores=[1.0, 2.0, 0.5, 6.0, 3.0, 3.5], detector_threshold=4.0,
                           detector_fired=[False] * 6)
    assert [c["handoff_recall"] for c in fallback_first["detector_curve"] if c["factor"] == 2.0] == [0.5]


def test_eval_command_trains_scores_and_writes_the_report(tmp_path: Path) -> None:
    (tmp_path / "train.yml").write_text(NLU)
    (tmp_path / "test.yml").write_text(TEST)
    out = tmp_path / "report.json"
    done = subprocess.run([sys.executable, "-m", "bot.evaluate", "--train", str(tmp_path / "train.yml"),
                           "--test", str(tmp_path / "test.yml"), "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    for key in ("intent_accuracy", "handoff_recall", "handoff_precision", "macro_f1", "n_test", "curve"):
        assert key in report
    assert report["n_test"] == 6 and report["n_out_of_scope"] == 2
    assert report["intent_accuracy"] >= 0.5
    assert "intent_accuracy" in done.stdout and "threshold" in done.stdout


def test_eval_command_names_a_missing_file(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "bot.evaluate", "--train", str(tmp_path / "nope.yml"),
                           "--test", str(tmp_path / "nope.yml"), "--out", str(tmp_path / "r.json")], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "nope.yml does not exist" in done.stderr
