"""Reading a history file (handoff/core/forecast_csv.py): each bad file's error names its line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from handoff.core.forecast_csv import HistoryFileError, read_history, write_forecast

START = datetime(2026, 9, 7, 8, 0, tzinfo=UTC)


def lines(days: int = 14, interval: int = 30, header: str = "start,count", naive: bool = False) -> list[str]:
    """A valid file: 08:00-12:00 every day for ``days`` days."""
    rows = [header]
    for day in range(days):
        for step in range(4 * 60 // interval):
            start = START + timedelta(days=day, minutes=step * interval)
            rows.append(f"{(start.replace(tzinfo=None) if naive else start).isoformat()},{(day + step) % 5}")
    return rows


def test_a_valid_file_is_read_with_its_interval() -> None:
    history = read_history(lines(interval=15))
    assert history.interval == timedelta(minutes=15) and not history.naive
    assert history.rows[0] == (START, 0.0) and len(history.rows) == 14 * 16
    naive = read_history(lines(naive=True))
    assert naive.naive and naive.rows[0][0].tzinfo is None


def test_the_forecast_file_keeps_the_history_s_form() -> None:
    assert list(write_forecast([(START, 2.345)], naive=False)) == ["start,forecast\n",
                                                                    "2026-09-07T08:00:00+00:00,2.35\n"]
    assert list(write_forecast([(START, 0.0)], naive=True))[1] == "2026-09-07T08:00:00,0.00\n"


@pytest.mark.parametrize(("change", "message"), [
    (lambda f: ["time,contacts", *f[1:]], "line 1: the header must be 'start,count'"),
    (lambda f: [*f[:3], f[3] + ",7", *f[4:]], "line 4: expected 2 columns"),
    (lambda f: [*f[:3], "yesterday,3", *f[4:]], "line 4: 'yesterday' is not an ISO 8601 time"),
    (lambda f: [*f[:3], f[3].split(",")[0] + ",-2", *f[4:]], "line 4: the count -2 is negative"),
    (lambda f: [*f[:3], f[3].split(",")[0] + ",2.5", *f[4:]], "line 4: the count '2.5' is not a whole number"),
    (lambda f: [f[0], f[1], f[3], f[2], *f[4:]], "line 4: 2026-09-07T08:30:00\\+00:00 comes before line 3's"),
    (lambda f: [*f[:4], f[3], *f[4:]], "line 5: 2026-09-07T09:00:00\\+00:00 duplicates line 4's"),
    (lambda f: [*f[:3], "2026-09-07T09:00:00,1", *f[4:]], "line 4: .* mixes times with and without a UTC offset"),
    (lambda f: [*f[:3], "2026-09-07T08:45:00+00:00,1", *f[4:]], "line 4: 0:15:00 after the previous row, not a "
                                                                "multiple of the file's interval \\(0:30:00\\)"),
    (lambda f: [f[0], *[r.replace(":00:00+", ":10:00+").replace(":30:00+", ":40:00+") for r in f[1:]]],
     "line 2: 2026-09-07T08:10:00\\+00:00 is not on the 0:30:00 grid"),
    (lambda f: f[:1], "the file has 0 row\\(s\\)"),
    (lambda f: [], "the file is empty"),
    (lambda f: f[:8 * 9], "lines 2-72 cover 9 days; this needs at least 14 days of history \\(2 weeks\\)"),
], ids=["header", "columns", "time", "negative", "fraction", "unsorted", "duplicate", "mixed-offsets",
        "mixed-intervals", "off-grid", "no-rows", "empty", "too-little"])
def test_a_bad_file_is_refused_naming_the_line(change: object, message: str) -> None:
    assert callable(change)
    with pytest.raises(HistoryFileError, match=message):
        read_history(change(lines()))
