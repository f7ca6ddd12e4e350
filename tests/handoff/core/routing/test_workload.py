"""The workload strategy: least loaded relative to capacity, ties to the longest idle."""

from __future__ import annotations

from handoff.core.model import AgentId
from handoff.core.routing.router import Router
from handoff.core.routing.workload import WorkloadStrategy
from tests.handoff.core.routing.contract import StrategyContract
from tests.handoff.core.routing.pool import NOW, agent, pool, waiting


class TestWorkloadStrategy(StrategyContract):
    name = "workload"


def route(agents: list) -> AgentId | None:  # type: ignore[type-arg]
    return Router([(WorkloadStrategy(), 1.0)]).route(waiting(), agents, NOW).agent_id


def test_workload_scores_free_share_of_capacity() -> None:
    agents = [agent("a", load=0, capacity=3), agent("b", load=1, capacity=4), agent("c", load=2, capacity=2)]
    assert WorkloadStrategy().evaluate(waiting(), agents, NOW) == {"a": 1.0, "b": 0.75, "c": None}


def test_workload_prefers_relative_room_over_absolute_room() -> None:
    # 2 free of 8 (0.25) loses to 1 free of 2 (0.5)
    assert route([agent("big", load=6, capacity=8), agent("small", load=1, capacity=2)]) == "small"


def test_workload_breaks_ties_by_longest_idle_then_id() -> None:
    assert route([agent("recent", idle_since=500.0), agent("longest", idle_since=100.0)]) == "longest"
    assert route([agent("b", idle_since=100.0), agent("a", idle_since=100.0)]) == "a"


def test_workload_on_the_pool_picks_the_longest_idle_of_the_empty_agents() -> None:
    # empty agents: b-t1-1 (idle 600 s), b-t2-2 (200), n-t1-1 (900), n-t1-2 (30), n-t3-1 (2000)
    assert route(pool()) == "n-t3-1"
