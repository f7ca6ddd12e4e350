"""The forecast's files: a history ``start,count`` in, a forecast ``start,forecast`` out (docs/capacity.md).

A history has the header ``start,count``, then one row per open interval: its start in ISO 8601 (all with a UTC
offset, or all without) and its contacts (a whole number, 0 or more), in time order, at one fixed interval that
divides a day (15 or 30 minutes, an hour...). Intervals the service was closed are simply absent. Every problem
is a :class:`HistoryFileError` naming the line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from handoff.core.forecast import MIN_DAYS, ForecastError

HEADER = ("start", "count")


class HistoryFileError(ForecastError):
    """A history file the forecast cannot read; the message names the line."""


@dataclass(frozen=True)
class History:
    """A history file's rows, its interval, and whether its times carry no UTC offset (the forecast's won't)."""

    rows: list[tuple[datetime, float]]
    interval: timedelta
    naive: bool


def _row(number: int, line: str, naive: bool | None) -> tuple[datetime, float]:
    cells = [cell.strip() for cell in line.split(",")]
    if len(cells) != 2:
        raise HistoryFileError(f"line {number}: expected 2 columns (start,count), found {len(cells)}.")
    try:
        start = datetime.fromisoformat(cells[0])
    except ValueError:
        raise HistoryFileError(f"line {number}: {cells[0]!r} is not an ISO 8601 time.") from None
    if naive is not None and (start.tzinfo is None) != naive:
        raise HistoryFileError(f"line {number}: {cells[0]!r} mixes times with and without a UTC offset.")
    try:
        count = int(cells[1])
    except ValueError:
        raise HistoryFileError(f"line {number}: the count {cells[1]!r} is not a whole number.") from None
    if count < 0:
        raise HistoryFileError(f"line {number}: the count {count} is negative.")
    return start, float(count)


def _interval(starts: Sequence[datetime], numbers: Sequence[int]) -> timedelta:
    """The most common gap between consecutive rows; every gap a multiple of it, every start on its grid."""
    gaps = [later - earlier for earlier, later in pairwise(starts)]
    interval = Counter(gaps).most_common(1)[0][0]
    seconds = interval.total_seconds()
    if seconds % 60 or 86400 % seconds:
        raise HistoryFileError(f"the rows are {interval} apart, which does not divide a day into whole minutes.")
    for index, gap in enumerate(gaps, 1):
        if gap % interval:
            raise HistoryFileError(f"line {numbers[index]}: {gap} after the previous row, not a multiple of the "
                                   f"file's interval ({interval}): mixed intervals.")
    for number, start in zip(numbers, starts, strict=True):
        if (start.hour * 3600 + start.minute * 60 + start.second) % seconds or start.microsecond:
            raise HistoryFileError(f"line {number}: {start.isoformat()} is not on the {interval} grid "
                                   "(interval starts are multiples of the interval from midnight).")
    return interval


def read_history(lines: Iterable[str], minimum_days: int = MIN_DAYS) -> History:
    """Parse a history file's lines.

    Raises:
        HistoryFileError: a bad header, row, order, interval or too little history, naming the line.
    """
    rows: list[tuple[datetime, float]] = []
    numbers: list[int] = []
    naive: bool | None = None
    header = False
    for number, raw in enumerate(lines, 1):
        line = raw.strip().lstrip("\ufeff")
        if not line:
            continue
        if not header:
            if tuple(cell.strip().lower() for cell in line.split(",")) != HEADER:
                raise HistoryFileError(f"line {number}: the header must be 'start,count', not {line!r}.")
            header = True
            continue
        start, count = _row(number, line, naive)
        naive = start.tzinfo is None
        if rows and start <= rows[-1][0]:
            kind = "duplicates" if start == rows[-1][0] else "comes before"
            raise HistoryFileError(f"line {number}: {start.isoformat()} {kind} line {numbers[-1]}'s "
                                   f"{rows[-1][0].isoformat()}: the rows must be in time order, each once.")
        rows.append((start, count))
        numbers.append(number)
    if not header:
        raise HistoryFileError("the file is empty: it needs the header 'start,count' and the history's rows.")
    if len(rows) < 2:
        raise HistoryFileError(f"the file has {len(rows)} row(s); a forecast needs at least {minimum_days} days.")
    interval = _interval([start for start, _ in rows], numbers)
    days = (rows[-1][0].date() - rows[0][0].date()).days + 1
    if days < minimum_days:
        raise HistoryFileError(f"lines {numbers[0]}-{numbers[-1]} cover {days} days; this needs at least "
                               f"{minimum_days} days of history ({minimum_days / 7:g} weeks).")
    return History(rows, interval, bool(naive))


def write_history(rows: Iterable[tuple[datetime, float]]) -> Iterable[str]:
    """A history file's lines (with their newline), which :func:`read_history` reads back."""
    yield "start,count\n"
    for start, count in rows:
        yield f"{start.isoformat()},{count:.0f}\n"


def write_forecast(rows: Iterable[tuple[datetime, float]], naive: bool) -> Iterable[str]:
    """The forecast file's lines (with their newline): ``start,forecast``, the forecast to two decimals."""
    yield "start,forecast\n"
    for start, value in rows:
        moment = start.replace(tzinfo=None) if naive else start
        yield f"{moment.isoformat()},{value:.2f}\n"
