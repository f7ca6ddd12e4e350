"""The folds of scripts/cross_validate.py: every example once, each intent spread over the folds."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from scripts.convert_datasets import write_nlu
from scripts.cross_validate import folds, read_nlu


def test_folds_are_stratified_by_intent_and_cover_every_example_once(tmp_path: Path) -> None:
    examples = [(f"天气 {i}", "weather_find") for i in range(10)] + [(f"闹钟 {i}", "alarm_set_alarm") for i in range(5)]
    write_nlu(tmp_path / "train.yml", examples)
    assert sorted(read_nlu(tmp_path / "train.yml")) == sorted(examples)
    parts = folds(examples, 5)
    assert sorted(e for part in parts for e in part) == sorted(examples)
    for part in parts:
        assert Counter(i for _, i in part) == {"weather_find": 2, "alarm_set_alarm": 1}
    assert folds(examples, 5) == parts  # seeded
