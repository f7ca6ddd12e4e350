"""scripts/forecast_alternatives.py: the comparison docs/capacity.md quotes, on its busy synthetic history."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from scripts import forecast_alternatives


def test_every_alternative_is_backtested_and_the_model_leads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "busy.csv"
    monkeypatch.setattr(sys, "argv", ["forecast_alternatives.py", str(path), "--synthetic", "--weeks", "2"])
    assert forecast_alternatives.main() == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{path}: 1152 intervals of 0:30:00; rolling origin over the last 2 weeks"
    wape = {line[:60].strip(): float(line.split("WAPE")[1].split("%")[0]) for line in lines[1:]}
    assert list(wape) == [name[:58].strip() for name in forecast_alternatives.METHODS]
    model = wape["model (shapes shrunk, chosen on the last weeks)"]
    assert model == min(wape.values())
    assert model < 0.85 * wape["same interval a week before (baseline)"]
