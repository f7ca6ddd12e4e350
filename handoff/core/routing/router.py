"""The router: composes weighted strategies into one decision per conversation.

Optimises: the weighted sum of the strategies' scores, among the agents that
every strategy accepts. Eligible agents are those with room (online, under
capacity), not in ``conversation.excluded``, equal to ``requested_agent`` when
the conversation names one, and not excluded (None) by any strategy. The best
total wins; equal totals (within 1e-9, so float noise does not decide) go to
the longest idle agent (lowest ``idle_since``), then the smallest agent id: the
decision is a pure function of the snapshot.

Strategies run in configuration order, each on the agents the previous ones
kept, so put the cheap hard filters (schedule, tier) first.

How it fails: weights are a blunt instrument (a sticky bonus weighted high
enough beats a free agent, and the queue waits); the decision is only as fresh
as the snapshot, so the service must assign atomically and, when the store
refuses (another instance won the race), route again on a new snapshot;
``None`` is an answer: the conversation waits in the hold queue.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from handoff.core.model import AgentId, AgentSnapshot, Presence, RoutingDecision, WaitingConversation
from handoff.core.routing.base import Scores, Strategy

ONLINE = Presence.ONLINE
TIE_TOLERANCE = 1e-9


class Router:
    """Routes a waiting conversation to the best eligible agent.

    Args:
        strategies: ``(strategy, weight)`` pairs; a weight is a finite number >= 0 (0 keeps the
            strategy's hard filter and ignores its scores).

    Raises:
        ValueError: a weight is negative, not finite, or not a number.
    """

    def __init__(self, strategies: Sequence[tuple[Strategy, float]]) -> None:
        for strategy, weight in strategies:
            if isinstance(weight, bool) or not isinstance(weight, int | float) or not math.isfinite(weight) \
                    or weight < 0:
                raise ValueError(f"the weight of strategy {strategy.name!r} must be a finite number >= 0, "
                                 f"not {weight!r}")
        self.strategies: tuple[tuple[Strategy, float], ...] = tuple((s, float(w)) for s, w in strategies)

    def __repr__(self) -> str:
        return "Router(" + ", ".join(f"{s.name}={w:g}" for s, w in self.strategies) + ")"

    def route(self, conversation: WaitingConversation, agents: Sequence[AgentSnapshot],
              now: datetime) -> RoutingDecision:
        """Choose the agent for ``conversation``.

        Args:
            conversation: the conversation to route.
            agents: every agent's snapshot (the router filters; pass them all).
            now: the current time, timezone-aware.

        Returns:
            The chosen agent (None when nobody eligible has room), the total score of every eligible
            agent, and one explanation line per step.
        """
        pool, totals, per_strategy, lines = self._score(conversation, agents, now)
        if not pool:
            return RoutingDecision(None, {}, (*lines, "no eligible agent: the conversation waits"))
        floor = max(totals.values()) - TIE_TOLERANCE
        tied = [a for a in pool if totals[a.agent_id] >= floor]
        chosen = min(tied, key=lambda a: (a.idle_since, a.agent_id)).agent_id if len(tied) > 1 else tied[0].agent_id
        maximum = sum(w for _, w in self.strategies)
        parts = ", ".join(f"{s.name} {scores.get(chosen) or 0.0:.2f}x{w:g}"
                          for (s, w), scores in zip(self.strategies, per_strategy, strict=False))
        lines.append(f"chose {chosen}: {totals[chosen]:.3f} of {maximum:g} ({parts})"
                     + (f"; {len(tied)} tied, the longest idle won" if len(tied) > 1 else ""))
        return RoutingDecision(chosen, {a.agent_id: totals[a.agent_id] for a in pool}, tuple(lines))

    def rank(self, conversation: WaitingConversation, agents: Sequence[AgentSnapshot],
             now: datetime) -> list[AgentId]:
        """Every eligible agent, best first, in the order :meth:`route` would choose them."""
        pool, totals, _, _ = self._score(conversation, agents, now)
        pool.sort(key=lambda a: (-totals[a.agent_id], a.idle_since, a.agent_id))
        # merge totals within the tolerance into one band so that rank agrees with route
        bands: dict[AgentId, float] = {}
        band_top = math.inf
        for agent in pool:
            total = totals[agent.agent_id]
            if total < band_top - TIE_TOLERANCE:
                band_top = total
            bands[agent.agent_id] = band_top
        pool.sort(key=lambda a: (-bands[a.agent_id], a.idle_since, a.agent_id))
        return [a.agent_id for a in pool]

    def _score(self, conversation: WaitingConversation, agents: Sequence[AgentSnapshot], now: datetime
               ) -> tuple[list[AgentSnapshot], dict[AgentId, float], list[Scores], list[str]]:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        excluded = conversation.excluded
        requested = conversation.requested_agent
        pool = [a for a in agents if a.presence is ONLINE and a.load < a.capacity and a.agent_id not in excluded
                and (requested is None or a.agent_id == requested)]
        lines = [f"{len(pool)} of {len(agents)} agents have room and may take it"
                 + (f" (requested {requested})" if requested is not None else "")
                 + (f" ({len(excluded)} excluded)" if excluded else "")]
        totals = dict.fromkeys((a.agent_id for a in pool), 0.0)
        per_strategy: list[Scores] = []
        for strategy, weight in self.strategies:
            if not pool:
                break
            scores = strategy.evaluate(conversation, pool, now)
            per_strategy.append(scores)
            # one comprehension per strategy: the hot loop of a decision (thousands of agents)
            totals = {aid: total + weight * score for aid, total in totals.items()
                      if (score := scores.get(aid)) is not None}
            if len(totals) < len(pool):
                lines.append(f"{strategy.name}: excluded {len(pool) - len(totals)} of {len(pool)}")
                pool = [a for a in pool if a.agent_id in totals]
        return pool, totals, per_strategy, lines
