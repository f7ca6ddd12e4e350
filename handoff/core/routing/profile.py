"""Customer profile: language, the customer's last agent, value (vip) and history.

Optimises: the customer's experience beyond speed. The score is a weighted sum
(the weights are options and are normalised to sum 1) of four parts in [0, 1]:

- ``language``: the agent speaks the customer's language (``de-AT`` matches an
  agent with ``de``); with ``strict_language`` an agent who does not is excluded.
- ``sticky``: the agent is the customer's last agent (``last_agent_id``), who
  knows the story. When that agent is full or away the others still qualify: the
  customer is never held back for them.
- ``vip``: for a vip customer, agents with the ``vip_skill`` skill score 1 and
  senior agents (qualified for tier 2 or more) 0.5.
- ``history``: a customer with at least ``history_tickets`` past tickets gets
  senior agents (tier 3 scores 1, tier 2 0.5): repeat contacts often mean a
  problem nobody solved yet.

A part that does not apply to the customer (not vip, few tickets, no last
agent) scores 0 for every agent, so it never changes the ranking.

How it fails: sticky routing piles a regular's conversations on one agent (the
workload strategy must outweigh it); ``strict_language`` leaves a customer
waiting with no speaker online (nothing here falls back: the conversation waits,
and the service's wait estimate does not know); the profile may be stale (the
last agent left the team); past tickets are a crude proxy for difficulty.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

from handoff.core.errors import RoutingConfigError
from handoff.core.model import AgentSnapshot, WaitingConversation
from handoff.core.routing.base import Options, Scores

VIP = "vip"
PARTS = ("language", "sticky", "vip", "history")
DEFAULT_WEIGHTS = {"language": 0.4, "sticky": 0.3, "vip": 0.2, "history": 0.1}


def senior_level(agent: AgentSnapshot) -> float:
    """0 for an agent qualified for tier 1 only, 0.5 for tier 2, 1 for tier 3."""
    return (max(agent.tiers, default=1) - 1) / 2


class ProfileStrategy:
    """Fits the agent to the customer's language, last agent, value and history.

    Args:
        strict_language: exclude agents who do not speak the customer's language.
        weights: part name -> weight (``language``, ``sticky``, ``vip``, ``history``), normalised.
        vip_skill: the skill that marks agents of the vip desk.
        history_tickets: past tickets from which a customer prefers senior agents.
    """

    name: ClassVar[str] = "profile"

    def __init__(self, strict_language: bool = False, weights: Mapping[str, float] | None = None,
                 vip_skill: str = VIP, history_tickets: int = 5) -> None:
        raw = {**DEFAULT_WEIGHTS, **(weights or {})}
        total = sum(raw.values())
        if set(raw) != set(PARTS) or total <= 0 or any(w < 0 for w in raw.values()):
            raise ValueError(f"weights must be non-negative over {PARTS} with a positive sum, not {raw}")
        self.strict_language = strict_language
        self.weights = {part: raw[part] / total for part in PARTS}
        self.vip_skill = vip_skill
        self.history_tickets = history_tickets

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> ProfileStrategy:
        reader = Options(cls.name, options, ("strict_language", "vip_skill", "history_tickets",
                                             *(f"{part}_weight" for part in PARTS)))
        weights = {part: reader.number(f"{part}_weight", DEFAULT_WEIGHTS[part]) for part in PARTS}
        if sum(weights.values()) <= 0:
            raise RoutingConfigError(f"The part weights of routing strategy {cls.name!r} must not all be 0.")
        return cls(strict_language=reader.flag("strict_language", False), weights=weights,
                   vip_skill=reader.text("vip_skill", VIP),
                   history_tickets=int(reader.number("history_tickets", 5, minimum=1)))

    def evaluate(self, conversation: WaitingConversation, agents: Sequence[AgentSnapshot], now: datetime) -> Scores:
        customer = conversation.customer
        language = customer.language.lower()
        primary = language.split("-", 1)[0]
        w_language = self.weights["language"]
        w_sticky = self.weights["sticky"] if customer.last_agent_id is not None else 0.0
        w_vip = self.weights["vip"] if customer.value_tier == VIP else 0.0
        w_history = self.weights["history"] if customer.past_tickets >= self.history_tickets else 0.0
        scores: Scores = {}
        seniority: dict[frozenset[int], float] = {}  # agents share a few tier sets
        for agent in agents:
            speaks = language in agent.languages or primary in agent.languages
            if not speaks and self.strict_language:
                scores[agent.agent_id] = None
                continue
            score = w_language if speaks else 0.0
            if w_sticky and agent.agent_id == customer.last_agent_id:
                score += w_sticky
            if w_vip or w_history:
                senior = seniority.get(agent.tiers)
                if senior is None:
                    senior = seniority[agent.tiers] = senior_level(agent)
                if w_vip:
                    score += w_vip * (1.0 if self.vip_skill in agent.skills else 0.5 if senior else 0.0)
                score += w_history * senior
            scores[agent.agent_id] = min(score, 1.0)
        return scores
