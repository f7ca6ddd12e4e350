"""Cross-validation of the out-of-scope detector's design on a TRAINING split alone.

A quarter of the training intents (every ``--every``-th in sorted order, from
``--offset``) plays the out-of-scope messages: they are left out of a pseudo
training set, and a pseudo test set holds ``--test-share`` of the examples of the
other intents (in scope) and of the left-out ones (relabelled ``out_of_scope``).
The pipeline of ``--config`` (its detector with every signal, so that every
combination can be scored from one training) is trained on the pseudo training
set and parses the pseudo test set; then each design (signals, combination,
retention) is scored offline from the stored held-out samples and the parsed
signals, exactly as the detector would decide:

    python -m bot.cv_out_of_scope --train build/datasets/banking77_heldout/train.yml \\
        --config build/eval/config_cv_all.yml --out build/eval/cv_oos_b77.json

The FallbackClassifier's decision is replayed from the ranking (``--fallback``,
``--ambiguity``, as in config.yml). No test split is read.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import tarfile
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

from bot.components.out_of_scope import SIGNALS
from bot.evaluate import _auroc, _parse_all, load_examples
from scripts.convert_datasets import write_nlu

OUT_OF_SCOPE = "out_of_scope"
FALLBACK = "nlu_fallback"
RETENTIONS = (0.9, 0.92, 0.93, 0.94, 0.95, 0.96, 0.97, 0.98, 0.99)


def pseudo_split(examples: List[tuple[str, str]], every: int, offset: int, share: float,
                 seed: int) -> tuple[List[tuple[str, str]], List[tuple[str, str]]]:
    """Pseudo training and test sets: every ``every``-th intent out of training, ``share`` of each intent tested."""
    intents = sorted({i for _, i in examples})
    held = {intent for n, intent in enumerate(intents) if n % every == offset}
    rng = random.Random(seed)
    train, test = [], []
    for intent in intents:
        members = [t for t, i in examples if i == intent]
        rng.shuffle(members)
        cut = max(1, round(share * len(members)))
        test += [(t, OUT_OF_SCOPE if intent in held else intent) for t in members[:cut]]
        if intent not in held:
            train += [(t, intent) for t in members[cut:]]
    return train, test


def held_out_samples(model: Path) -> Dict[str, np.ndarray]:
    """The detector's stored held-out signals (aligned rows) from a trained model archive."""
    with tarfile.open(model) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith("out_of_scope_detector.npz"))
        handle = archive.extractfile(member)
        assert handle is not None
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / "detector.npz"
            path.write_bytes(handle.read())
            with np.load(path, allow_pickle=False) as stored:
                return {key[len("held_out_"):]: stored[key] for key in stored.files if key.startswith("held_out_")}


def combined(held: Dict[str, np.ndarray], values: Dict[str, np.ndarray], signals: tuple[str, ...],
             how: str) -> np.ndarray:
    """The detector's combined score (OutOfScopeDetector._combine) of ``values`` against ``held``."""
    logs = []
    for name in signals:
        sample = np.sort(held[name])
        at_least = sample.size - np.searchsorted(sample, values[name], side="left")
        logs.append(np.log((1.0 + at_least) / (1.0 + sample.size)))
    stacked = np.vstack(logs)
    return -stacked.min(axis=0) if how == "min_p" else -stacked.sum(axis=0)


def score_designs(gold: List[str], parsed: List[Dict[str, Any]], held: Dict[str, np.ndarray],
                  fallback: float, ambiguity: float) -> Dict[str, Any]:
    """In-scope accuracy and hand-off recall of every design on the pseudo test set."""
    is_oos = np.array([g == OUT_OF_SCOPE for g in gold])
    rankings = [[r for r in p.get("intent_ranking", []) if r["name"] != FALLBACK] for p in parsed]
    top = [r[0]["name"] if r else OUT_OF_SCOPE for r in rankings]
    gap = [r[0]["confidence"] - (r[1]["confidence"] if len(r) > 1 else 0.0) if r else 0.0 for r in rankings]
    base = np.array([t == OUT_OF_SCOPE or not r or r[0]["confidence"] < fallback or g < ambiguity
                     for t, r, g in zip(top, rankings, gap, strict=True)])
    outputs = [p.get("out_of_scope_detection") or {} for p in parsed]
    values = {name: np.array([o.get(name, np.inf) for o in outputs], dtype=np.float64) for name in SIGNALS}
    correct = np.array([t == g for t, g in zip(top, gold, strict=True)])

    def figures(handed: np.ndarray) -> Dict[str, float]:
        return {"intent_accuracy": round(float((correct & ~handed)[~is_oos].mean()), 4),
                "handoff_recall": round(float(handed[is_oos].mean()), 4),
                "in_scope_handed_off": round(float(handed[~is_oos].mean()), 4)}

    designs: List[Dict[str, Any]] = [{"design": "FallbackClassifier only", **figures(base)}]
    for size in range(1, len(SIGNALS) + 1):
        for signals in itertools.combinations(SIGNALS, size):
            for how in (("fisher", "min_p") if size > 1 else ("fisher",)):
                held_scores = combined(held, held, signals, how)
                scores = combined(held, values, signals, how)
                auroc = _auroc(list(is_oos), list(scores))
                for retention in RETENTIONS:
                    threshold = float(np.quantile(held_scores, retention))
                    designs.append({"design": f"{'+'.join(signals)} {how}", "signals": list(signals),
                                    "combine": how, "retention": retention, "auroc": auroc,
                                    **figures(base | (scores > threshold))})
    return {"designs": designs, "in_scope": int((~is_oos).sum()), "out_of_scope": int(is_oos.sum()),
            "held_out_examples": int(next(iter(held.values())).size)}


def main(argv: Optional[List[str]] = None) -> int:
    from rasa.model_training import train_nlu

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=Path, required=True, help="a TRAINING split (Rasa NLU YAML)")
    parser.add_argument("--config", type=Path, required=True, help="pipeline whose detector has every signal")
    parser.add_argument("--out", type=Path, required=True, help="where to write the JSON report")
    parser.add_argument("--every", type=int, default=4)
    parser.add_argument("--offset", type=int, default=1)
    parser.add_argument("--test-share", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fallback", type=float, default=0.3)
    parser.add_argument("--ambiguity", type=float, default=0.05)
    parser.add_argument("--parsed", type=Path, help="also write the parsed pseudo test set and held-out samples (JSON)")
    args = parser.parse_args(argv)

    train, test = pseudo_split(load_examples(args.train), args.every, args.offset, args.test_share, args.seed)
    with tempfile.TemporaryDirectory() as scratch:
        write_nlu(Path(scratch) / "train.yml", train)
        model = train_nlu(str(args.config), str(Path(scratch) / "train.yml"), scratch, fixed_model_name="cv")
        if not model:
            raise SystemExit("error: NLU training failed (see the log above)")
        held = held_out_samples(Path(model))
        parsed, _ = asyncio.run(_parse_all(model, [t for t, _ in test]))
    if args.parsed:
        args.parsed.write_text(json.dumps({"gold": [g for _, g in test], "parsed": parsed,
                                           "held_out": {k: v.tolist() for k, v in held.items()}}))
    report = score_designs([g for _, g in test], parsed, held, args.fallback, args.ambiguity)
    report.update({"train": str(args.train), "every": args.every, "offset": args.offset,
                   "test_share": args.test_share, "seed": args.seed, "pseudo_train_examples": len(train)})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    for d in report["designs"]:
        print(f"{d['design']:40s} {d.get('retention', ''):>5} acc {d['intent_accuracy']:.3f} "
              f"recall {d['handoff_recall']:.3f} auroc {d.get('auroc') or 0:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
