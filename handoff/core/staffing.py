"""Staffing: how many agents each interval needs to meet a service level, and what the roster as it is gives.

Queueing models (docs/capacity.md, "Staffing"):

- **Erlang C** (M/M/N): Poisson arrivals at rate λ, exponential handle times of mean h, N servers, nobody
  leaves the queue. Offered load A = λh (Erlangs). P(wait) = C(N, A) = N·B / (N − A(1 − B)) with B the Erlang B
  blocking probability, computed by the recursion B(0) = 1, B(n) = A·B(n−1) / (n + A·B(n−1)): every term stays
  in [0, 1], so it neither overflows (A^N/N! does, past N ≈ 170) nor loses precision. Service level (answered
  within t) = 1 − C·exp(−(N − A)·t/h); mean wait = C·h / (N − A). Only defined for N > A.
- **Erlang A** (M/M/N+M, Palm's model): as C, but each waiting customer leaves after an exponential patience
  of mean 1/θ. The number in the system is a birth-death chain (birth λ, death min(n, N)/h + max(n − N, 0)·θ),
  stable for any N; its stationary distribution is computed in log space and truncated where the tail is below
  e⁻⁴⁰. P(abandon) = θ·E[Lq]/λ and the mean wait of all arrivals = E[Lq]/λ (Little). The service level counts
  a customer as answered within t when they are served before t and before their patience runs out: those who
  find a free server, plus, for one who finds j waiting, the probability of being served by t and before their
  patience: their wait V for service is a sum of exponentials of rates N/h + iθ (i = j..0: a service completion,
  or one of the i ahead leaving), so exp(−θV) is Beta(a, j + 1) with a = N/(hθ), and that probability is
  a/(a + j + 1)·P(Beta(a + 1, j + 1) ≥ exp(−θt)) (the regularised incomplete beta function, vectorised).

Concurrency: an agent holding c chats at once is c servers, each with the measured handle time. The measured
time (``tickets.handle_seconds``: from assignment to its end) is wall-clock time with the agent's other chats
interleaved, so it already carries the slowdown of concurrency; stretching it again would count it twice.
Shrinkage (breaks, training, absence) is a share of each agent's time: an agent gives c·(1 − shrinkage)
servers on average, so required agents = ⌈servers / (c·(1 − shrinkage))⌉, and a roster's servers are its
scheduled slots × (1 − shrinkage), rounded down.
The occupancy cap adds servers until the served load per server is at most the cap.

How it can fail: Poisson arrivals within an interval and exponential handle times are assumptions (real
arrivals are burstier, so the figures are a floor); each interval is treated as steady state (a backlog from
the interval before is not carried over); a concurrency measured at one load is assumed at another.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

import numpy as np

TAIL = 40.0  # the chain is truncated where a state's weight is below e^-TAIL of the largest
MAX_QUEUE = 20_000  # states beyond the servers at most (a patience of days against a flood)
MAX_SERVERS = 100_000


@dataclass(frozen=True)
class Target:
    """What the staffing must achieve.

    Attributes:
        service_level: share of contacts answered within ``within`` seconds (0-1).
        within: seconds.
        occupancy: the highest share of time a server may be busy (0-1].
        shrinkage: share of scheduled time an agent is not available to take contacts [0-1).
    """

    service_level: float = 0.8
    within: float = 60.0
    occupancy: float = 0.85
    shrinkage: float = 0.3

    def __post_init__(self) -> None:
        if not 0.0 < self.service_level < 1.0:
            raise ValueError("the service level target must be between 0 and 1 (exclusive)")
        if self.within < 0:
            raise ValueError("the answer time must not be negative")
        if not 0.0 < self.occupancy <= 1.0:
            raise ValueError("the occupancy cap must be in (0, 1]")
        if not 0.0 <= self.shrinkage < 1.0:
            raise ValueError("shrinkage must be in [0, 1)")


@dataclass(frozen=True)
class Workload:
    """The measured inputs besides the demand.

    Attributes:
        handle_seconds: mean time a contact holds one of an agent's conversation slots.
        concurrency: conversations an agent holds at once (mean capacity of the team).
        patience_seconds: mean patience of waiting customers (exponential); None: nobody abandons (Erlang C).
    """

    handle_seconds: float
    concurrency: float = 1.0
    patience_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.handle_seconds <= 0 or self.concurrency < 1:
            raise ValueError("the handle time must be positive and the concurrency at least 1")
        if self.patience_seconds is not None and self.patience_seconds <= 0:
            raise ValueError("the patience must be positive")


@dataclass(frozen=True)
class Performance:
    """How ``servers`` fare against an arrival rate: all shares of all arrivals, waits in seconds."""

    servers: int
    wait_probability: float
    service_level: float
    mean_wait: float  # math.inf when the queue grows without bound (Erlang C, N <= A)
    abandonment: float
    occupancy: float


def erlang_b(servers: int, load: float) -> float:
    """Erlang B: the probability that all ``servers`` are busy with ``load`` Erlangs offered (recursion)."""
    blocking = 1.0
    for n in range(1, servers + 1):
        blocking = load * blocking / (n + load * blocking)
    return blocking


def erlang_c(servers: int, load: float) -> float:
    """Erlang C: the probability that a contact waits (1 when ``servers`` <= ``load``: the queue never empties)."""
    if servers <= load:
        return 1.0
    blocking = erlang_b(servers, load)
    return servers * blocking / (servers - load * (1.0 - blocking))


def erlang_c_performance(servers: int, rate: float, handle: float, within: float) -> Performance:
    """Erlang C's figures for ``servers`` at ``rate`` arrivals per second of ``handle`` seconds each."""
    load = rate * handle
    if rate <= 0:
        return Performance(servers, 0.0, 1.0, 0.0, 0.0, 0.0)
    if servers <= load:
        return Performance(servers, 1.0, 0.0, math.inf, 0.0, 1.0)
    waits = erlang_c(servers, load)
    level = 1.0 - waits * math.exp(-(servers - load) * within / handle)
    return Performance(servers, waits, level, waits * handle / (servers - load), 0.0, load / servers)


def _stationary(servers: int, rate: float, handle: float, theta: float) -> np.ndarray:
    """The M/M/N+M chain's stationary probabilities of 0, 1, ... in the system (truncated)."""
    service = 1.0 / handle
    low = np.arange(1, servers + 1, dtype=float) * service  # deaths below and at N
    head = np.concatenate(([0.0], np.cumsum(math.log(rate) - np.log(low))))
    logs = [head]
    top, last, queued = float(head.max()), float(head[-1]), 0
    while queued < MAX_QUEUE:  # the queue's states, in blocks, until the tail is negligible
        ks = np.arange(queued + 1, queued + 257, dtype=float)
        block = last + np.cumsum(math.log(rate) - np.log(servers * service + ks * theta))
        logs.append(block)
        top, last, queued = max(top, float(block.max())), float(block[-1]), queued + 256
        if last < top - TAIL and block[-1] <= block[0]:
            break
    weights = np.exp(np.concatenate(logs) - top)
    return np.asarray(weights / weights.sum())


def erlang_a_performance(servers: int, rate: float, handle: float, patience: float, within: float) -> Performance:
    """Erlang A's figures: as :func:`erlang_c_performance`, customers leaving after an exponential ``patience``."""
    from scipy.special import betaincc  # a quarter of a second to import: only where Erlang A is computed

    if rate <= 0:
        return Performance(servers, 0.0, 1.0, 0.0, 0.0, 0.0)
    theta, pull = 1.0 / patience, servers / handle
    if servers == 0:
        return Performance(0, 1.0, 0.0, patience, 1.0, 0.0)
    pi = _stationary(servers, rate, handle, theta)
    queue = pi[servers:]  # the states where an arrival finds j = 0, 1, ... waiting
    waits = float(queue.sum())
    queued = float(np.arange(len(queue)) @ queue)
    abandonment = theta * queued / rate
    # One who finds j waiting is served after V = the sum of exponentials of rates pull + i*theta, i = j..0, if
    # before their own patience. With a = pull/theta, X = exp(-theta V) is Beta(a, j+1), and the share served
    # within t is E[exp(-theta V); V <= t] = E[X; X >= exp(-theta t)] = a/(a+j+1) * P(Beta(a+1, j+1) >= x0).
    # (the incomplete beta is the costly part: only for the states that weigh anything, 1e-15 and above)
    kept = np.flatnonzero(queue >= 1e-15)
    weighty = queue[: int(kept[-1]) + 1] if len(kept) else queue[:0]
    a, ahead = pull / theta, np.arange(len(weighty), dtype=float)
    in_time = a / (a + ahead + 1.0) * betaincc(a + 1.0, ahead + 1.0, math.exp(-theta * within))
    served_in_time = float(weighty @ in_time)
    level = (1.0 - waits) + served_in_time
    return Performance(servers, waits, min(1.0, level), queued / rate, abandonment,
                       rate * (1.0 - abandonment) * handle / servers)


def performance(servers: int, rate: float, workload: Workload, within: float) -> Performance:
    """Erlang A when the workload has a patience, else Erlang C."""
    if workload.patience_seconds is None:
        return erlang_c_performance(servers, rate, workload.handle_seconds, within)
    return erlang_a_performance(servers, rate, workload.handle_seconds, workload.patience_seconds, within)


def required_servers(rate: float, handle: float, target: Target, patience: float | None = None) -> int:
    """The fewest servers that answer ``target.service_level`` within ``target.within`` at an occupancy of at
    most ``target.occupancy`` (Erlang A with a ``patience``, else Erlang C); 0 without arrivals.

    Both figures improve with every server added, so the answer is found by doubling then bisecting.
    """
    if rate <= 0:
        return 0
    workload = Workload(handle, patience_seconds=patience)

    def enough(servers: int) -> bool:
        result = performance(servers, rate, workload, target.within)
        return result.service_level >= target.service_level and result.occupancy <= target.occupancy

    low, high = 0, max(1, math.ceil(rate * handle * (1.0 if patience is None else 0.5)))
    while not enough(high):
        low, high = high, high * 2
        if high > MAX_SERVERS:
            raise ValueError(f"more than {MAX_SERVERS} servers needed: check the demand and handle time")
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if enough(middle) else (middle, high)
    return high


def agents_for(servers: int, concurrency: float, shrinkage: float) -> int:
    """Agents to schedule for ``servers``: ⌈servers / (concurrency · (1 − shrinkage))⌉.

    Shrinkage is a share of each agent's time, so an agent of c slots gives c·(1 − shrinkage) servers on
    average: the same reading as :func:`available_servers` gives the roster (rounding agents first would ask
    two agents of three chats for one chat's work at 30% shrinkage).
    """
    return math.ceil(servers / (concurrency * (1.0 - shrinkage)) - 1e-9)


def available_servers(scheduled_slots: float, shrinkage: float) -> int:
    """Servers the roster gives: its scheduled conversation slots less shrinkage, rounded down."""
    return max(0, math.floor(scheduled_slots * (1.0 - shrinkage) + 1e-9))


@dataclass(frozen=True)
class IntervalPlan:
    """One interval of a plan.

    Attributes:
        start: the interval's start (as the demand gave it).
        demand: contacts expected in the interval.
        required_c: agents to schedule by Erlang C.
        required_a: agents to schedule by Erlang A (None without a measured patience).
        scheduled: agents on shift (fractions for shifts covering part of the interval).
        gap: scheduled − required (Erlang A's when known, else C's); negative: understaffed.
        expected: the roster's performance as it is (Erlang A when the patience is known, else C).
    """

    start: datetime
    demand: float
    required_c: int
    required_a: int | None
    scheduled: float
    gap: float
    expected: Performance

    @property
    def required(self) -> int:
        return self.required_a if self.required_a is not None else self.required_c

    @property
    def understaffed(self) -> bool:
        return self.gap < -1e-9

    def to_json(self) -> dict[str, object]:
        def finite(value: float) -> float | None:
            return round(value, 4) if math.isfinite(value) else None

        return {"start": self.start.isoformat(), "demand": round(self.demand, 3), "required_c": self.required_c,
                "required_a": self.required_a, "required": self.required, "scheduled": round(self.scheduled, 3),
                "gap": round(self.gap, 3), "understaffed": self.understaffed,
                "servers": self.expected.servers, "service_level": finite(self.expected.service_level),
                "mean_wait": finite(self.expected.mean_wait), "abandonment": finite(self.expected.abandonment),
                "occupancy": finite(self.expected.occupancy)}


def plan(demand: Sequence[tuple[datetime, float]], interval_seconds: float, workload: Workload, target: Target,
         slots: Sequence[float], agents: Sequence[float]) -> list[IntervalPlan]:
    """Required against scheduled, interval by interval.

    Args:
        demand: (interval start, expected contacts) per interval: a forecast, or any series.
        interval_seconds: the intervals' length.
        workload: handle time, concurrency and patience (measured: :mod:`handoff.adapters.tickets.workload`).
        target: service level, answer time, occupancy cap and shrinkage.
        slots: per interval, the roster's conversation slots on shift (agents × their capacity, prorated:
            :func:`handoff.core.roster.coverage`).
        agents: per interval, agents on shift (prorated).
    """
    if len(slots) != len(demand) or len(agents) != len(demand):
        raise ValueError("the roster needs one figure per interval of the demand")
    if interval_seconds <= 0:
        raise ValueError("the interval must be positive")
    rows = []
    handle, patience = workload.handle_seconds, workload.patience_seconds
    for (start, contacts), slot, staffed in zip(demand, slots, agents, strict=True):
        if contacts < 0:
            raise ValueError(f"negative demand at {start.isoformat()}")
        rate = contacts / interval_seconds
        need_c = agents_for(required_servers(rate, handle, target), workload.concurrency, target.shrinkage)
        need_a = None if patience is None else agents_for(required_servers(rate, handle, target, patience),
                                                          workload.concurrency, target.shrinkage)
        expected = performance(available_servers(slot, target.shrinkage), rate, workload, target.within)
        required = need_a if need_a is not None else need_c
        rows.append(IntervalPlan(start, contacts, need_c, need_a, staffed, staffed - required, expected))
    return rows


def recent_average(arrivals: Mapping[float, int], starts: Sequence[datetime], zone: tzinfo,
                   weeks: int = 4) -> list[tuple[datetime, float]]:
    """A stand-in demand until a forecast is given: for each interval start, the mean of the contacts that
    arrived in the same local weekday and time of day over the ``weeks`` weeks before.

    Args:
        arrivals: contacts per interval start (epoch seconds); intervals missing had none.
        starts: the intervals to fill (aware datetimes).
        zone: the timezone whose wall clock "the same time" means (daylight saving moves the UTC time).
    """
    if weeks < 1:
        raise ValueError("average over one week at least")
    demand = []
    for start in starts:
        local = start.astimezone(zone)
        past = [(local - timedelta(weeks=k)).astimezone(UTC).timestamp() for k in range(1, weeks + 1)]
        demand.append((start, sum(arrivals.get(moment, 0) for moment in past) / weeks))
    return demand
