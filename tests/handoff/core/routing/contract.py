"""The contract every routing strategy keeps, as one class each strategy's test class subclasses.

Like kombu's ``t/integration/common.py``: a subclass supplies the strategy
(:meth:`StrategyContract.make_strategy`) and, if the strategy filters, an agent
it accepts (:meth:`StrategyContract.fit_agent`); the tests here then run
against that strategy alone, inside a :class:`~handoff.core.routing.router.Router`.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from handoff.core.errors import RoutingConfigError
from handoff.core.model import AgentId, AgentSnapshot, Presence, WaitingConversation
from handoff.core.routing import STRATEGIES
from handoff.core.routing.base import Strategy
from handoff.core.routing.router import Router
from tests.handoff.core.routing.pool import NOW, agent, pool, waiting


class StrategyContract:
    """Shared tests; subclasses are collected as ``Test...`` classes."""

    name: str = ""

    def make_strategy(self) -> Strategy:
        return STRATEGIES[self.name].from_options({})

    def fit_agent(self, agent_id: str, **fields: Any) -> AgentSnapshot:
        """An agent the strategy accepts for :meth:`conversation` (override when the defaults do not fit)."""
        return agent(agent_id, **fields)

    def conversation(self, **fields: Any) -> WaitingConversation:
        return waiting(**fields)

    def route(self, agents: list[AgentSnapshot], conversation: WaitingConversation | None = None) -> AgentId | None:
        router = Router([(self.make_strategy(), 1.0)])
        return router.route(conversation or self.conversation(), agents, NOW).agent_id

    def test_strategy_is_registered_under_its_name(self) -> None:
        assert STRATEGIES[self.name].name == self.name

    def test_strategy_never_routes_to_offline_away_or_full_agent(self) -> None:
        agents = [self.fit_agent("offline", presence=Presence.OFFLINE, idle_since=0.0),
                  self.fit_agent("away", presence=Presence.AWAY, idle_since=0.0),
                  self.fit_agent("full", load=3, capacity=3, idle_since=0.0),
                  self.fit_agent("free", load=2, capacity=3, idle_since=100.0)]
        assert self.route(agents) == "free"

    def test_strategy_routes_nowhere_when_nobody_has_room(self) -> None:
        agents = [self.fit_agent("offline", presence=Presence.OFFLINE),
                  self.fit_agent("away", presence=Presence.AWAY),
                  self.fit_agent("full", load=2, capacity=2)]
        assert self.route(agents) is None
        assert self.route([]) is None

    def test_strategy_is_deterministic_for_a_snapshot(self) -> None:
        agents = [self.fit_agent(f"a-{i:02d}", load=i % 3, idle_since=float(i % 4)) for i in range(20)]
        expected = self.route(agents)
        shuffler = random.Random(7)
        for _ in range(5):
            shuffled = agents[:]
            shuffler.shuffle(shuffled)
            assert self.route(shuffled) == expected

    def test_strategy_honours_requested_agent(self) -> None:
        agents = [self.fit_agent("best", idle_since=0.0), self.fit_agent("named", load=2, idle_since=9e9)]
        assert self.route(agents, self.conversation(requested_agent=AgentId("named"))) == "named"
        full = [agents[0], self.fit_agent("named", load=3, capacity=3)]
        assert self.route(full, self.conversation(requested_agent=AgentId("named"))) is None

    def test_strategy_never_routes_to_excluded_agent(self) -> None:
        agents = [self.fit_agent("timed-out", idle_since=0.0), self.fit_agent("other", load=2, idle_since=9e9)]
        assert self.route(agents, self.conversation(excluded=frozenset({AgentId("timed-out")}))) == "other"

    def test_strategy_scores_every_agent_within_unit_interval(self) -> None:
        agents = [a for a in pool() if a.has_room] + [self.fit_agent("fit")]
        scores = self.make_strategy().evaluate(self.conversation(), agents, NOW)
        assert set(scores) == {a.agent_id for a in agents}
        assert all(score is None or 0.0 <= score <= 1.0 for score in scores.values())
        assert scores[AgentId("fit")] is not None

    def test_strategy_rejects_unknown_option(self) -> None:
        with pytest.raises(RoutingConfigError, match="no option 'colour'"):
            STRATEGIES[self.name].from_options({"colour": "blue"})
