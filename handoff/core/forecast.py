"""Contacts per interval for the coming days, from a history of per-interval counts (docs/capacity.md).

The model is a Poisson model of the counts, ``log E[y(day, slot)] = a(weekday) + g * day + log p(weekday, slot)``,
fitted in its two factors, which is exactly how its maximum likelihood splits:

- **the day's volume**: a Poisson GLM (statsmodels) of each day's total on the weekday and a linear trend in days,
  with the day's open share of the profile as its exposure (a day the history has only partly counts only for
  that part). The trend is kept only where the data carry it: its quasi-Poisson z (the standard error scaled by
  the counts' overdispersion) must be at least :data:`TREND_Z`, otherwise the model has no trend.
- **the day's shape**: the share ``p`` of each interval of the day in its weekday's total, the pooled proportion
  over the history's weeks, shrunk towards one shape shared by every weekday (an empirical-Bayes, Dirichlet
  prior mean) with a strength chosen on the history's own last weeks: a busy service gets each weekday's own
  shape, a quiet one (a few contacts an interval) the steadier shared one.

The open intervals are those the history shows: a weekday and time of day never seen in the history stay
closed; with :class:`~handoff.core.routing.schedule.BusinessHours`, an interval it closes (hours, holidays) gets
no forecast either. The baseline every forecast is compared with is the same interval a week before
(:func:`week_before`); :func:`backtest` measures both by rolling origin, in WAPE.

How it can fail: a year's seasons (December) are not in it beyond the trend; a trend fitted on a few weeks
extrapolates for the whole horizon, so forecast days, not months; a change of opening hours shows only once the
history has it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

import numpy as np

from handoff.core.routing.schedule import SEARCH_DAYS, BusinessHours

DAY = timedelta(days=1)
WEEK = timedelta(days=7)
MIN_DAYS = 14
"""The history a forecast needs: two weeks (one to learn each weekday from, one to check the shape on)."""
TREND_Z = 2.0
"""How sure (quasi-Poisson z) the daily trend must be to be extrapolated."""
SHRINK_DAYS = (0.0, 0.5, 2.0, 8.0, math.inf)
"""The candidate prior strengths (in days of the weekday's volume) pulling each weekday's shape to the shared one."""
HOLDOUT_WEEKS = 2

Series = Sequence[tuple[datetime, float]]


class ForecastError(ValueError):
    """The history cannot be forecast from (too short, unsorted, off its interval); the message says why."""


@dataclass(frozen=True)
class Accuracy:
    """A rolling-origin backtest: the WAPE of the model and of the week-before baseline over the same intervals.

    Attributes:
        weeks: how many one-week-ahead origins were tested (the history's last weeks).
        intervals: the open intervals scored.
        contacts: their actual contacts (WAPE's denominator).
        model_wape: sum |actual - forecast| / sum actual, of the model.
        baseline_wape: the same, of the same interval a week before.
    """

    weeks: int
    intervals: int
    contacts: float
    model_wape: float
    baseline_wape: float


def _slot(moment: datetime, interval: timedelta) -> int:
    return (moment.hour * 3600 + moment.minute * 60 + moment.second) // int(interval.total_seconds())


def _local(history: Series, hours: BusinessHours | None) -> list[tuple[datetime, float]]:
    if hours is None:
        return list(history)
    return [(start.astimezone(hours.tz), float(count)) for start, count in history]


def check(history: Series, interval: timedelta, minimum_days: int = MIN_DAYS) -> None:
    """Raise :class:`ForecastError` unless ``history`` is sorted, unique, on ``interval``'s grid and long enough."""
    seconds = interval.total_seconds()
    if seconds <= 0 or 86400 % seconds or seconds % 60:
        raise ForecastError(f"The interval must be whole minutes that divide a day, not {interval}.")
    for index, (start, count) in enumerate(history):
        if _slot(start, interval) * seconds != start.hour * 3600 + start.minute * 60 + start.second \
                or start.microsecond:
            raise ForecastError(f"{start.isoformat()} is not on the {interval} grid.")
        if count < 0 or not math.isfinite(count):
            raise ForecastError(f"{start.isoformat()} has a negative or invalid count ({count}).")
        if index and start <= history[index - 1][0]:
            raise ForecastError(f"{start.isoformat()} comes after {history[index - 1][0].isoformat()}: "
                                "the history must be sorted without duplicates.")
    days = (history[-1][0].date() - history[0][0].date()).days + 1 if history else 0
    if days < minimum_days:
        raise ForecastError(f"The history covers {days} days; a forecast needs at least {minimum_days} "
                            f"({minimum_days // 7} weeks).")


def _by_day(history: list[tuple[datetime, float]], interval: timedelta) -> dict[date, dict[int, float]]:
    days: dict[date, dict[int, float]] = {}
    for start, count in history:
        days.setdefault(start.date(), {})[_slot(start, interval)] = count
    return days


def _shapes(days: dict[date, dict[int, float]], shrink: float) -> dict[int, dict[int, float]]:
    """Each weekday's share of its day's contacts per open slot: its own proportions, shrunk with a prior
    strength of ``shrink`` days of its volume towards the shape all weekdays share (renormalised to its slots)."""
    shared: dict[int, float] = {}
    own: dict[int, dict[int, float]] = {}
    seen = dict.fromkeys(range(7), 0)
    for day, slots in days.items():
        seen[day.weekday()] += 1
        weekday_counts = own.setdefault(day.weekday(), {})
        for slot, count in slots.items():
            weekday_counts[slot] = weekday_counts.get(slot, 0.0) + count
            shared[slot] = shared.get(slot, 0.0) + count
    shapes: dict[int, dict[int, float]] = {}
    for weekday, counts in own.items():
        open_slots = sorted(counts)
        prior = np.array([shared[s] for s in open_slots]) + 1e-9
        prior /= prior.sum()
        own_counts = np.array([counts[s] for s in open_slots])
        total = own_counts.sum()
        if math.isinf(shrink) or total == 0:
            share = prior
        else:
            strength = shrink * total / seen[weekday]
            share = (own_counts + strength * prior) / (total + strength)
        shapes[weekday] = dict(zip(open_slots, share.tolist(), strict=True))
    return shapes


class Model:
    """The fitted model: the daily GLM's coefficients and the weekday shapes (see the module's docstring)."""

    def __init__(self, history: list[tuple[datetime, float]], interval: timedelta, shrink: float) -> None:
        self.interval = interval
        self.origin = history[0][0].date()
        days = _by_day(history, interval)
        self.shapes = _shapes(days, shrink)
        self.open = {w: sorted(self.shapes.get(w, {})) for w in range(7)}
        rows = sorted(days.items())
        self.weekdays = sorted(self.shapes)
        x = np.array([[float(d.weekday() == w) for w in self.weekdays] + [float((d - self.origin).days)]
                      for d, _ in rows])
        y = np.array([sum(slots.values()) for _, slots in rows])
        exposure = np.array([sum(self.shapes[d.weekday()][s] for s in slots) for d, slots in rows])
        self.params = self._glm(x, y, np.maximum(exposure, 1e-6))

    @staticmethod
    def _glm(x: np.ndarray, y: np.ndarray, exposure: np.ndarray) -> np.ndarray:
        """Log daily volume per weekday and the trend per day (0 unless sure: :data:`TREND_Z`)."""
        # statsmodels (and the pandas it brings) takes over a second to import: only when a forecast is made,
        # not by every process that imports the service (the alerts part reaches this module)
        import statsmodels.api as sm
        from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

        params = np.full(x.shape[1], -np.inf)
        params[-1] = 0.0
        keep = np.append(x[:, :-1].T @ y > 0, True)  # a weekday without any contact: volume 0, no coefficient
        rows = x[:, :-1] @ keep[:-1] > 0
        if not keep[:-1].any():
            return params
        for with_trend in (True, False):
            keep[-1] = with_trend
            with warnings.catch_warnings():  # a history that is its pattern exactly (no noise) is no error
                warnings.simplefilter("ignore", PerfectSeparationWarning)
                fit = sm.GLM(y[rows], x[rows][:, keep], family=sm.families.Poisson(),
                             exposure=exposure[rows]).fit()
            if not with_trend:
                break
            # quasi-Poisson: the standard error scaled by the overdispersion (never below Poisson's)
            dispersion = max(fit.pearson_chi2 / fit.df_resid, 1.0) if fit.df_resid > 0 else math.inf
            if abs(fit.tvalues[-1]) / math.sqrt(dispersion) >= TREND_Z:
                break
        params[keep] = fit.params
        return params

    def volume(self, day: date) -> float:
        """The expected contacts of the whole (open) day."""
        if day.weekday() not in self.weekdays:
            return 0.0
        linear = self.params[self.weekdays.index(day.weekday())] + self.params[-1] * (day - self.origin).days
        return math.exp(min(linear, 50.0))

    def predict(self, starts: Iterable[datetime]) -> list[tuple[datetime, float]]:
        """The expected contacts of each interval start (in the history's wall time); 0 where it was never open."""
        return [(start, self.volume(start.date()) * self.shapes.get(start.weekday(), {}).get(
            _slot(start, self.interval), 0.0)) for start in starts]


def _starts(day: date, slots: Sequence[int], interval: timedelta, zone: tzinfo | None) -> list[datetime]:
    midnight = datetime.combine(day, time(0), tzinfo=zone)
    return [midnight + slot * interval for slot in slots]


def _shrink(history: list[tuple[datetime, float]], interval: timedelta) -> float:
    """The prior strength whose shapes split the history's last weeks' actual daily totals best."""
    cut = history[-1][0] - HOLDOUT_WEEKS * WEEK
    train = [row for row in history if row[0] <= cut]
    if not train or (train[-1][0] - train[0][0]) < MIN_DAYS * DAY:
        return 2.0
    test = _by_day([row for row in history if row[0] > cut], interval)
    train_days = _by_day(train, interval)
    errors = []
    for shrink in SHRINK_DAYS:
        shapes = _shapes(train_days, shrink)
        error = 0.0
        for day, slots in test.items():
            shape = shapes.get(day.weekday(), {})
            share = np.array([shape.get(s, 0.0) for s in slots])
            counts = np.array(list(slots.values()))
            if share.sum() > 0:
                error += float(np.abs(counts - counts.sum() * share / share.sum()).sum())
        errors.append(error)
    return SHRINK_DAYS[int(np.argmin(errors))]


def fit(history: Series, interval: timedelta, hours: BusinessHours | None = None,
        shrink: float | None = None) -> Model:
    """The model fitted on ``history`` (see :func:`forecast`); ``shrink`` fixes the shapes' prior strength (in days;
    0: each weekday's own shape, ``math.inf``: one shape for all) instead of choosing it on the last weeks."""
    local = _local(history, hours)
    check(local, interval)
    return Model(local, interval, _shrink(local, interval) if shrink is None else shrink)


def forecast(history: Series, days: int, interval: timedelta,
             hours: BusinessHours | None = None) -> list[tuple[datetime, float]]:
    """Expected contacts per open interval of the ``days`` open days after the history's last day.

    Args:
        history: ``(interval start, contacts)`` of every open interval, sorted (aware datetimes, or naive ones
            all in one wall time); an interval missing from it counts as closed that day (a holiday).
        days: how many days to forecast: days with at least one open interval (a closed day is skipped).
        interval: the history's interval (15 or 30 minutes; any whole minutes that divide a day).
        hours: the business hours: their timezone sets the weekdays and times of day, and an interval they
            close gets no forecast. None: the history's own timestamps (and only its open intervals).

    Returns:
        ``(interval start, expected contacts)`` of each open interval, in time order; closed intervals are absent.

    Raises:
        ForecastError: the history is too short, unsorted, duplicated or off the interval's grid; or the hours
            never open when the history did.
    """
    model = fit(history, interval, hours)
    last = _local(history[-1:], hours)[0][0]
    zone = last.tzinfo
    result: list[tuple[datetime, float]] = []
    day, counted = last.date(), 0
    while counted < days:
        day += DAY
        if (day - last.date()).days > days + SEARCH_DAYS:
            raise ForecastError(f"The history's open intervals and the business hours do not meet on {days} days "
                                f"within {SEARCH_DAYS} days after the history.")
        starts = _starts(day, model.open[day.weekday()], interval, zone)
        if hours is not None:
            starts = [start for start in starts if hours.is_open(start)]
        if starts:
            counted += 1
            result += model.predict(starts)
    return result


def open_series(counts: Iterable[tuple[float, int]], since: datetime, until: datetime, interval: timedelta,
                hours: BusinessHours) -> list[tuple[datetime, float]]:
    """A history in :func:`forecast`'s form from counted contacts: every interval of ``[since, until)`` the
    business hours open, from the local day of the first contact on, with its count (0 where none came), as
    local times of the hours' timezone.

    Args:
        counts: ``(interval start in epoch seconds, contacts)`` of the intervals with a contact (the ticket log's
            counts: intervals aligned to UTC midnight).
    """
    found = dict(counts)
    if not found:
        return []
    first = datetime.fromtimestamp(min(found), hours.tz)
    start = max(since, datetime.combine(first.date(), time(0), tzinfo=hours.tz)).astimezone(UTC)
    series: list[tuple[datetime, float]] = []
    while start < until:
        if hours.is_open(start):
            series.append((start.astimezone(hours.tz), float(found.get(start.timestamp(), 0))))
        start += interval
    return series


def week_before(history: Series, starts: Iterable[datetime]) -> list[tuple[datetime, float]]:
    """The baseline: each start's count of the same interval a week before (the latest earlier week that has it,
    0 if none)."""
    counts = {start: count for start, count in history}
    first = min(counts) if counts else None
    result = []
    for start in starts:
        back, value = start - WEEK, 0.0
        while first is not None and back >= first:
            if back in counts:
                value = counts[back]
                break
            back -= WEEK
        result.append((start, float(value)))
    return result


def backtest(history: Series, interval: timedelta, hours: BusinessHours | None = None,
             weeks: int = 4) -> Accuracy:
    """Rolling origin over the history's last ``weeks`` weeks: from each origin, fit on everything before and
    forecast the week after, for the model and :func:`week_before`; WAPE of each over all those weeks.

    Raises:
        ForecastError: the history is bad, or shorter than ``weeks`` weeks plus the :data:`MIN_DAYS` a fit needs.
    """
    local = _local(history, hours)
    check(local, interval, MIN_DAYS + 7 * weeks)
    end = local[-1][0] + interval
    actual_total = model_error = baseline_error = 0.0
    scored = 0
    for back in range(weeks, 0, -1):
        origin = end - back * WEEK
        train = [row for row in local if row[0] < origin]
        test = [row for row in local if origin <= row[0] < origin + WEEK]
        predicted = fit(train, interval).predict(start for start, _ in test)
        baseline = week_before(train, (start for start, _ in test))
        for (_, actual), (_, model), (_, base) in zip(test, predicted, baseline, strict=True):
            actual_total += actual
            model_error += abs(actual - model)
            baseline_error += abs(actual - base)
        scored += len(test)
    if actual_total == 0:
        raise ForecastError("The history's last weeks have no contacts: there is nothing to measure WAPE on.")
    return Accuracy(weeks, scored, actual_total, model_error / actual_total, baseline_error / actual_total)
