"""How hard a hand-off is (tier 1..3), how urgent it is, and what it is about.

The bot's hand-off request (docs/handoff-payload.md) carries the signals; this
module turns them into the three numbers routing works on. Difficulty is a sum
of points per factor, each capped so that no single factor decides alone::

    factor           points                        why
    category/intent  0 .. 1    (CATEGORY_POINTS)   payments and account security need trained agents
    failed turns     0.2 each, at most 1           the bot already failed several times
    sentiment        0 .. 1    (frustration)       upset customers need experienced agents
    reasons          0 .. 1    (REASON_POINTS)     complaints, repeated fallbacks, failed order lookups
    customer value   0.5 for vip                   and a vip never gets less than tier 2

    tier 1: < 1 point, tier 2: 1 .. < 2 points, tier 3: 2 points or more

The figures are judgement, not fitted: tune them against the QA data (handle
time and reopen rate per tier). A request may be None (a transfer or a manual
escalation): then only the failed turns and the customer count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from handoff.core.model import CustomerProfile, Priority

TIER_2_POINTS = 1.0
TIER_3_POINTS = 2.0
VIP = "vip"

CATEGORY_POINTS: Mapping[str, float] = {
    "shipping": 0.0, "products": 0.0, "orders": 0.25, "returns": 0.25,
    "payments": 0.75, "accounts": 0.75, "privacy": 1.0,
}
"""Difficulty of a topic: money and account security need a trained agent; privacy requests are legal."""

INTENT_POINTS: Mapping[str, float] = {
    "payment_failed": 1.0,  # money may have left the account: often a fraud or bank question
    "account_login_problem": 1.0,  # account security: identity checks before any change
    "warranty_claim": 0.5, "damaged_item": 0.5, "missing_item": 0.5,
}
"""Intents harder than their category."""

REASON_POINTS: Mapping[str, float] = {
    "complaint": 0.75, "repeated_fallback": 0.5, "order_lookup_failed": 0.25,
    "ambiguous_intent": 0.25, "low_nlu_confidence": 0.25, "no_answer": 0.25,
}
"""Hand-off reason codes that make the conversation harder (``negative_sentiment`` counts under sentiment)."""

POINTS_PER_FAILED_TURN = 0.2
MAX_FACTOR_POINTS = 1.0
VIP_POINTS = 0.5
CATEGORY_MIN_SCORE = 0.35
"""For a version 1 request only (it has no ``category``): a knowledge candidate scoring below this says too
little about the topic to name its category. The bot applies the same figure when it fills ``category``."""


@dataclass(frozen=True)
class Difficulty:
    """The estimated difficulty of a hand-off.

    Attributes:
        tier: 1 (easy) .. 3 (hard), the tier an agent must be qualified for.
        score: the sum of the points.
        contributions: points per factor (``category``, ``failed_turns``, ``sentiment``, ``reasons``,
            ``customer``), to show people why.
    """

    tier: int
    score: float
    contributions: Mapping[str, float]

    def explain(self) -> str:
        """One line for the log and the console: ``tier 2 (1.45: category 0.75, sentiment 0.7)``."""
        parts = ", ".join(f"{name} {points:g}" for name, points in self.contributions.items() if points)
        return f"tier {self.tier} ({self.score:g}: {parts or 'no difficulty signals'})"


def _top_intent(request: Mapping[str, Any]) -> str | None:
    intents = request.get("intents") or []
    if intents and isinstance(intents[0], Mapping):
        name = intents[0].get("name")
        return name if isinstance(name, str) else None
    return None


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _reason_codes(request: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [r for r in request.get("reasons") or [] if isinstance(r, Mapping)]


def _topic_points(request: Mapping[str, Any]) -> float:
    intent = _top_intent(request)
    if intent is not None and intent in INTENT_POINTS:
        return INTENT_POINTS[intent]
    category = category_for(request)
    return CATEGORY_POINTS.get(category, 0.0) if category else 0.0


def _sentiment_points(request: Mapping[str, Any]) -> float:
    sentiment = request.get("sentiment")
    if not isinstance(sentiment, Mapping):
        return 0.0
    upset = max(_number(sentiment.get("frustration")), -_number(sentiment.get("score")), 0.0)
    return min(upset, MAX_FACTOR_POINTS)


def _failed_turns(request: Mapping[str, Any] | None, failed_bot_turns: int) -> int:
    turns = max(failed_bot_turns, 0)
    for reason in _reason_codes(request or {}):
        figures = reason.get("figures")
        if reason.get("code") == "repeated_fallback" and isinstance(figures, Mapping):
            turns = max(turns, int(_number(figures.get("unanswered_turns"))))
    return turns


def estimate_tier(request: Mapping[str, Any] | None, customer: CustomerProfile, failed_bot_turns: int) -> Difficulty:
    """Estimate how hard a hand-off is.

    Args:
        request: the bot's hand-off request (docs/handoff-payload.md), or None for a transfer or a manual
            escalation. Missing or malformed fields count as no signal.
        customer: the customer's profile (a vip never gets less than tier 2).
        failed_bot_turns: turns the bot could not answer (the larger of this and the request's
            ``repeated_fallback`` figure counts).

    Returns:
        The tier, the score and the points per factor.
    """
    turns = _failed_turns(request, failed_bot_turns)
    contributions: dict[str, float] = {
        "category": _topic_points(request) if request else 0.0,
        "failed_turns": min(turns * POINTS_PER_FAILED_TURN, MAX_FACTOR_POINTS),
        "sentiment": _sentiment_points(request) if request else 0.0,
        "reasons": min(sum(REASON_POINTS.get(str(r.get("code")), 0.0)
                           for r in _reason_codes(request or {})), MAX_FACTOR_POINTS),
        "customer": VIP_POINTS if customer.value_tier == VIP else 0.0,
    }
    contributions = {name: round(points, 3) for name, points in contributions.items()}
    score = round(sum(contributions.values()), 3)
    tier = 3 if score >= TIER_3_POINTS else 2 if score >= TIER_2_POINTS else 1
    if customer.value_tier == VIP:
        tier = max(tier, 2)
    return Difficulty(tier=tier, score=score, contributions=contributions)


def priority_for(request: Mapping[str, Any] | None, customer: CustomerProfile) -> Priority:
    """The queue priority: ``high`` requests are HIGH, and URGENT for a vip; everything else NORMAL."""
    if request is None or request.get("priority") != "high":
        return Priority.NORMAL
    return Priority.URGENT if customer.value_tier == VIP else Priority.HIGH


def category_for(request: Mapping[str, Any] | None) -> str | None:
    """What the conversation is about, as a knowledge category (``orders``, ``payments``...), or None.

    The bot decides it (docs/handoff-payload.md): a version 2 request carries it in ``category``, and the
    service keeps no table of intents. A version 1 request, from a bot older than the field, gets its best
    knowledge candidate's category when that scored at least :data:`CATEGORY_MIN_SCORE`, else None.
    """
    if not request:
        return None
    if "category" in request:
        category = request["category"]
        return category if isinstance(category, str) and category else None
    candidates: Sequence[Any] = request.get("knowledge") or []
    if candidates and isinstance(candidates[0], Mapping):
        best = candidates[0]
        category = best.get("category")
        if isinstance(category, str) and category and _number(best.get("score")) >= CATEGORY_MIN_SCORE:
            return category
    return None
