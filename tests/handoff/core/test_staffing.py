"""Staffing: Erlang C against published values, Erlang A against exact special cases and a discrete-event
simulation of the same queue, and the plan's arithmetic (concurrency, shrinkage, occupancy)."""

from __future__ import annotations

import heapq
import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from scipy.stats import poisson

from handoff.core.staffing import (
    Target,
    Workload,
    agents_for,
    available_servers,
    erlang_a_performance,
    erlang_b,
    erlang_c,
    erlang_c_performance,
    plan,
    recent_average,
    required_servers,
)

HALF_HOUR = 1800.0


def test_erlang_b_matches_the_published_table() -> None:
    # Erlang B table (e.g. ITU-T E.xxx traffic tables; Wikipedia "Erlang (unit)", Erlang B): 10 circuits offered
    # 5 Erlangs block 1.84% of calls; 1 circuit offered A blocks A/(1+A).
    assert erlang_b(10, 5.0) == pytest.approx(0.018385, abs=5e-6)
    assert erlang_b(1, 3.0) == pytest.approx(0.75)


def test_erlang_b_recursion_is_stable_for_large_teams() -> None:
    # A^N/N! overflows a float past N = 170; the recursion does not. Erlang B is the truncated Poisson's last
    # term, B(N, A) = pmf(N; A) / cdf(N; A), which scipy computes another way (in log space).
    for servers, load in ((1000, 1000.0), (2000, 1900.0), (170, 150.5)):
        blocking = poisson.pmf(servers, load) / poisson.cdf(servers, load)
        assert erlang_b(servers, load) == pytest.approx(blocking, rel=1e-9)
        assert erlang_c(servers, load) == pytest.approx(blocking / (1 - load / servers * (1 - blocking)), rel=1e-9)


def test_erlang_c_callcentrehelper_worked_example() -> None:
    # The classic worked example (Call Centre Helper, "Erlang C Formula - Made Simple With an Easy Worked
    # Example"): 100 calls in 30 minutes, average handle time 180 s, target 80% answered within 20 s: traffic 10
    # Erlangs, 14 agents, 20 with 30% shrinkage. pyworkforce's test suite asserts the same case
    # (pyworkforce/queuing/tests/test_erlang.py, 0.5.1: 14 raw positions, 20 positions, P(wait) 0.174, service
    # level 0.888, occupancy 0.714), which these four decimals round to.
    rate = 100 / HALF_HOUR
    result = erlang_c_performance(14, rate, 180.0, 20.0)
    assert result.wait_probability == pytest.approx(0.1741, abs=5e-5)
    assert result.service_level == pytest.approx(0.8884, abs=5e-5)
    assert result.occupancy == pytest.approx(10 / 14)
    assert result.mean_wait == pytest.approx(0.1741 * 180 / 4, rel=1e-3)  # ASA = C·h/(N−A): about 7.8 s
    target = Target(service_level=0.8, within=20.0, occupancy=1.0, shrinkage=0.0)
    assert required_servers(rate, 180.0, target) == 14
    assert erlang_c_performance(13, rate, 180.0, 20.0).service_level < 0.8
    assert agents_for(14, 1.0, 0.3) == 20


def test_erlang_c_occupancy_cap_adds_servers() -> None:
    # The same traffic with at most 70% occupancy: 10/0.7 = 14.3, so 15 servers (pyworkforce's test gives 15 too).
    target = Target(service_level=0.8, within=20.0, occupancy=0.7, shrinkage=0.0)
    assert required_servers(100 / HALF_HOUR, 180.0, target) == 15


def test_erlang_c_with_no_more_servers_than_load_never_clears() -> None:
    result = erlang_c_performance(10, 100 / HALF_HOUR, 180.0, 20.0)
    assert (result.wait_probability, result.service_level, result.mean_wait) == (1.0, 0.0, math.inf)


def test_erlang_a_without_abandonment_tends_to_erlang_c() -> None:
    rate = 100 / HALF_HOUR
    for servers in (11, 14):
        a = erlang_a_performance(servers, rate, 180.0, 1e7, 20.0)
        c = erlang_c_performance(servers, rate, 180.0, 20.0)
        assert a.wait_probability == pytest.approx(c.wait_probability, rel=1e-3)
        assert a.service_level == pytest.approx(c.service_level, rel=1e-3)


def test_erlang_a_with_patience_equal_to_handle_time_is_an_infinite_server_queue() -> None:
    # With patience rate = service rate every customer in the system leaves at the same rate whether served or
    # waiting: the number in the system is Poisson(A) (M/M/inf), so P(wait) = P(Poisson(10) >= 12) exactly.
    result = erlang_a_performance(12, 100 / HALF_HOUR, 180.0, 180.0, 20.0)
    assert result.wait_probability == pytest.approx(poisson.sf(11, 10.0), rel=1e-9)
    # and the abandonment is E[(L - N)+]·θ/λ with L ~ Poisson(10)
    queued = sum((n - 12) * poisson.pmf(n, 10.0) for n in range(13, 80))
    assert result.abandonment == pytest.approx(queued / 180.0 / (100 / HALF_HOUR), rel=1e-6)


def simulate(servers: int, rate: float, handle: float, patience: float, within: float, customers: int,
             seed: int) -> tuple[float, float, float]:
    """M/M/N+M, first come first served, by events: (share answered within ``within``, share abandoned, mean
    wait of all). A customer takes the earliest server free after everyone before them who stayed."""
    rng = random.Random(seed)
    free = [0.0] * servers
    now = answered = left = 0
    waited = 0.0
    clock = 0.0
    for _ in range(customers):
        clock += rng.expovariate(rate)
        now += 1
        gives_up = rng.expovariate(1 / patience)
        start = max(clock, free[0])
        if start - clock <= gives_up:
            heapq.heapreplace(free, start + rng.expovariate(1 / handle))
            answered += start - clock <= within
            waited += start - clock
        else:
            left += 1
            waited += gives_up
    return answered / now, left / now, waited / now


def test_erlang_a_matches_a_discrete_event_simulation() -> None:
    # An understaffed half hour (load 10 Erlangs on 9 servers, patience 2 minutes): Erlang C is undefined here,
    # Erlang A is not. 200,000 simulated customers; tolerances a few standard errors.
    rate, handle, patience, within = 100 / HALF_HOUR, 180.0, 120.0, 20.0
    model = erlang_a_performance(9, rate, handle, patience, within)
    level, abandoned, wait = simulate(9, rate, handle, patience, within, 200_000, seed=7)
    assert model.service_level == pytest.approx(level, abs=0.01)
    assert model.abandonment == pytest.approx(abandoned, abs=0.006)
    assert model.mean_wait == pytest.approx(wait, rel=0.03)


def test_erlang_a_needs_no_more_than_erlang_c_with_patient_customers() -> None:
    target = Target(service_level=0.8, within=60.0, occupancy=1.0, shrinkage=0.0)
    rate = 200 / HALF_HOUR
    c = required_servers(rate, 300.0, target)
    a = required_servers(rate, 300.0, target, patience=600.0)
    assert a <= c
    assert erlang_a_performance(a, rate, 300.0, 600.0, 60.0).service_level >= 0.8
    assert erlang_a_performance(a - 1, rate, 300.0, 600.0, 60.0).service_level < 0.8


def test_agents_are_servers_over_concurrency_then_shrinkage() -> None:
    assert agents_for(14, 3.0, 0.0) == 5  # 14 chats at 3 each: 5 agents
    assert agents_for(14, 3.0, 0.3) == 7  # 14 / 2.1 = 6.7
    assert agents_for(1, 3.0, 0.3) == 1  # one agent of three chats less 30% still gives 2.1 servers
    assert agents_for(0, 3.0, 0.3) == 0
    assert available_servers(10.0, 0.3) == 7
    assert available_servers(10.5, 0.0) == 10


def test_plan_compares_required_with_scheduled() -> None:
    start = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    demand = [(start, 100.0), (start + timedelta(minutes=30), 0.0)]
    workload = Workload(handle_seconds=180.0, concurrency=2.0, patience_seconds=None)
    target = Target(service_level=0.8, within=20.0, occupancy=1.0, shrinkage=0.0)
    rows = plan(demand, HALF_HOUR, workload, target, slots=[14.0, 2.0], agents=[7.0, 1.0])
    busy, quiet = rows
    assert (busy.required_c, busy.required_a, busy.scheduled, busy.gap) == (7, None, 7.0, 0.0)
    assert not busy.understaffed and busy.expected.service_level == pytest.approx(0.8884, abs=5e-5)
    assert (quiet.required, quiet.gap, quiet.expected.service_level) == (0, 1.0, 1.0)
    short = plan(demand[:1], HALF_HOUR, workload, target, slots=[12.0], agents=[6.0])[0]
    assert short.understaffed and short.gap == -1.0 and short.expected.service_level < 0.8
    with pytest.raises(ValueError, match="one figure per interval"):
        plan(demand, HALF_HOUR, workload, target, slots=[1.0], agents=[1.0])


def test_recent_average_is_the_same_local_slot_over_past_weeks() -> None:
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    # Monday 2026-11-02 10:00 Berlin is 09:00 UTC (winter); four Mondays before 2026-11-30 all in winter time
    target = datetime(2026, 11, 30, 10, 0, tzinfo=berlin).astimezone(UTC)
    past = {(target - timedelta(weeks=k)).timestamp(): 4 * k for k in (1, 2, 3)}  # week 4 had none
    assert recent_average(past, [target], berlin, weeks=4) == [(target, (4 + 8 + 12) / 4)]
    # across the October change: 2026-10-26 10:00 Berlin is 09:00 UTC, 2026-10-19 10:00 is 08:00 UTC
    monday = datetime(2026, 10, 26, 10, 0, tzinfo=berlin).astimezone(UTC)
    summer = datetime(2026, 10, 19, 8, 0, tzinfo=UTC).timestamp()
    assert recent_average({summer: 6}, [monday], berlin, weeks=1) == [(monday, 6.0)]
