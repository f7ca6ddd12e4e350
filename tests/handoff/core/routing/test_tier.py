"""The tier strategy: qualified agents only, skills first, seniors kept free, overflow after a wait."""

from __future__ import annotations

from typing import Any

import pytest

from handoff.core.errors import RoutingConfigError
from handoff.core.model import AgentId, AgentSnapshot, WaitingConversation
from handoff.core.routing.router import Router
from handoff.core.routing.tier import TierStrategy
from tests.handoff.core.routing.contract import StrategyContract
from tests.handoff.core.routing.pool import NOW, agent, pool, waiting


class TestTierStrategy(StrategyContract):
    name = "tier"


class TestTierThreeStrategy(StrategyContract):
    """The contract holds for hard conversations too (only tier-3 agents fit)."""

    name = "tier"

    def fit_agent(self, agent_id: str, **fields: Any) -> AgentSnapshot:
        return agent(agent_id, tiers=frozenset({3}), **fields)

    def conversation(self, **fields: Any) -> WaitingConversation:
        return waiting(tier=3, **fields)


def route(conversation: WaitingConversation, agents: list[AgentSnapshot], **options: object) -> AgentId | None:
    return Router([(TierStrategy.from_options(options), 1.0)]).route(conversation, agents, NOW).agent_id


def test_tier_sends_hard_conversations_only_to_qualified_agents() -> None:
    scores = TierStrategy().evaluate(waiting(tier=3), pool(), NOW)
    assert {a for a, s in scores.items() if s is not None} == {"b-t3-1", "n-t3-1"}
    assert route(waiting(tier=3, category="accounts"), pool()) == "b-t3-1"  # the one with the skill


def test_tier_prefers_the_conversations_category_among_qualified_agents() -> None:
    returns = waiting(tier=2, category="returns")
    scores = TierStrategy().evaluate(returns, pool(), NOW)
    assert scores[AgentId("b-t2-1")] == 1.0
    assert scores[AgentId("b-t3-1")] == pytest.approx(0.4)  # unskilled 0.5, one tier above: -0.1
    assert scores[AgentId("b-t1-1")] is None
    assert route(returns, pool()) == "n-t2-2"  # the longest idle of the skilled tier-2 agents


def test_tier_keeps_senior_agents_for_hard_conversations() -> None:
    scores = TierStrategy().evaluate(waiting(tier=1), pool(), NOW)
    assert scores[AgentId("n-t1-1")] == 0.5
    assert scores[AgentId("n-t2-1")] == pytest.approx(0.4)
    assert scores[AgentId("n-t3-1")] == pytest.approx(0.3)


def test_tier_overflows_to_higher_tiers_after_waiting() -> None:
    agents = [agent("junior", tiers=frozenset({1})), agent("expert", tiers=frozenset({3}))]
    now = NOW.timestamp()
    assert route(waiting(tier=2, queued_at=now - 60), agents) is None
    assert route(waiting(tier=2, queued_at=now - 300), agents) == "expert"
    assert route(waiting(tier=2, queued_at=now - 300), agents, overflow_after_seconds=None) is None
    assert route(waiting(tier=2, queued_at=0.0), agents) is None  # no queue time: has not waited
    overflowed = TierStrategy().evaluate(waiting(tier=2, queued_at=now - 300), agents, NOW)
    assert overflowed == {"junior": None, "expert": pytest.approx(0.2)}  # (0.5 - 0.1) x 0.5


@pytest.mark.parametrize("options, message", [
    ({"overflow_after_seconds": -5}, "'overflow_after_seconds' .* at least 0"),
    ({"overflow_after_seconds": "soon"}, "'overflow_after_seconds' .* a number"),
    ({"unskilled_score": 2}, "'unskilled_score' .* between 0 and 1"),
])
def test_tier_rejects_malformed_options(options: dict[str, object], message: str) -> None:
    with pytest.raises(RoutingConfigError, match=message):
        TierStrategy.from_options(options)
