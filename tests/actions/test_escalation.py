from __future__ import annotations

import pytest

from actions.escalation import Signals, decide
from actions.settings import ActionSettings, SettingsError

T = ActionSettings()


def test_a_confident_knowledge_match_is_answered() -> None:
    assert decide(Signals("shipping_options", 0.9, "return_policy", 0.8, kb_score=0.8), T).action == "answer"


def test_an_explicit_request_always_hands_off() -> None:
    decision = decide(Signals("request_human", 0.95, kb_score=0.9, explicit_request=True), T)
    assert (decision.action, decision.codes) == ("handoff", ["explicit_request"])


def test_frustration_hands_off_with_high_priority_and_the_figures() -> None:
    decision = decide(Signals("order_status", 0.9, kb_score=0.9, sentiment=-0.8, frustration=0.9), T)
    assert decision.action == "handoff" and decision.priority == "high"
    assert decision.reasons[0].figures["sentiment"] == -0.8


def test_out_of_scope_hands_off_unless_an_article_matches_strongly() -> None:
    weak = decide(Signals("out_of_scope", 0.9, kb_score=0.3), T)
    assert weak.codes == ["out_of_scope", "low_knowledge_score"]
    assert decide(Signals("out_of_scope", 0.9, kb_score=T.kb_min_score + 0.15), T).action == "answer"


def test_a_clear_request_without_an_answer_hands_off() -> None:
    decision = decide(Signals("warranty_claim", 0.9, kb_score=0.2), T)
    assert decision.codes == ["no_answer", "low_knowledge_score"]


def test_an_unclear_message_is_rephrased_once_then_handed_off() -> None:
    first = decide(Signals("nlu_fallback", 0.2, "greet", 0.05, kb_score=0.2, fallbacks=0), T)
    assert first.action == "rephrase"
    assert set(first.codes) == {"low_knowledge_score", "low_nlu_confidence", "ambiguous_intent"}
    second = decide(Signals("nlu_fallback", 0.2, kb_score=0.2, fallbacks=1), T)
    assert second.action == "handoff" and second.codes[0] == "repeated_fallback"


def test_low_confidence_is_reported_even_when_the_answer_is_good() -> None:
    decision = decide(Signals("nlu_fallback", 0.25, kb_score=0.8), T)
    assert decision.action == "answer" and decision.codes == ["low_nlu_confidence"]


def test_settings_are_read_from_a_mapping_and_malformed_values_name_the_key() -> None:
    settings = ActionSettings.from_env({"ACTIONS_MAX_FALLBACKS": "4", "KB_MIN_SCORE": "0.6"})
    assert (settings.max_fallbacks, settings.kb_min_score) == (4, 0.6)
    with pytest.raises(SettingsError, match="ACTIONS_NLU_MIN_CONFIDENCE"):
        ActionSettings.from_env({"ACTIONS_NLU_MIN_CONFIDENCE": "high"})


def test_the_knowledge_base_s_verdict_replaces_the_score_threshold() -> None:
    abstained = decide(Signals("shipping_options", 0.9, kb_score=0.8, kb_answer=False, kb_answerability=0.1,
                               kb_answerability_threshold=0.2, kb_floor=0.4), T)
    assert abstained.action == "handoff" and abstained.codes == ["no_answer", "low_knowledge_score"]
    assert abstained.reasons[1].figures == {"score": 0.8, "threshold": T.kb_min_score, "answerability": 0.1,
                                            "answerability_threshold": 0.2, "floor": 0.4}
    assert decide(Signals("shipping_options", 0.9, kb_score=0.45, kb_answer=True), T).action == "answer"
    # an out-of-scope question is answered only on a strong match the verdict also accepts
    assert decide(Signals("out_of_scope", 0.9, kb_score=0.9, kb_answer=False), T).action == "handoff"
    assert decide(Signals("out_of_scope", 0.9, kb_score=0.9, kb_answer=True), T).action == "answer"
