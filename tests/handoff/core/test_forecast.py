"""The forecast (handoff/core/forecast.py) on synthetic series whose pattern is known."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from handoff.core.forecast import ForecastError, backtest, forecast, week_before
from handoff.core.routing.schedule import BusinessHours

HALF_HOUR = timedelta(minutes=30)
MONDAY = datetime(2026, 9, 7, tzinfo=UTC)
SATURDAY_FACTOR = 0.5


def pattern(moment: datetime, scale: float = 6.0) -> float:
    """Expected contacts: a midday peak, Saturdays half as busy, closed 20:00-08:00 and on Sundays."""
    hour = moment.hour + moment.minute / 60
    if moment.weekday() == 6 or not 8 <= hour < 20:
        return 0.0
    day = SATURDAY_FACTOR if moment.weekday() == 5 else 1.0
    return scale * day * (0.4 + math.sin((hour - 8) / 12 * math.pi))


def series(weeks: int, noise: bool = True, growth: float = 0.0, seed: int = 3) -> list[tuple[datetime, float]]:
    """Every open half hour of ``weeks`` weeks from MONDAY: Poisson counts around :func:`pattern` (or the pattern
    itself), growing by ``growth`` a day."""
    rng = np.random.default_rng(seed)
    rows = []
    for step in range(weeks * 7 * 48):
        start = MONDAY + step * HALF_HOUR
        mean = pattern(start) * (1 + growth) ** (step // 48)
        if mean > 0:
            rows.append((start, float(rng.poisson(mean)) if noise else mean))
    return rows


def test_forecast_recovers_a_known_weekly_pattern() -> None:
    history = series(4, noise=False)
    rows = forecast(history, 7, HALF_HOUR)
    assert rows[0][0] == MONDAY + timedelta(weeks=4, hours=8)  # the first open interval after the history
    assert len(rows) == 7 * 24  # seven open days of 24 half hours: Sunday, never open, is skipped
    assert {start.weekday() for start, _ in rows} == {0, 1, 2, 3, 4, 5}
    assert rows[-1][0].date() == date(2026, 10, 12)
    for start, value in rows:
        assert value == pytest.approx(pattern(start), rel=1e-3)


def test_model_beats_the_week_before_baseline_on_a_noisy_weekly_pattern() -> None:
    accuracy = backtest(series(6), HALF_HOUR, weeks=2)
    assert accuracy.weeks == 2 and accuracy.intervals == 2 * 6 * 24
    assert accuracy.model_wape < 0.8 * accuracy.baseline_wape
    history = series(6)
    tested = [(start, count) for start, count in history if start >= MONDAY + timedelta(weeks=4)]
    oracle = sum(abs(count - pattern(start)) for start, count in tested) / sum(count for _, count in tested)
    assert accuracy.model_wape < 1.1 * oracle  # within 10% of knowing the pattern (the noise's own WAPE)


def test_a_real_trend_is_followed() -> None:
    history = series(5, growth=0.02)
    rows = forecast(history, 6, HALF_HOUR)
    last_week = sum(count for start, count in history if start >= MONDAY + timedelta(weeks=4))
    assert sum(value for _, value in rows) > 1.05 * last_week  # about 15% more a week later


def test_closed_hours_and_holidays_get_no_forecast() -> None:
    history = series(3)
    holiday = date(2026, 9, 29)  # the Tuesday after the history
    hours = BusinessHours("UTC", [((8 * 60, 18 * 60),)] * 6 + [()], frozenset({holiday}))
    rows = forecast(history, 3, HALF_HOUR, hours)
    days = sorted({start.date() for start, _ in rows})
    assert days == [date(2026, 9, 28), date(2026, 9, 30), date(2026, 10, 1)]  # the holiday skipped, not counted
    assert all(8 <= start.hour < 18 for start, _ in rows)  # open until 20:00 in the history, 18:00 now
    assert len(rows) == 3 * 20


def test_hours_that_never_open_when_the_history_did_are_an_error() -> None:
    sundays_only = BusinessHours("UTC", [(), (), (), (), (), (), ((0, 24 * 60),)])
    with pytest.raises(ForecastError, match="do not meet on 2 days within 400 days"):
        forecast(series(3), 2, HALF_HOUR, sundays_only)


def test_the_business_timezone_sets_the_days() -> None:
    hours = BusinessHours("Europe/Berlin")
    rows = forecast(series(3), 1, HALF_HOUR, hours)
    assert rows[0][0].utcoffset() == timedelta(hours=2)  # Berlin's summer time
    assert rows[0][0].hour == 10  # 08:00 UTC in the history is 10:00 in Berlin


def test_the_baseline_is_the_same_interval_a_week_before() -> None:
    history = [(MONDAY, 3.0), (MONDAY + timedelta(hours=1), 5.0)]
    later = [MONDAY + timedelta(weeks=1), MONDAY + timedelta(weeks=2, hours=1), MONDAY + timedelta(weeks=1, hours=2)]
    assert week_before(history, later) == [(later[0], 3.0), (later[1], 5.0), (later[2], 0.0)]


def test_too_little_history_says_how_much_is_needed() -> None:
    with pytest.raises(ForecastError, match="covers 6 days; a forecast needs at least 14"):
        forecast(series(1), 7, HALF_HOUR)
    with pytest.raises(ForecastError, match="needs at least 42"):
        backtest(series(5), HALF_HOUR, weeks=4)


def test_an_unsorted_or_off_grid_history_is_refused() -> None:
    history = series(3)
    with pytest.raises(ForecastError, match="sorted without duplicates"):
        forecast([history[1], *history], 7, HALF_HOUR)
    with pytest.raises(ForecastError, match="not on the 0:30:00 grid"):
        forecast([(history[0][0] + timedelta(minutes=10), 1.0), *history[1:]], 7, HALF_HOUR)
