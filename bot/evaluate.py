"""NLU evaluation: intent accuracy and hand-off decisions on any Rasa NLU data.

``python -m bot.evaluate --train TRAIN.yml --test TEST.yml --out REPORT.json
[--config config.yml]`` trains the NLU pipeline of ``--config`` on TRAIN and
parses every TEST example with the trained model.

Test examples of intent ``out_of_scope`` should be handed to a person. A
message is *handed off* when the pipeline's final intent is ``out_of_scope``
or ``nlu_fallback`` (the FallbackClassifier found the classifier too unsure,
or the top two intents too close), or the sentiment component escalated it
for frustration. Reported:

- ``intent_accuracy``: in-scope examples given the right intent and not handed off;
- ``handoff_recall``: out-of-scope examples handed off;
- ``handoff_precision``: handed-off examples that were out of scope;
- ``macro_f1``: macro F1 over the gold intents, hand-offs counting as ``out_of_scope``;
- ``mcc``: Matthews correlation over all classes, hand-offs and gold ``out_of_scope``
  as one class ``out_of_scope`` (the measure published for customer-service traffic);
- ``auroc_confidence``: AUROC of ``1 - top in-scope confidence`` as an out-of-scope score
  (out-of-scope test messages positive);
- ``auroc_distance``: AUROC of the out-of-scope detector's distance score
  (bot/components/out_of_scope.py) when the pipeline has one, else absent;
- ``auroc_detector``: AUROC of the detector's final score (the distance, or the
  combined score when it combines several signals), when the pipeline has one;
- ``curve``: the same accuracy / recall / precision when the confidence
  threshold alone varies (margin rule off), to pick a threshold;
- ``detector_curve``: the same when the out-of-scope detector's threshold is
  scaled by each of :data:`DETECTOR_FACTORS` (1.0: as trained) and every other
  rule is kept, when the pipeline has a detector: its trade-off.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

OUT_OF_SCOPE = "out_of_scope"
FALLBACK = "nlu_fallback"
DETECTOR_KEY = "out_of_scope_detection"  # parse data key of bot/components/out_of_scope.py
THRESHOLDS = [round(0.05 * i, 2) for i in range(0, 20)]
# multiples of the detector's fitted threshold swept by ``detector_curve``
DETECTOR_FACTORS = [0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0]


def load_examples(path: Path) -> List[Tuple[str, str]]:
    """(text, intent) pairs of a Rasa NLU file or folder."""
    from rasa.shared.importers.importer import TrainingDataImporter

    data = TrainingDataImporter.load_from_dict(training_data_paths=[str(path)]).get_nlu_data()
    examples = [(m.get("text"), m.get("intent")) for m in data.intent_examples]
    if not examples:
        raise SystemExit(f"error: no intent examples found in {path}")
    return examples


def score(gold: List[str], predicted: List[str], rankings: List[List[Dict[str, Any]]],
          escalated: Optional[List[bool]] = None,
          distances: Optional[List[Optional[float]]] = None,
          detector_scores: Optional[List[Optional[float]]] = None,
          detector_threshold: Optional[float] = None,
          detector_fired: Optional[List[Optional[bool]]] = None) -> Dict[str, Any]:
    """Every metric of the report from gold intents, final predictions and raw rankings.

    ``escalated`` marks messages the sentiment component escalated (handed off
    for frustration, whatever their intent); ``distances`` are the out-of-scope
    detector's distances and ``detector_scores`` its final scores (None where it
    gave none), ``detector_threshold`` the threshold it was trained to and
    ``detector_fired`` whether the detector itself handed each message off.
    """
    from sklearn.metrics import f1_score, matthews_corrcoef

    escalated = escalated or [False] * len(gold)
    handed = [p in (OUT_OF_SCOPE, FALLBACK) or e for p, e in zip(predicted, escalated)]
    in_scope = [i for i, g in enumerate(gold) if g != OUT_OF_SCOPE]
    oos = [i for i, g in enumerate(gold) if g == OUT_OF_SCOPE]
    n_handed = sum(handed)
    report: Dict[str, Any] = {
        "n_test": len(gold),
        "n_in_scope": len(in_scope),
        "n_out_of_scope": len(oos),
        "intent_accuracy": _ratio(sum(predicted[i] == gold[i] and not handed[i] for i in in_scope), len(in_scope)),
        "handoff_recall": _ratio(sum(handed[i] for i in oos), len(oos)) if oos else None,
        "handoff_precision": _ratio(sum(handed[i] for i in oos), n_handed) if oos else None,
        "handoff_rate_in_scope": _ratio(sum(handed[i] for i in in_scope), len(in_scope)),
        "macro_f1": round(float(f1_score(gold, [OUT_OF_SCOPE if h else p for p, h in zip(predicted, handed)],
                                         average="macro", zero_division=0)), 4),
        "mcc": round(float(matthews_corrcoef(gold,
                                             [OUT_OF_SCOPE if h else p for p, h in zip(predicted, handed)])), 4),
    }
    is_oos = [g == OUT_OF_SCOPE for g in gold]
    confidence = [max((r["confidence"] for r in ranking if r["name"] != OUT_OF_SCOPE), default=0.0)
                  for ranking in rankings]
    report["auroc_confidence"] = _auroc(is_oos, [1.0 - c for c in confidence])
    for key, values in (("auroc_distance", distances), ("auroc_detector", detector_scores)):
        if values and any(d is not None for d in values):
            known = [d for d in values if d is not None]
            # a message the detector did not score (no in-scope intent ranked) counts as the most out of scope
            report[key] = _auroc(is_oos, [max(known) + 1.0 if d is None else d for d in values])
    curve = []
    for threshold in THRESHOLDS:
        top = [(r[0]["name"], r[0]["confidence"]) if r else (OUT_OF_SCOPE, 0.0) for r in rankings]
        h = [name == OUT_OF_SCOPE or conf < threshold for name, conf in top]
        curve.append({
            "threshold": threshold,
            "intent_accuracy": _ratio(sum(top[i][0] == gold[i] and not h[i] for i in in_scope), len(in_scope)),
            "handoff_recall": _ratio(sum(h[i] for i in oos), len(oos)) if oos else None,
            "handoff_precision": _ratio(sum(h[i] for i in oos), sum(h)) if oos else None,
        })
    report["curve"] = curve
    if detector_scores and detector_threshold:
        report["detector_threshold"] = detector_threshold
        report["detector_curve"] = _detector_curve(gold, handed, rankings, detector_scores, detector_threshold,
                                                   detector_fired)
    return report


def _detector_curve(gold: List[str], handed: List[bool], rankings: List[List[Dict[str, Any]]],
                    scores: List[Optional[float]], threshold: float,
                    fired: Optional[List[Optional[bool]]] = None) -> List[Dict[str, Any]]:
    """Accuracy, recall and precision with the detector's threshold scaled, every other hand-off rule kept.

    A message handed off although the detector did not fire was handed off by
    another rule (the FallbackClassifier, an out-of-scope intent, the sentiment
    component) and stays handed off at any threshold. Which rule fired is the
    detector's own ``fired``; without it (a model older than that key), the
    detector is taken to have fired wherever its score exceeds the threshold
    and the classifier's top intent is not out of scope.
    """
    top = [r[0]["name"] if r else OUT_OF_SCOPE for r in rankings]
    fired = fired or [None] * len(gold)
    by_detector = [f if f is not None else (s is not None and s > threshold and t != OUT_OF_SCOPE)
                   for f, s, t in zip(fired, scores, top)]
    other = [h and not d for h, d in zip(handed, by_detector)]
    in_scope = [i for i, g in enumerate(gold) if g != OUT_OF_SCOPE]
    oos = [i for i, g in enumerate(gold) if g == OUT_OF_SCOPE]
    curve = []
    for factor in DETECTOR_FACTORS:
        cut = threshold * factor
        h = [o or (s is not None and s > cut) for o, s in zip(other, scores)]
        curve.append({
            "factor": factor, "threshold": round(cut, 4),
            "intent_accuracy": _ratio(sum(top[i] == gold[i] and not h[i] for i in in_scope), len(in_scope)),
            "handoff_recall": _ratio(sum(h[i] for i in oos), len(oos)) if oos else None,
            "handoff_precision": _ratio(sum(h[i] for i in oos), sum(h)) if oos else None,
        })
    return curve


def _auroc(positive: List[bool], scores: List[float]) -> Optional[float]:
    from sklearn.metrics import roc_auc_score

    if all(positive) or not any(positive):
        return None
    return round(float(roc_auc_score(positive, scores)), 4)


def _ratio(part: float, whole: float) -> float:
    return round(part / whole, 4) if whole else 0.0


async def _parse_all(model_path: str, texts: List[str]) -> Tuple[List[Dict[str, Any]], float]:
    from rasa.core.agent import Agent
    from tqdm import tqdm

    agent = Agent.load(model_path)
    results = []
    started = time.perf_counter()
    for text in tqdm(texts, desc="parsing test set", unit="msg", mininterval=2.0):
        results.append(await agent.parse_message(text))
    return results, (time.perf_counter() - started) / max(len(texts), 1)


def evaluate(config: Path, train: Path, test: Path, model_dir: Optional[Path] = None,
             predictions: Optional[Path] = None) -> Dict[str, Any]:
    from rasa.model_training import train_nlu

    examples = load_examples(test)
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        model = train_nlu(str(config), str(train), str(model_dir or scratch), fixed_model_name="eval-nlu")
        train_seconds = time.perf_counter() - started
        if not model:
            raise SystemExit("error: NLU training failed (see the log above)")
        parsed, per_message = asyncio.run(_parse_all(model, [t for t, _ in examples]))
    gold = [g for _, g in examples]
    predicted = [p.get("intent", {}).get("name") or FALLBACK for p in parsed]
    rankings = [[r for r in p.get("intent_ranking", []) if r["name"] != FALLBACK] for p in parsed]
    escalated = [bool((p.get("sentiment") or {}).get("escalate")) for p in parsed]
    detections = [p.get(DETECTOR_KEY) or {} for p in parsed]
    distances = [d.get("distance", d.get("score")) for d in detections]
    thresholds = [d["threshold"] for d in detections if d.get("threshold") is not None]
    report = score(gold, predicted, rankings, escalated, distances, [d.get("score") for d in detections],
                   thresholds[0] if thresholds else None, [d.get("fired") for d in detections])
    if predictions:
        predictions.parent.mkdir(parents=True, exist_ok=True)
        with predictions.open("w", encoding="utf-8") as handle:
            for (text, g), p, r, d, detection in zip(examples, predicted, rankings, distances, detections, strict=True):
                handle.write(json.dumps({"text": text, "gold": g, "predicted": p, "ranking": r[:3],
                                         "distance": d, "detector": detection or None}) + "\n")
    report.update({"config": str(config), "train": str(train), "test": str(test),
                   "train_seconds": round(train_seconds, 1), "parse_ms_per_message": round(per_message * 1000, 2)})
    return report


def table(report: Dict[str, Any]) -> str:
    keys = ["n_test", "n_in_scope", "n_out_of_scope", "intent_accuracy", "handoff_recall", "handoff_precision",
            "handoff_rate_in_scope", "macro_f1", "mcc", "auroc_confidence", "auroc_distance", "auroc_detector",
            "train_seconds", "parse_ms_per_message"]
    lines = [f"{k:<22} {report[k] if report.get(k) is not None else '-'}" for k in keys]
    if report["n_out_of_scope"]:
        lines += ["", "threshold  intent_accuracy  handoff_recall  handoff_precision"]
        lines += [f"{c['threshold']:>9.2f}  {c['intent_accuracy']:>15.3f}  {c['handoff_recall']:>14.3f}  "
                  f"{c['handoff_precision']:>17.3f}" for c in report["curve"]]
        if report.get("detector_curve"):
            lines += ["", "detector threshold  intent_accuracy  handoff_recall  handoff_precision"]
            lines += [f"{c['threshold']:>9.3f} (x{c['factor']:<4})  {c['intent_accuracy']:>15.3f}  "
                      f"{c['handoff_recall']:>14.3f}  {c['handoff_precision']:>17.3f}"
                      for c in report["detector_curve"]]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=Path, required=True, help="Rasa NLU YAML training data")
    parser.add_argument("--test", type=Path, required=True, help="Rasa NLU YAML test data")
    parser.add_argument("--out", type=Path, required=True, help="where to write the JSON report")
    parser.add_argument("--config", type=Path, default=Path("config.yml"), help="pipeline to evaluate")
    parser.add_argument("--predictions", type=Path, help="also write each test message's prediction (JSON lines)")
    args = parser.parse_args(argv)
    for path in (args.train, args.test, args.config):
        if not path.exists():
            print(f"error: {path} does not exist", file=sys.stderr)
            return 2
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings(logging.INFO)
    configure_structlog(logging.INFO)
    report = evaluate(args.config, args.train, args.test, predictions=args.predictions)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report))
    print(f"report written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
