"""``python -m handoff report`` on the hand-built history (tests/handoff/adapters/tickets/history.py)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from handoff.adapters.tickets import TicketLog, migrate
from handoff.cli import main
from tests.handoff.adapters.tickets.history import build_history

PERIOD = ["--since", "2026-11-25", "--until", "2026-11-27"]


async def history_in(url: str) -> None:
    await migrate(url)
    log = await TicketLog.open(url)
    try:
        await build_history(log)
    finally:
        await log.close()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'handoff.sqlite3'}"
    asyncio.run(history_in(url))
    monkeypatch.setenv("DATABASE_URL", url)
    return url


def test_a_readable_table_per_agent(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", *PERIOD, "--by", "agent"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("QA metrics 2026-11-25T00:00:00+00:00 to 2026-11-27T00:00:00+00:00 (UTC)")
    assert lines[1].split()[:6] == ["since", "until", "agent", "convs", "contained", "handoff"]
    grace = next(line for line in lines if "Grace Hopper" in line)
    assert grace.startswith("2026-11-25  2026-11-27  Grace Hopper")
    assert grace.split()[4:8] == ["-", "-", "-", "2"]  # no conversations per agent; two tickets
    assert "45s" in grace and "100.0%" in grace  # mean wait... p50 45 s; SLA met on both


def test_csv_per_week_and_json(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", *PERIOD, "--bucket", "week", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("since,until,group,label,conversations,")
    assert lines[1].startswith("2026-11-23,2026-11-30,all,all,6,2,0.3333,4,0.6667,5,130.0,60.0,252.0,")
    assert main(["report", *PERIOD, "--format", "json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["rows"][0]["metrics"]["csat_average"] == 3.667 and found["timezone"] == "UTC"


def test_a_bad_period_is_a_sentence(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--since", "2026-11-27", "--until", "2026-11-25"]) == 2
    assert "The period is empty" in capsys.readouterr().err
