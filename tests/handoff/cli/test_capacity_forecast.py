"""``python -m handoff capacity forecast`` end to end, in process, on a small CSV and on a ticket log."""

from __future__ import annotations

import asyncio
import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from handoff.adapters.tickets import TicketLog, migrate
from handoff.cli import main
from handoff.core.model import ConversationId, CustomerId
from tests.handoff.core.test_forecast import MONDAY, series


@pytest.fixture
def history_file(tmp_path: Path) -> Path:
    path = tmp_path / "contacts.csv"
    path.write_text("start,count\n" + "".join(f"{start.isoformat()},{int(count)}\n" for start, count in series(6)))
    return path


@pytest.fixture(autouse=True)
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'handoff.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    return url


def test_forecast_file_from_a_history_file(history_file: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "forecast.csv"
    assert main(["capacity", "forecast", "--history", str(history_file), "--days", "2", "--out", str(out)]) == 0
    with out.open() as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["start", "forecast"] and len(rows) == 1 + 2 * 24
    assert rows[1][0] == (MONDAY + timedelta(weeks=6, hours=8)).isoformat()
    assert all(float(value) > 0 for _, value in rows[1:])
    assert "48 intervals of 0:30:00 over 2 open days" in capsys.readouterr().err


def test_backtest_prints_both_wapes(history_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["capacity", "forecast", "--history", str(history_file), "--backtest", "--weeks", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("backtest: rolling origin, one week ahead, over the last 2 weeks (288 open intervals")
    model, baseline = (float(line.rsplit(" ", 1)[1].rstrip("%")) for line in out[1:3])
    assert model < baseline


def test_a_bad_file_is_a_sentence_naming_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("start,count\n2026-09-07T08:00:00+00:00,3\n2026-09-07T08:30:00+00:00,-1\n")
    assert main(["capacity", "forecast", "--history", str(path)]) == 2
    assert capsys.readouterr().err == f"error: {path}: line 3: the count -1 is negative.\n"
    assert main(["capacity", "forecast", "--history", str(tmp_path / "missing.csv")]) == 2
    assert "Cannot read" in capsys.readouterr().err
    assert main(["capacity", "forecast", "--history", str(path), "--tier", "2"]) == 2
    assert "a --history file has its own" in capsys.readouterr().err


async def conversations_in(url: str, days: int, zone: str = "UTC") -> None:
    """One conversation at 10:00 and two at 14:30 UTC on each of the ``days`` dates before today's in ``zone``."""
    await migrate(url)
    log = await TicketLog.open(url)
    try:
        today = datetime.combine(datetime.now(ZoneInfo(zone)).date(), datetime.min.time(), tzinfo=UTC)
        for day in range(1, days + 1):
            for number, minutes in enumerate((10 * 60, 14 * 60 + 30, 14 * 60 + 31)):
                at = today - timedelta(days=day, minutes=-minutes)
                await log.conversations.create_conversation(ConversationId(f"c{day}_{number}"), CustomerId("cu_1"),
                                                            "web", at)
    finally:
        await log.close()


def test_forecast_from_the_ticket_log(database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(conversations_in(database, 21))
    saved = tmp_path / "saved.csv"
    assert main(["capacity", "forecast", "--days", "1", "--history-days", "21", "--save-history", str(saved)]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0] == "start,forecast" and len(rows) == 1 + 48  # open all day (handoff/routing.yml)
    values = {datetime.fromisoformat(start).strftime("%H:%M"): float(v) for start, v in
              (row.split(",") for row in rows[1:])}
    assert values["10:00"] == pytest.approx(1.0, abs=0.01) and values["14:30"] == pytest.approx(2.0, abs=0.01)
    assert values["12:00"] == 0.0
    history = saved.read_text().splitlines()  # every open interval of the 21 days, in the --history format
    assert history[0] == "start,count" and len(history) == 1 + 21 * 48
    assert sum(int(line.split(",")[1]) for line in history[1:]) == 21 * 3
    assert main(["capacity", "forecast", "--history", str(saved), "--days", "1"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == rows[1:]  # the same forecast from the saved file


def test_a_timezone_off_the_half_hour_needs_quarter_hours(database: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(conversations_in(database, 14, "Asia/Kathmandu"))  # 10:00 UTC is 15:45 there, the same date
    routing = tmp_path / "routing.yml"
    routing.write_text("strategies:\n  - name: workload\nbusiness_hours:\n  timezone: Asia/Kathmandu\n")
    monkeypatch.setenv("HANDOFF_ROUTING", str(routing))
    assert main(["capacity", "forecast", "--days", "1"]) == 2
    assert "Asia/Kathmandu's midnight is not on a 30-minute boundary of UTC" in capsys.readouterr().err
    assert main(["capacity", "forecast", "--days", "1", "--interval", "15"]) == 0
    rows = [row.split(",") for row in capsys.readouterr().out.splitlines()[1:]]
    today = datetime.now(ZoneInfo("Asia/Kathmandu")).date()
    assert len(rows) == 96 and rows[0][0] == f"{today}T00:00:00+05:45"
    values = {start[11:16]: float(value) for start, value in rows}
    assert values["15:45"] == pytest.approx(1.0, abs=0.01)  # 10:00 UTC
    assert values["20:15"] == pytest.approx(2.0, abs=0.01)  # 14:30 and 14:31 UTC
