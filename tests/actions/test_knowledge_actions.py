from __future__ import annotations

import asyncio
import base64
from typing import Any

import jsonschema
import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import ActionRequestHandoff
from actions.handoff_request import schema
from actions.knowledge import ActionAnswerOrHandoff, use_knowledge_base
from knowledge.embed import SentenceTransformerEmbedder
from knowledge.search import KnowledgeBase
from tests.actions.conftest import tracker


def run(action: Any, t: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, t, {}))
    return dispatcher.messages, events


def test_a_knowledge_question_is_answered_with_a_citation(kb: KnowledgeBase) -> None:
    messages, events = run(ActionAnswerOrHandoff(), tracker("how much is shipping?", [("shipping_options", 0.93)]))
    assert len(messages) == 1
    assert messages[0]["response"] == "utter_kb_answer"
    assert messages[0]["answer"].startswith("Standard shipping costs $4.95")
    citation = messages[0]["custom"]["citation"]
    assert citation["article_id"] == "shipping-costs"
    assert citation["version"] == kb.store.get("shipping-costs").version
    assert events == [SlotSet("fallback_count", 0.0)]


def test_an_unrelated_question_is_handed_off_with_reasons(kb: KnowledgeBase) -> None:
    t = tracker("who will win the football tonight?", [("out_of_scope", 0.91), ("greet", 0.02)])
    messages, events = run(ActionAnswerOrHandoff(), t)
    assert messages[0]["response"] == "utter_handoff"
    request = messages[0]["custom"]["handoff"]
    jsonschema.validate(request, schema())
    assert [r["code"] for r in request["reasons"]] == ["out_of_scope", "low_knowledge_score"]
    assert request["reasons"][0]["figures"]["confidence"] == 0.91
    assert request["intents"][0] == {"name": "out_of_scope", "confidence": 0.91}
    assert request["last_user_message"] == "who will win the football tonight?"
    assert "football" in request["summary"]
    assert request["knowledge"][0]["score"] < 0.35 and request["category"] is None  # nothing says what it is about
    assert SlotSet("handoff_requested", True) in events


def test_an_unclear_message_asks_to_rephrase_then_hands_off(kb: KnowledgeBase) -> None:
    first, events = run(ActionAnswerOrHandoff(), tracker("blorp zzz", [("greet", 0.2), ("thank", 0.15)],
                                                          fallback=True))
    assert first[0]["response"] == "utter_ask_rephrase"
    assert events == [SlotSet("fallback_count", 1.0)]
    second, _ = run(ActionAnswerOrHandoff(), tracker("qwerty asdf", [("greet", 0.2)], fallback=True,
                                                     slots={"fallback_count": 1.0}))
    request = second[0]["custom"]["handoff"]
    assert request["reasons"][0]["code"] == "repeated_fallback"
    jsonschema.validate(request, schema())


def test_a_frustrated_customer_is_handed_off_with_priority(kb: KnowledgeBase) -> None:
    t = tracker("THIS IS RIDICULOUS, still no refund!!!", [("refund_status", 0.8)],
                sentiment={"label": "negative", "score": -0.75, "frustration": 0.95})
    messages, _ = run(ActionAnswerOrHandoff(), t)
    assert messages[0]["response"] == "utter_handoff_frustrated"
    request = messages[0]["custom"]["handoff"]
    jsonschema.validate(request, schema())
    assert request["priority"] == "high"
    assert request["sentiment"] == {"label": "negative", "score": -0.75, "frustration": 0.95}
    assert request["knowledge"][0]["article_id"] == "returns-window"  # searched on the intent's shelf
    assert request["category"] == "returns"


def test_asking_for_a_person_hands_off_with_the_conversation_summary(kb: KnowledgeBase) -> None:
    history = [{"event": "user", "text": "where is my order 12345",
                "parse_data": {"intent": {"name": "order_status", "confidence": 0.97}}},
               {"event": "bot", "text": "Order 12345 is on its way.", "data": {}},
               {"event": "user", "text": "how much is shipping",
                "parse_data": {"intent": {"name": "shipping_options", "confidence": 0.9}}},
               {"event": "bot", "text": "Standard shipping costs ...",
                "data": {"custom": {"citation": {"title": "Shipping costs"}}}}]
    t = tracker("let me talk to a real person", [("request_human", 0.98)], history=history,
                slots={"order_number": "12345"})
    messages, _ = run(ActionRequestHandoff(), t)
    request = messages[0]["custom"]["handoff"]
    jsonschema.validate(request, schema())
    assert request["reasons"][0]["code"] == "explicit_request"
    assert request["category"] is None  # asking for a person says nothing about the topic
    assert request["slots"] == {"order_number": "12345"}
    summary = request["summary"]
    assert "3 messages" in summary and "order status" in summary and "shipping options" in summary
    assert '"Shipping costs"' in summary and "order number 12345" in summary


def test_without_a_knowledge_index_the_bot_still_decides(tmp_path: Any, monkeypatch: Any) -> None:
    use_knowledge_base(None)  # from KB_INDEX_DIR, which has none
    monkeypatch.setenv("KB_INDEX_DIR", str(tmp_path / "missing"))
    messages, _ = run(ActionAnswerOrHandoff(), tracker("do you ship to Peru?", [("shipping_options", 0.9)]))
    request = messages[0]["custom"]["handoff"]
    assert [r["code"] for r in request["reasons"]] == ["no_answer", "low_knowledge_score"]
    assert request["knowledge"] == [] and request["category"] == "shipping"  # from the intent
    jsonschema.validate(request, schema())


def embedding_of(kb: KnowledgeBase, text: str, **overrides: Any) -> dict[str, Any]:
    """``text``'s vector as the Rasa pipeline passes it (bot/components/sentence_encoder.py)."""
    vector = kb.embedder.encode([text])[0].astype("<f4")
    return {"model": kb.embedder.name, "dimension": kb.embedder.dimension,
            "vector": base64.b64encode(vector.tobytes()).decode("ascii"), **overrides}


def test_the_nlu_pipeline_s_embedding_is_searched_without_encoding_the_text_again(kb: KnowledgeBase) -> None:
    # the passed vector is of another question than the text: the answer shows which one was searched
    t = tracker("how much is shipping?", [("greet", 0.3)], embedding=embedding_of(kb, "How do I delete my account?"))
    messages, _ = run(ActionAnswerOrHandoff(), t)
    assert messages[0]["custom"]["citation"]["article_id"] == "delete-account"


@pytest.mark.parametrize("overrides", [{"model": "another-model"}, {"dimension": 768}, {"vector": "not base64!"},
                                       {"vector": base64.b64encode(b"short").decode("ascii")}])
def test_an_embedding_of_another_model_or_malformed_is_ignored(kb: KnowledgeBase, overrides: dict) -> None:
    t = tracker("how much is shipping?", [("greet", 0.3)],
                embedding=embedding_of(kb, "How do I delete my account?", **overrides))
    messages, _ = run(ActionAnswerOrHandoff(), t)
    assert messages[0]["custom"]["citation"]["article_id"] == "shipping-costs"


def test_the_knowledge_base_s_calibrated_rule_decides_whether_to_answer(
        embedder: SentenceTransformerEmbedder) -> None:
    from tests.knowledge.test_answerability import articles

    kb = KnowledgeBase(embedder)
    kb.sync(articles())
    assert kb.calibrate() is not None
    use_knowledge_base(kb)
    # below KB_MIN_SCORE, yet far ahead of every other article: the calibrated rule answers
    messages, events = run(ActionAnswerOrHandoff(), tracker("my gift card, does it run out?", [("greet", 0.3)]))
    assert messages[0]["response"] == "utter_kb_answer"
    citation = messages[0]["custom"]["citation"]
    assert citation["article_id"] == "gift-cards" and citation["score"] < 0.70
    assert events == [SlotSet("fallback_count", 0.0)]

    # nothing answers it: handed off as on a low score, with the calibrated figures
    t = tracker("who will win the football tonight?", [("out_of_scope", 0.91), ("greet", 0.02)])
    messages, events = run(ActionAnswerOrHandoff(), t)
    request = messages[0]["custom"]["handoff"]
    jsonschema.validate(request, schema())
    assert [r["code"] for r in request["reasons"]] == ["out_of_scope", "low_knowledge_score"]
    figures = request["reasons"][1]["figures"]
    assert figures["answerability"] < figures["answerability_threshold"] and figures["floor"] > figures["score"]
    assert SlotSet("handoff_requested", True) in events
