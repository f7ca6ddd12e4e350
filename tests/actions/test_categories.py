"""The intent -> category table (the only one) against the data, and the category a hand-off request names."""

from __future__ import annotations

import pytest
import yaml

from actions.categories import INTENT_CATEGORY, conversation_category
from tests.conftest import ROOT

TOPICLESS = {"greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "inform", "request_human",
             "complaint", "out_of_scope"}


def test_every_topical_nlu_intent_has_a_category() -> None:
    intents = {item["intent"] for path in sorted((ROOT / "data" / "nlu").glob("*.yml"))
               for item in yaml.safe_load(path.read_text())["nlu"] if "intent" in item}
    assert set(INTENT_CATEGORY) == intents - TOPICLESS


def test_every_category_is_a_shelf_of_the_knowledge_base_and_every_shelf_is_a_category() -> None:
    shelves = {path.name for path in (ROOT / "data" / "knowledge").iterdir() if path.is_dir()}
    assert set(INTENT_CATEGORY.values()) == shelves


def candidate(category: str, score: float) -> dict[str, object]:
    return {"article_id": "a", "version": "1", "title": "t", "category": category, "score": score}


@pytest.mark.parametrize(("intent", "candidates", "expected"), [
    ("order_status", [candidate("returns", 0.61)], "returns"),  # a good match names the shelf
    ("order_status", [candidate("returns", 0.35)], "returns"),
    ("refund_status", [candidate("products", 0.21)], "returns"),  # a weak one does not: the intent does
    ("discount_code", [], "payments"),
    ("out_of_scope", [candidate("products", 0.21)], None),  # the lasagne recipe
    ("request_human", [], None),
])
def test_the_category_is_the_good_match_s_else_the_intent_s(intent: str, candidates: list[dict[str, object]],
                                                           expected: str | None) -> None:
    intents = [{"name": intent, "confidence": 0.93}, {"name": "greet", "confidence": 0.02}]
    assert conversation_category(intents, candidates) == expected


def test_without_intents_or_candidates_there_is_no_category() -> None:
    assert conversation_category([], []) is None
