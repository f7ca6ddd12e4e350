"""scripts/benchmarks/stats.py: nearest-rank percentiles."""

from __future__ import annotations

import math

from scripts.benchmarks.stats import percentile, summary


def test_percentile_is_the_nearest_rank() -> None:
    values = list(range(1, 101))  # 1..100: the q-th percentile is q
    assert [percentile(values, q) for q in (1, 50, 95, 99, 100)] == [1, 50, 95, 99, 100]
    assert percentile(list(range(1, 1001)), 95) == 950


def test_percentile_of_few_values_is_one_of_them() -> None:
    assert percentile([3.0], 99) == 3.0
    assert percentile([5.0, 1.0], 50) == 1.0
    assert percentile([5.0, 1.0], 51) == 5.0


def test_summary_of_nothing_has_no_figures() -> None:
    empty = summary([])
    assert empty["n"] == 0 and empty["max_ms"] is None and math.isnan(empty["p99_ms"])
