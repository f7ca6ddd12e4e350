"""Difficulty tier: only agents qualified for the conversation's tier, the right skills first.

Optimises: first-contact resolution. A conversation of tier ``t`` (from
:mod:`handoff.core.difficulty`) goes only to agents whose ``tiers`` contain
``t`` (a hard filter). Among them, an agent whose ``skills`` contain the
conversation's ``category`` scores 1 and the others ``unskilled_score``; each
tier an agent holds above ``t`` costs ``senior_penalty``, to keep senior agents
free for the hard conversations that only they may take.

Overflow: after waiting ``overflow_after_seconds`` (counted from ``queued_at``),
agents qualified for any tier above ``t`` also qualify (an agent with tiers
``{3}`` takes a tier-2 conversation), at half their score. ``null`` never
overflows. A conversation without a ``queued_at`` (0) has not waited.

How it fails: tiers are only as good as the difficulty estimate (a hard
conversation estimated tier 1 meets a junior agent, and a transfer is the
remedy); a tier nobody online holds waits until overflow, or forever without
it; the skill match trusts the category, which comes from the bot's guesses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

from handoff.core.model import AgentSnapshot, WaitingConversation
from handoff.core.routing.base import Options, Scores

OVERFLOW_FACTOR = 0.5


class TierStrategy:
    """Hard filter on qualification for the conversation's tier, scoring skill matches higher.

    Args:
        overflow_after_seconds: waiting time after which agents of higher tiers qualify; None for never.
        unskilled_score: the score of a qualified agent without the conversation's category as a skill
            (and of every agent when the category is unknown).
        senior_penalty: subtracted per tier the agent holds above the conversation's.
    """

    name: ClassVar[str] = "tier"

    def __init__(self, overflow_after_seconds: float | None = 300.0, unskilled_score: float = 0.5,
                 senior_penalty: float = 0.1) -> None:
        self.overflow_after_seconds = overflow_after_seconds
        self.unskilled_score = unskilled_score
        self.senior_penalty = senior_penalty

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> TierStrategy:
        reader = Options(cls.name, options, ("overflow_after_seconds", "unskilled_score", "senior_penalty"))
        return cls(overflow_after_seconds=reader.optional_number("overflow_after_seconds", 300.0),
                   unskilled_score=reader.number("unskilled_score", 0.5, maximum=1.0),
                   senior_penalty=reader.number("senior_penalty", 0.1, maximum=1.0))

    def overflowing(self, conversation: WaitingConversation, now: datetime) -> bool:
        """Whether the conversation has waited long enough for agents of higher tiers to qualify."""
        if self.overflow_after_seconds is None or conversation.queued_at <= 0:
            return False
        return now.timestamp() - conversation.queued_at >= self.overflow_after_seconds

    def evaluate(self, conversation: WaitingConversation, agents: Sequence[AgentSnapshot], now: datetime) -> Scores:
        tier = conversation.tier
        category = conversation.category
        overflow = self.overflowing(conversation, now)
        scores: Scores = {}
        tops: dict[frozenset[int], int] = {}  # agents share a few tier sets: max() once per set
        for agent in agents:
            top = tops.get(agent.tiers)
            if top is None:
                top = tops[agent.tiers] = max(agent.tiers, default=0)
            if tier in agent.tiers:
                factor = 1.0
            elif overflow and top > tier:
                factor = OVERFLOW_FACTOR
            else:
                scores[agent.agent_id] = None
                continue
            score = 1.0 if category is not None and category in agent.skills else self.unskilled_score
            if top > tier:
                score -= self.senior_penalty * (top - tier)
            scores[agent.agent_id] = score * factor if score > 0.0 else 0.0
        return scores
