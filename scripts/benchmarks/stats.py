"""Percentiles and latency summaries, the same for every benchmark."""

from __future__ import annotations

import math
from collections.abc import Sequence

from scripts.benchmarks.base import Json


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) of ``values`` by nearest rank (a value that occurred); NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = math.ceil(q * len(ordered) / 100 - 1e-9)  # the tolerance keeps 95 * 1000 / 100 at rank 950
    return ordered[min(len(ordered) - 1, max(0, rank - 1))]


def summary(values_ms: Sequence[float], digits: int = 3) -> Json:
    """Count, p50, p95, p99 and maximum of latencies in milliseconds."""
    return {"n": len(values_ms), **{f"p{q}_ms": round(percentile(values_ms, q), digits) for q in (50, 95, 99)},
            "max_ms": round(max(values_ms), digits) if values_ms else None}


def mean(values: Sequence[float]) -> float:
    """The arithmetic mean; NaN when empty."""
    return sum(values) / len(values) if values else float("nan")
