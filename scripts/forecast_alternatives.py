"""The forecast's alternatives, backtested alike: why docs/capacity.md's "Forecast" uses the model it uses.

::

    .venv/app/bin/python scripts/forecast_alternatives.py HISTORY.csv [--weeks 4]
    .venv/app/bin/python scripts/forecast_alternatives.py busy.csv --synthetic   # write a busy synthetic history

On a history in the ``capacity forecast --history`` format (``--save-history`` writes the ticket log's), rolls the
origin over the last ``--weeks`` weeks (one week ahead from each, as :func:`handoff.core.forecast.backtest`) and
prints the WAPE of: the model (:mod:`handoff.core.forecast`), the model with each weekday's own shape (no
shrinkage: the weekday-by-interval Poisson GLM's estimate) and with one shape for all weekdays, the same interval
a week before (the baseline), the mean of the same interval over the four weeks before, and Holt-Winters
(statsmodels' ``ExponentialSmoothing``, additive weekly season, the closed intervals filled with 0).

``--synthetic`` first writes HISTORY.csv: eight weeks of a busy service (about 25 contacts a half hour, open
08:00-20:00 Monday to Saturday) whose weekdays have shapes of their own (the morning peak moves later through the
week, Saturday peaks at noon), Poisson counts, seed 7: a history where each weekday's own shape is worth learning.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from handoff.core.forecast import WEEK, fit, week_before
from handoff.core.forecast_csv import read_history

Rows = list[tuple[datetime, float]]
Method = Callable[[Rows, list[datetime], timedelta], list[float]]


def model(shrink: float | None) -> Method:
    return lambda train, starts, interval: [v for _, v in fit(train, interval, shrink=shrink).predict(starts)]


def baseline(train: Rows, starts: list[datetime], interval: timedelta) -> list[float]:
    return [v for _, v in week_before(train, starts)]


def four_week_mean(train: Rows, starts: list[datetime], interval: timedelta) -> list[float]:
    counts = dict(train)
    return [float(np.mean([counts.get(start - k * WEEK, 0.0) for k in range(1, 5)])) for start in starts]


def holt_winters(train: Rows, starts: list[datetime], interval: timedelta) -> list[float]:
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    counts = dict(train)
    grid = [train[0][0] + i * interval for i in range(int((train[-1][0] - train[0][0]) / interval) + 1)]
    season = int(WEEK / interval)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its optimiser's convergence notes
        fitted = ExponentialSmoothing(np.array([counts.get(t, 0.0) for t in grid]), seasonal="add",
                                      seasonal_periods=season, initialization_method="heuristic").fit()
    ahead = fitted.forecast(int((starts[-1] - grid[-1]) / interval))
    return [max(float(ahead[int((start - grid[-1]) / interval) - 1]), 0.0) for start in starts]


METHODS: dict[str, Method] = {
    "model (shapes shrunk, chosen on the last weeks)": model(None),
    "model, each weekday's own shape (GLM weekday x interval)": model(0.0),
    "model, one shape for all weekdays": model(math.inf),
    "same interval a week before (baseline)": baseline,
    "mean of the same interval, 4 weeks before": four_week_mean,
    "Holt-Winters, additive weekly season (statsmodels)": holt_winters,
}


def synthetic(path: Path) -> None:
    rng = np.random.default_rng(7)
    start = datetime(2026, 9, 7)
    lines = ["start,count\n"]
    for step in range(8 * 7 * 48):
        moment = start + step * timedelta(minutes=30)
        hour, weekday = moment.hour + moment.minute / 60, moment.weekday()
        if weekday == 6 or not 8 <= hour < 20:
            continue
        peak = 12.0 if weekday == 5 else 9.5 + 1.2 * weekday
        mean = (12 if weekday == 5 else 25) * (0.35 + math.exp(-((hour - peak) / 2.0) ** 2))
        lines.append(f"{moment.isoformat()},{rng.poisson(mean)}\n")
    path.write_text("".join(lines), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("history", type=Path)
    parser.add_argument("--weeks", type=int, default=4)
    parser.add_argument("--synthetic", action="store_true", help="first write a busy synthetic history there")
    args = parser.parse_args()
    if args.synthetic:
        synthetic(args.history)
    with args.history.open(encoding="utf-8") as lines:
        history = read_history(lines, minimum_days=14 + 7 * args.weeks)
    rows, interval = history.rows, history.interval
    end = rows[-1][0] + interval
    print(f"{args.history}: {len(rows)} intervals of {interval}; rolling origin over the last {args.weeks} weeks")
    for name, method in METHODS.items():
        clock, error, total = time.perf_counter(), 0.0, 0.0
        for back in range(args.weeks, 0, -1):
            origin = end - back * WEEK
            train = [row for row in rows if row[0] < origin]
            test = [row for row in rows if origin <= row[0] < origin + WEEK]
            predicted = method(train, [start for start, _ in test], interval)
            error += sum(abs(actual - value) for (_, actual), value in zip(test, predicted, strict=True))
            total += sum(actual for _, actual in test)
        print(f"  {name:58s} WAPE {error / total:6.1%}   ({time.perf_counter() - clock:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
