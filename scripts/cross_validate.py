"""Cross-validate NLU configurations on a training set alone: the way to tune without a test split.

``python scripts/cross_validate.py --data build/datasets/xsid_zh/train.yml --config config_zh.yml
--config other.yml [--folds 5] [--out build/eval/cv_xsid_zh.json]``

The examples of ``--data`` are split into ``--folds`` folds, stratified by intent (each intent's
examples dealt round-robin in a seeded shuffle); each configuration is trained on all folds but one
and scored on that one with ``python -m bot.evaluate``, and the report gives each configuration's
mean and per-fold intent accuracy. The test split is never read.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.convert_datasets import write_nlu  # noqa: E402

RASA_PY = ROOT / ".venv" / "rasa" / "bin" / "python"


def read_nlu(path: Path) -> list[tuple[str, str]]:
    """``(text, intent)`` pairs of a Rasa NLU YAML file as ``write_nlu`` writes it."""
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [(line[2:].strip(), block["intent"]) for block in data.get("nlu", []) if "intent" in block
            for line in str(block["examples"]).splitlines() if line.startswith("- ")]


def folds(examples: list[tuple[str, str]], k: int, seed: int = 0) -> list[list[tuple[str, str]]]:
    """``k`` folds, each intent's examples shuffled (seeded) and dealt round-robin."""
    by_intent: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for example in examples:
        by_intent[example[1]].append(example)
    rng = random.Random(seed)
    out: list[list[tuple[str, str]]] = [[] for _ in range(k)]
    slot = 0
    for intent in sorted(by_intent):
        group = by_intent[intent]
        rng.shuffle(group)
        for example in group:
            out[slot % k].append(example)
            slot += 1
    return out


def cross_validate(data: Path, configs: list[Path], k: int, work: Path) -> dict[str, Any]:
    parts = folds(read_nlu(data), k)
    results: dict[str, Any] = {"data": str(data), "folds": k, "configs": {}}
    for config in configs:
        scores = []
        for i in range(k):
            fold_dir = work / f"fold{i}"
            write_nlu(fold_dir / "train.yml", [e for j, part in enumerate(parts) if j != i for e in part])
            write_nlu(fold_dir / "test.yml", parts[i])
            report = fold_dir / f"{config.stem}.json"
            subprocess.run([str(RASA_PY), "-m", "bot.evaluate", "--config", str(config),
                            "--train", str(fold_dir / "train.yml"), "--test", str(fold_dir / "test.yml"),
                            "--out", str(report)], cwd=ROOT, check=True, capture_output=True)
            scores.append(json.loads(report.read_text())["intent_accuracy"])
        results["configs"][str(config)] = {"mean_intent_accuracy": round(sum(scores) / k, 4), "per_fold": scores}
        print(f"{config}: {100 * sum(scores) / k:.1f}% ({', '.join(f'{100 * s:.1f}' for s in scores)})", flush=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--config", type=Path, action="append", required=True)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    work = ROOT / "build" / "cv" / args.data.parent.name
    results = cross_validate(args.data, args.config, args.folds, work)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
