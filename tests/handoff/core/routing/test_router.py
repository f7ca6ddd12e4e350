"""The router: eligibility, weighted sums, ties, explanations, and speed with 1,000 agents."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, time, timedelta
from typing import Any, ClassVar

import pytest

from handoff.core.model import AgentId, AgentSnapshot, ShiftWindow, WaitingConversation
from handoff.core.routing import build_router
from handoff.core.routing.base import Scores
from handoff.core.routing.router import Router
from handoff.core.routing.tier import TierStrategy
from handoff.core.routing.workload import WorkloadStrategy
from tests.handoff.core.routing.pool import BERLIN, NEW_YORK, NOW, agent, customer, pool, waiting


class OnlyNamed:
    """A real strategy (not a mock) that scores the agents it lists and leaves the others out."""

    name: ClassVar[str] = "only_named"

    def __init__(self, scores: Mapping[str, float]) -> None:
        self.scores = scores

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> OnlyNamed:
        return cls(options)

    def evaluate(self, conversation: WaitingConversation, agents: Sequence[AgentSnapshot], now: datetime) -> Scores:
        return {AgentId(a): s for a, s in self.scores.items()}


def test_router_sums_weighted_scores() -> None:
    router = Router([(WorkloadStrategy(), 1.0), (TierStrategy(), 2.0)])
    decision = router.route(waiting(tier=2, category="payments"), pool(), NOW)
    # b-t2-2: empty (1.0) and skilled (2 x 1.0) = 3.0
    assert decision.agent_id == "b-t2-2"
    assert decision.scores[AgentId("b-t2-2")] == pytest.approx(3.0)
    assert decision.scores[AgentId("b-t2-1")] == pytest.approx(2 / 3 + 2.0)
    assert AgentId("b-t1-1") not in decision.scores  # excluded by the tier filter
    assert AgentId("n-t1-3") not in decision.scores  # full


def test_router_explains_its_choice() -> None:
    router = Router([(WorkloadStrategy(), 1.0), (TierStrategy(), 2.0)])
    decision = router.route(waiting(tier=2, category="payments", excluded=frozenset({AgentId("x")})), pool(), NOW)
    assert decision.explanation == (
        "11 of 12 agents have room and may take it (1 excluded)",
        "tier: excluded 5 of 11",
        "chose b-t2-2: 3.000 of 3 (workload 1.00x1, tier 1.00x2)",
    )
    nobody = router.route(waiting(tier=2), [agent("full", load=3)], NOW)
    assert nobody.agent_id is None and nobody.scores == {}
    assert nobody.explanation[-1] == "no eligible agent: the conversation waits"


def test_router_reports_ties_broken_by_idle_time() -> None:
    decision = Router([(WorkloadStrategy(), 1.0)]).route(waiting(), [agent("a", idle_since=5.0),
                                                                    agent("b", idle_since=1.0)], NOW)
    assert decision.agent_id == "b"
    assert decision.explanation[-1].endswith("2 tied, the longest idle won")


def test_router_treats_an_agent_a_strategy_leaves_out_as_excluded() -> None:
    router = Router([(OnlyNamed({"kept": 0.1}), 1.0), (WorkloadStrategy(), 1.0)])
    assert router.route(waiting(), [agent("kept", load=2), agent("left-out")], NOW).agent_id == "kept"


def test_router_rank_orders_like_route() -> None:
    router = build_router({"strategies": [{"name": "tier"}, {"name": "profile"}, {"name": "workload"}]})
    conversation = waiting(tier=2, category="returns", customer=customer(language="de"))
    ranking = router.rank(conversation, pool(), NOW)
    assert ranking[0] == router.route(conversation, pool(), NOW).agent_id
    # tier + profile (German: 0.4) + workload: 2.4, 2.07, 1.67, 1.4, 1.33, 1.3
    assert ranking == ["b-t2-2", "b-t2-1", "n-t2-2", "n-t3-1", "n-t2-1", "b-t3-1"]


def test_router_ignores_scores_of_weight_zero_but_keeps_their_filter() -> None:
    router = Router([(TierStrategy(), 0.0), (WorkloadStrategy(), 1.0)])
    decision = router.route(waiting(tier=3, category="accounts"), pool(), NOW)
    assert set(decision.scores) == {"b-t3-1", "n-t3-1"}
    assert decision.agent_id == "n-t3-1"  # empty beats half loaded; the skill counts for nothing


@pytest.mark.parametrize("weight", [-1.0, float("nan"), float("inf"), True, "1"])
def test_router_rejects_bad_weights(weight: Any) -> None:
    with pytest.raises(ValueError, match="weight of strategy 'workload'"):
        Router([(WorkloadStrategy(), weight)])


def test_router_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Router([(WorkloadStrategy(), 1.0)]).route(waiting(), pool(), NOW.replace(tzinfo=None))


def big_pool(size: int) -> list[AgentSnapshot]:
    """Agents across 3 tiers, 2 languages, 3 skills, 2 timezones, a fifth without shifts, varied loads."""
    day = tuple(ShiftWindow(weekday, time(8), time(17)) for weekday in range(5))
    return [agent(f"agent-{i:04d}", tiers=frozenset(range(1, i % 3 + 2)),
                  languages=frozenset({"en", "de"} if i % 2 else {"en"}),
                  skills=frozenset({("orders", "payments", "returns")[i % 3]}),
                  load=i % 4, capacity=3 + i % 2, idle_since=float(i % 97),
                  shift=day if i % 5 else (), timezone=(BERLIN, NEW_YORK)[i % 2])
            for i in range(size)]


def test_router_picks_an_eligible_agent_among_1000() -> None:
    """Speed is measured by `make bench` (docs/benchmarks.md); this checks the decision at that scale."""
    router = build_router({"strategies": [{"name": "schedule"}, {"name": "tier"}, {"name": "profile", "weight": 2},
                                          {"name": "workload"}]})
    agents = big_pool(1000)
    by_id = {a.agent_id: a for a in agents}
    conversation = waiting(tier=2, category="payments", customer=customer(last_agent_id=AgentId("agent-0005")))
    for minute in range(0, 600, 30):
        decision = router.route(conversation, agents, NOW + timedelta(minutes=minute))
        assert decision.agent_id is not None
        chosen = by_id[decision.agent_id]
        assert chosen.has_room and 2 in chosen.tiers
        assert decision.scores[decision.agent_id] == max(decision.scores.values())
