"""Difficulty tiers, priorities and categories from real-shaped hand-off requests."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from handoff.core.difficulty import CATEGORY_POINTS, category_for, estimate_tier, priority_for
from handoff.core.model import CustomerId, CustomerProfile, Priority
from tests.conftest import ROOT

STANDARD = CustomerProfile(CustomerId("c-1"))
VIP = CustomerProfile(CustomerId("c-2"), value_tier="vip")


def request(intent: str = "shipping_options", *codes: str, category: str | None = None, priority: str = "normal",
            frustration: float = 0.0, score: float = 0.0, knowledge: list[dict[str, Any]] | None = None,
            **figures: Any) -> dict[str, Any]:
    """A hand-off request shaped as schemas/handoff-request.v2.json, with the bot's ``category``."""
    return {
        "schema": "handoff-request/v2", "conversation_id": "c-42", "created_at": "2026-11-25T09:12:44+00:00",
        "priority": priority,
        "reasons": [{"code": code, "detail": "", "figures": figures} for code in codes or ("explicit_request",)],
        "intents": [{"name": intent, "confidence": 0.93}, {"name": "greet", "confidence": 0.02}],
        "knowledge": knowledge or [], "category": category,
        "sentiment": {"label": "negative" if score < 0 else "neutral", "score": score, "frustration": frustration},
        "summary": "", "last_user_message": "", "slots": {},
    }


def version_1(v2: dict[str, Any]) -> dict[str, Any]:
    """The same request as a bot older than ``category`` sends it (schemas/handoff-request.v1.json)."""
    return {**{k: v for k, v in v2.items() if k != "category"}, "schema": "handoff-request/v1"}


def test_difficulty_test_requests_are_valid_in_their_schema_version() -> None:
    for version, req in (("v2", request(category="shipping")), ("v2", request()), ("v1", version_1(request()))):
        jsonschema.validate(req, json.loads((ROOT / "schemas" / f"handoff-request.{version}.json").read_text()))


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
    fallback = request("order_status", "repeated_fallback", category="orders", unanswered_turns=3, limit=3)
    difficulty = estimate_tier(fallback, STANDARD, 0)
    assert difficulty.contributions["failed_turns"] == pytest.approx(0.6)
    assert difficulty.tier == 2  # orders 0.25 + 3 turns 0.6 + repeated_fallback 0.5


def test_difficulty_caps_each_factor() -> None:
    many = request("privacy_data", "complaint", "repeated_fallback", "no_answer", category="privacy", frustration=1.0)
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


def test_difficulty_category_is_the_one_the_bot_sent() -> None:
    article = {"article_id": "a", "version": "1", "title": "t", "category": "returns", "score": 0.61}
    assert category_for(request("order_status", category="returns", knowledge=[article])) == "returns"
    assert category_for(request("refund_status", category="returns")) == "returns"
    assert category_for(request("out_of_scope", category=None)) is None  # the lasagne recipe
    assert category_for(None) is None


def test_difficulty_category_points_follow_the_request_s_category_not_its_intent() -> None:
    assert estimate_tier(request("order_status", category="privacy"), STANDARD, 0).contributions["category"] == 1.0
    assert estimate_tier(request("privacy_data", category=None), STANDARD, 0).contributions["category"] == 0.0


def test_difficulty_a_version_1_request_gets_its_good_knowledge_match_s_category_only() -> None:
    good = {"article_id": "a", "version": "1", "title": "t", "category": "returns", "score": 0.61}
    weak = {"article_id": "a", "version": "1", "title": "t", "category": "products", "score": 0.21}
    assert category_for(version_1(request("order_status", knowledge=[good]))) == "returns"
    assert category_for(version_1(request("refund_status", knowledge=[weak]))) is None  # no intent table here
    assert category_for(version_1(request("order_status"))) is None


def test_difficulty_rates_every_knowledge_category() -> None:
    shelves = {path.name for path in (ROOT / "data" / "knowledge").iterdir() if path.is_dir()}
    assert set(CATEGORY_POINTS) == shelves
