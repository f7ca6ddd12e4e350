"""``python -m handoff capacity plan`` on the small contact history (tests/handoff/adapters/tickets/traffic.py)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from handoff.adapters.tickets import TicketLog, migrate
from handoff.cli import main
from tests.handoff.adapters.tickets.traffic import build_traffic


async def traffic_in(url: str) -> None:
    await migrate(url)
    log = await TicketLog.open(url)
    try:
        await build_traffic(log)
    finally:
        await log.close()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'handoff.sqlite3'}"
    asyncio.run(traffic_in(url))
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("HANDOFF_ABANDON_AFTER", "120")
    return url


def test_a_table_per_interval(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["capacity", "plan", "--date", "2026-12-07", "--demand", "recent"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Staffing plan from 2026-12-07, 1 day(s), 30-minute intervals (UTC)")
    assert lines[1] == ("Demand: measured arrivals, same weekday and interval averaged over the last 4 weeks.")
    assert "handle time 600 s (12 tickets), patience 170 s (4 of 16 contacts abandoned), concurrency 2.00" in lines[2]
    assert lines[4].split() == ["start", "demand", "req", "C", "req", "A", "scheduled", "gap", "SL", "wait", "s",
                                "abandon"]
    nine = next(line for line in lines if line.startswith("Mon 12-07 09:00"))
    assert nine.split()[3:7] == ["4.0", "3", "3", "1.0"] and "!-2.0" in nine  # 3 servers: 3 / (2 · 0.7) = 2.1
    assert lines[-1] == "1 of 48 open intervals understaffed."


def test_json_and_targets(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["capacity", "plan", "--date", "2026-12-07", "--json", "--shrinkage", "0", "--interval", "60",
                 "--demand", "recent"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["target"] == {"service_level": 0.8, "within": 60.0, "occupancy": 0.85, "shrinkage": 0.0}
    nine = found["intervals"][9]
    assert nine["start"] == "2026-12-07T09:00:00+00:00" and nine["demand"] == 4.0 and nine["scheduled"] == 1.0
    assert found["understaffed_intervals"] == sum(row["understaffed"] for row in found["intervals"])


def test_bad_targets_are_refused(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["capacity", "plan", "--target", "1.5"])
    assert "not a share between 0 and 1" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="service level target must be between 0 and 1"):
        main(["capacity", "plan", "--target", "1"])


def test_the_demand_is_forecast_where_the_history_allows(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Four weeks of Mondays (four live contacts at 09:00 each) forecast four at Monday 09:00, nothing else; a
    plan whose history is under two weeks falls back to the recent average and says why."""
    assert main(["capacity", "plan", "--date", "2026-12-07", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["demand_source"].startswith("forecast of the live hand-offs from the last 84 days")
    demand = {row["start"][11:16]: row["demand"] for row in found["intervals"] if row["demand"] > 0.01}
    assert demand == {"09:00": pytest.approx(4.0, abs=0.01)}

    assert main(["capacity", "plan", "--date", "2026-11-20", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["demand_source"].startswith("measured arrivals, same weekday and interval averaged over the last "
                                             "4 weeks (too little history to forecast: The history covers")
