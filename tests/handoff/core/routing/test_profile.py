"""The profile strategy: language, sticky last agent, vip and history."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from handoff.core.errors import RoutingConfigError
from handoff.core.model import AgentId, AgentSnapshot, WaitingConversation
from handoff.core.routing.profile import ProfileStrategy
from handoff.core.routing.router import Router
from handoff.core.routing.workload import WorkloadStrategy
from tests.handoff.core.routing.contract import StrategyContract
from tests.handoff.core.routing.pool import NOW, agent, changed, customer, pool, waiting


class TestProfileStrategy(StrategyContract):
    name = "profile"


class TestStrictLanguageProfileStrategy(StrategyContract):
    name = "profile"

    def make_strategy(self) -> ProfileStrategy:
        return ProfileStrategy.from_options({"strict_language": True})


def with_workload(conversation: WaitingConversation, agents: list[AgentSnapshot], **options: Any) -> AgentId | None:
    router = Router([(ProfileStrategy.from_options(options), 2.0), (WorkloadStrategy(), 1.0)])
    return router.route(conversation, agents, NOW).agent_id


def test_profile_prefers_speakers_of_the_customers_language() -> None:
    german = waiting(customer=customer(language="de-AT"))
    scores = ProfileStrategy().evaluate(german, pool(), NOW)
    assert scores[AgentId("b-t1-1")] == pytest.approx(0.4)
    assert scores[AgentId("n-t1-1")] == 0.0
    assert with_workload(german, pool()) == "b-t1-1"  # empty, German-speaking, the longest idle of those
    # a German speaker at 2/3 load (0.8 + 0.33) still beats an idle English-only agent (0 + 1)
    busy = [dataclasses.replace(a, load=2, capacity=3) if a.agent_id.startswith("b-") else a for a in pool()]
    assert with_workload(german, busy) == "b-t1-1"


def test_profile_strict_language_excludes_other_agents() -> None:
    german = waiting(customer=customer(language="de"))
    berlin_full = [a for a in pool() if a.agent_id.startswith("n-")] + [agent("b-busy", languages=frozenset({"de"}),
                                                                               load=3, capacity=3)]
    assert with_workload(german, berlin_full, strict_language=True) is None
    assert with_workload(german, berlin_full) == "n-t3-1"  # not strict: an English speaker rather than nobody


def test_profile_sends_a_regular_back_to_their_last_agent() -> None:
    regular = waiting(customer=customer(last_agent_id=AgentId("n-t2-2")))
    assert with_workload(regular, pool()) == "n-t2-2"  # 1/3 loaded, still beats the empty agents


def test_profile_vip_with_sticky_agent_at_capacity_goes_to_the_vip_desk() -> None:
    vip = waiting(customer=customer(value_tier="vip", last_agent_id=AgentId("b-t3-1")), tier=2)
    agents = pool()
    assert with_workload(vip, agents) == "b-t3-1"
    full = changed(agents, "b-t3-1", load=2)
    agents_with_desk = [*full, agent("vip-desk", tiers=frozenset({1}), skills=frozenset({"vip"}))]
    assert with_workload(vip, agents_with_desk) == "vip-desk"
    # without a vip desk, senior agents come next: the idle tier-3 agent in New York
    assert with_workload(vip, full) == "n-t3-1"


def test_profile_gives_frequent_customers_senior_agents() -> None:
    frequent = waiting(customer=customer(past_tickets=12))
    scores = ProfileStrategy().evaluate(frequent, pool(), NOW)
    assert scores[AgentId("n-t3-1")] == pytest.approx(0.5)  # language 0.4 + history 0.1 x 1
    assert scores[AgentId("n-t2-1")] == pytest.approx(0.45)
    assert scores[AgentId("n-t1-1")] == pytest.approx(0.4)


def test_profile_rejects_malformed_options() -> None:
    with pytest.raises(RoutingConfigError, match=r"'strict_language' .* must be true or false"):
        ProfileStrategy.from_options({"strict_language": "yes"})
    with pytest.raises(RoutingConfigError, match="must not all be 0"):
        ProfileStrategy.from_options({f"{p}_weight": 0 for p in ("language", "sticky", "vip", "history")})
