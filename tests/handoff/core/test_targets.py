"""The team's targets: the shipped file loads, and a wrong one is refused with its name."""

from __future__ import annotations

from pathlib import Path

import pytest

from handoff.core.errors import SettingsError
from handoff.core.targets import Targets, load_targets
from handoff.settings import HandoffSettings


def test_the_shipped_targets_load() -> None:
    targets = load_targets(HandoffSettings().targets_config)
    assert targets.queue_wait_seconds == 120 and targets.csat == 4.0
    assert set(targets.as_dict()) == {"queue_wait_seconds", "first_response_seconds", "resolution_seconds", "csat",
                                      "containment_rate", "handoff_rate", "sla_attainment"}


def test_missing_names_keep_their_defaults() -> None:
    assert Targets.from_mapping({"csat": 4.5}) == Targets(csat=4.5)
    assert Targets.from_mapping(None) == Targets()


@pytest.mark.parametrize(("raw", "words"), [
    ({"csatt": 4}, "unknown target(s) csatt"),
    ({"csat": 6}, "csat is an average rating"),
    ({"handoff_rate": 40}, "handoff_rate is a share"),
    ({"queue_wait_seconds": -1}, "queue_wait_seconds must be a positive number"),
    ({"queue_wait_seconds": "soon"}, "must be a positive number"),
    ([1, 2], "expected a mapping"),
])
def test_a_wrong_target_is_refused_by_name(raw: object, words: str) -> None:
    with pytest.raises(SettingsError, match=words.replace("(", r"\(").replace(")", r"\)")):
        Targets.from_mapping(raw)


def test_a_missing_or_broken_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read"):
        load_targets(tmp_path / "nowhere.yml")
    broken = tmp_path / "broken.yml"
    broken.write_text("csat: [")
    with pytest.raises(SettingsError, match="not valid YAML"):
        load_targets(broken)
