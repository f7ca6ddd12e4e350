"""``python -m handoff capacity simulate``: the validation on a small demo history (the actual configuration
replayed reproduces the measured waits and abandonment), a candidate side by side, and its mistakes."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from handoff.adapters.tickets import migrate
from handoff.cli import main
from handoff.cli.demo_month import demo_history
from handoff.cli.seed import seed_demo
from handoff.settings import ROOT, HandoffSettings

DAYS = 3
WAIT_TOLERANCE = (0.25, 30.0)
"""A replayed wait percentile is within 25% or 30 s (whichever is larger) of the measured one."""
ABANDONMENT_TOLERANCE = 0.05
"""The replayed abandonment rate is within 5 percentage points of the measured one."""


async def small_month(url: str) -> None:
    await migrate(url)
    await seed_demo(url, ROOT / "data" / "demo", "demo-password-1")
    settings = replace(HandoffSettings(), database_url=url)
    await demo_history(settings, days=DAYS, conversations=400, seed=3, progress=lambda _: None)


@pytest.fixture(scope="module")
def demo_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A seeded ticket log with three demo days (built once for the module: about half a minute)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('simulate') / 'handoff.sqlite3'}"
    asyncio.run(small_month(url))
    return url


def period() -> list[str]:
    until = datetime.fromtimestamp(time.time() // 86400 * 86400, UTC)
    since = datetime.fromtimestamp(until.timestamp() - DAYS * 86400, UTC)
    return ["--since", f"{since:%Y-%m-%d}", "--until", f"{until:%Y-%m-%d}"]


def simulate(url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
             ) -> dict[str, Any]:
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(["capacity", "simulate", *period(), "--demo", "--json", *args]) == 0
    return dict(json.loads(capsys.readouterr().out))


def within(replayed: float, measured: float) -> bool:
    share, seconds = WAIT_TOLERANCE
    return abs(replayed - measured) <= max(share * measured, seconds)


def test_the_actual_configuration_reproduces_the_measured_month(demo_database: str, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    found = simulate(demo_database, monkeypatch, capsys, "--seeds", "3")
    measured, replayed = found["measured"]["overall"], found["current"]["overall"]
    assert measured["queued"] >= 60 and replayed["queued"]["mean"] == measured["queued"]
    for figure in ("wait_p50", "wait_p90"):
        assert within(replayed[figure]["mean"], measured[figure]), (figure, replayed[figure], measured[figure])
    assert abs(replayed["abandonment"]["mean"] - measured["abandonment"]) <= ABANDONMENT_TOLERANCE
    assert found["candidate"] == found["current"]  # no candidate given: the same scenario, the same seeds


def test_a_candidate_roster_side_by_side(demo_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    roster = tmp_path / "roster.yml"
    roster.write_text("agents:\n  - {id: grace, capacity: 1, tiers: [1], shifts: {mon: '10:00-11:00'}}\n")
    found = simulate(demo_database, monkeypatch, capsys, "--roster", str(roster), "--seeds", "2")
    current, candidate = found["current"]["overall"], found["candidate"]["overall"]
    assert candidate["abandonment"]["mean"] > current["abandonment"]["mean"]
    assert len(found["candidate"]["agents"]) == 1 and len(found["current"]["agents"]) == 4  # grace alone
    monkeypatch.setenv("DATABASE_URL", demo_database)
    assert main(["capacity", "simulate", *period(), "--demo", "--roster", str(roster), "--seeds", "2"]) == 0
    text = capsys.readouterr().out
    assert "2 seeds" in text and "measured" in text and "candidate" in text and "tier 1" in text


def test_mistakes_are_sentences(demo_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DATABASE_URL", demo_database)
    assert main(["capacity", "simulate", "--since", "2026-11-09", "--until", "2026-11-02"]) == 2
    assert "The period is empty" in capsys.readouterr().err
    assert main(["capacity", "simulate", "--since", "9 Nov", "--until", "2026-11-02"]) == 2
    assert "--since must be a date" in capsys.readouterr().err
    bad = tmp_path / "bad.yml"
    bad.write_text("strategies: [{name: fastest}]\n")
    assert main(["capacity", "simulate", *period(), "--routing", str(bad)]) == 2
    assert "Unknown routing strategy 'fastest'" in capsys.readouterr().err
    bad.write_text("agents: [{id: x, capacity: 0}]\n")
    assert main(["capacity", "simulate", *period(), "--roster", str(bad)]) == 2
    assert "capacity must be a whole number" in capsys.readouterr().err
