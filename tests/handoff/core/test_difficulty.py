"""Difficulty tiers, priorities and categories from real-shaped hand-off requests."""

from __future__ import annotations

import ast
from typing import Any

import pytest
import yaml

from handoff.core.difficulty import CATEGORY_POINTS, INTENT_CATEGORY, category_for, estimate_tier, priority_for
from handoff.core.model import CustomerId, CustomerProfile, Priority
from tests.conftest import ROOT

STANDARD = CustomerProfile(CustomerId("c-1"))
VIP = CustomerProfile(CustomerId("c-2"), value_tier="vip")
TOPICLESS = {"greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "inform", "request_human",
             "complaint", "out_of_scope"}


def request(intent: str = "shipping_options", *codes: str, priority: str = "normal", frustration: float = 0.0,
            score: float = 0.0, knowledge: list[dict[str, Any]] | None = None, **figures: Any) -> dict[str, Any]:
    """A hand-off request shaped as schemas/handoff-request.v1.json."""
    return {
        "schema": "handoff-request/v1", "conversation_id": "c-42", "created_at": "2026-11-25T09:12:44+00:00",
        "priority": priority,
        "reasons": [{"code": code, "detail": "", "figures": figures} for code in codes or ("explicit_request",)],
        "intents": [{"name": intent, "confidence": 0.93}, {"name": "greet", "confidence": 0.02}],
        "knowledge": knowledge or [],
        "sentiment": {"label": "negative" if score < 0 else "neutral", "score": score, "frustration": frustration},
        "summary": "", "last_user_message": "", "slots": {},
    }


def test_difficulty_simple_shipping_question_is_tier_one() -> None:
    difficulty = estimate_tier(request("shipping_options"), STANDARD, 0)
    assert (difficulty.tier, difficulty.score) == (1, 0.0)
    assert difficulty.explain() == "tier 1 (0: no difficulty signals)"


def test_difficulty_failed_payment_is_tier_two() -> None:
    difficulty = estimate_tier(request("payment_failed"), STANDARD, 0)
    assert difficulty.tier == 2
    assert difficulty.contributions["category"] == 1.0


def test_difficulty_angry_payment_complaint_is_tier_three() -> None:
    angry = request("payment_failed", "complaint", "negative_sentiment", frustration=0.8, score=-0.6)
    difficulty = estimate_tier(angry, STANDARD, 1)
    assert difficulty.tier == 3
    assert difficulty.contributions == {"category": 1.0, "failed_turns": 0.2, "sentiment": 0.8, "reasons": 0.75,
                                        "customer": 0.0}
    assert difficulty.explain() == "tier 3 (2.75: category 1, failed_turns 0.2, sentiment 0.8, reasons 0.75)"


def test_difficulty_repeated_fallbacks_count_failed_turns_from_the_request() -> None:
    fallback = request("order_status", "repeated_fallback", unanswered_turns=3, limit=3)
    difficulty = estimate_tier(fallback, STANDARD, 0)
    assert difficulty.contributions["failed_turns"] == pytest.approx(0.6)
    assert difficulty.tier == 2  # orders 0.25 + 3 turns 0.6 + repeated_fallback 0.5


def test_difficulty_caps_each_factor() -> None:
    many = request("privacy_data", "complaint", "repeated_fallback", "no_answer", frustration=1.0)
    difficulty = estimate_tier(many, STANDARD, 12)
    assert difficulty.contributions["failed_turns"] == 1.0
    assert difficulty.contributions["reasons"] == 1.0
    assert difficulty.score == 4.0


def test_difficulty_vip_is_at_least_tier_two() -> None:
    assert estimate_tier(request("delivery_tracking"), VIP, 0).tier == 2
    assert estimate_tier(None, VIP, 0).tier == 2


def test_difficulty_without_a_request_counts_turns_and_customer_only() -> None:
    assert estimate_tier(None, STANDARD, 0).tier == 1
    assert estimate_tier(None, STANDARD, 5).contributions["failed_turns"] == 1.0


def test_difficulty_ignores_malformed_fields() -> None:
    odd = {"intents": "payment", "reasons": [None, {"code": 7}], "sentiment": {"frustration": "very"}}
    assert estimate_tier(odd, STANDARD, 0).tier == 1


@pytest.mark.parametrize("req, customer, expected", [
    (request(priority="normal"), STANDARD, Priority.NORMAL),
    (request(priority="high"), STANDARD, Priority.HIGH),
    (request(priority="high"), VIP, Priority.URGENT),
    (request(priority="normal"), VIP, Priority.NORMAL),
    (None, VIP, Priority.NORMAL),
])
def test_difficulty_priority_follows_request_and_value(req: dict[str, Any] | None, customer: CustomerProfile,
                                                       expected: Priority) -> None:
    assert priority_for(req, customer) is expected


def test_difficulty_category_prefers_a_good_knowledge_match() -> None:
    article = {"article_id": "a", "version": "1", "title": "t", "category": "returns", "score": 0.61}
    assert category_for(request("order_status", knowledge=[article])) == "returns"


def test_difficulty_category_falls_back_to_the_intent_when_the_match_is_weak() -> None:
    weak = {"article_id": "a", "version": "1", "title": "t", "category": "products", "score": 0.21}
    assert category_for(request("refund_status", knowledge=[weak])) == "returns"
    assert category_for(request("out_of_scope", knowledge=[weak])) is None  # the lasagne recipe
    assert category_for(None) is None


def test_difficulty_intent_map_covers_every_topical_nlu_intent() -> None:
    intents = {item["intent"] for path in sorted((ROOT / "data" / "nlu").glob("*.yml"))
               for item in yaml.safe_load(path.read_text())["nlu"] if "intent" in item}
    assert set(INTENT_CATEGORY) == intents - TOPICLESS


def test_difficulty_intent_map_agrees_with_the_actions() -> None:
    tree = ast.parse((ROOT / "actions" / "knowledge.py").read_text())
    assignment = next(node for node in tree.body if isinstance(node, ast.Assign)
                      and any(isinstance(t, ast.Name) and t.id == "INTENT_CATEGORY" for t in node.targets))
    actions_map = ast.literal_eval(assignment.value)
    assert {intent: INTENT_CATEGORY[intent] for intent in actions_map} == actions_map


def test_difficulty_rates_every_knowledge_category() -> None:
    shelves = {path.name for path in (ROOT / "data" / "knowledge").iterdir() if path.is_dir()}
    assert set(CATEGORY_POINTS) == set(INTENT_CATEGORY.values()) == shelves
