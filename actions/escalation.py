"""When the bot answers, asks again, or hands the conversation to a person.

Pure logic, no I/O: :func:`decide` takes the signals of one turn and the
thresholds, and returns a :class:`Decision` with every reason and the figures
behind it. Signals, strongest first:

1. an explicit request for a person;
2. frustration or strongly negative sentiment;
3. a complaint (recognised with confidence);
4. an out-of-scope question no article answers well;
5. no article good enough (the knowledge base's verdict, ``kb_answer``: its
   calibrated answer-or-abstain rule, or the score threshold without one),
   when the intent was clear (the bot knows what is asked and cannot answer)
   or after ``max_fallbacks`` unanswered turns;
   otherwise the bot asks the customer to rephrase, once.

NLU confidence and the margin to the runner-up intent are reported as reasons
whenever they are low, so an agent sees why the bot was unsure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from actions.settings import ActionSettings

Figure = float | int | str | None
OUT_OF_SCOPE = "out_of_scope"
FALLBACK = "nlu_fallback"
COMPLAINT = "complaint"
# An out-of-scope message is still answered when an article matches this much
# above the answer threshold: the classifier's out_of_scope class is broad.
STRONG_MATCH_BONUS = 0.1


@dataclass(frozen=True)
class Signals:
    """What is known about the latest customer message."""

    intent: str | None
    confidence: float
    runner_up: str | None = None
    margin: float = 1.0
    kb_score: float | None = None
    kb_answer: bool | None = None  # the knowledge base's verdict; None: judge kb_score by the threshold
    kb_answerability: float | None = None  # its calibrated score, when it has one
    kb_answerability_threshold: float | None = None
    kb_floor: float | None = None  # the score the calibrated rule also wants
    fallbacks: int = 0
    sentiment: float = 0.0
    frustration: float = 0.0
    explicit_request: bool = False


@dataclass(frozen=True)
class Reason:
    """One reason for a hand-off (or for being unsure), with its evidence."""

    code: str
    detail: str
    figures: dict[str, Figure] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "detail": self.detail, "figures": dict(self.figures)}


@dataclass(frozen=True)
class Decision:
    action: Literal["answer", "handoff", "rephrase"]
    reasons: tuple[Reason, ...] = ()
    priority: Literal["normal", "high"] = "normal"

    @property
    def codes(self) -> list[str]:
        return [r.code for r in self.reasons]


def decide(s: Signals, t: ActionSettings) -> Decision:
    """Answer, rephrase or hand off, given the signals ``s`` and thresholds ``t``."""
    unsure = _uncertainty(s, t)
    kb_ok = s.kb_answer if s.kb_answer is not None else s.kb_score is not None and s.kb_score >= t.kb_min_score
    kb_figures: dict[str, Figure] = {"score": _round(s.kb_score), "threshold": t.kb_min_score}
    if s.kb_answerability is not None:
        kb_figures.update(answerability=_round(s.kb_answerability),
                          answerability_threshold=_round(s.kb_answerability_threshold), floor=_round(s.kb_floor))
    kb_reason = Reason("low_knowledge_score", "No knowledge article matched well enough to answer.", kb_figures)
    if s.explicit_request:
        return Decision("handoff", (Reason("explicit_request", "The customer asked for a person.",
                                           {"intent": s.intent, "confidence": _round(s.confidence)}),))
    if s.frustration >= t.frustration or s.sentiment <= t.negative_sentiment:
        reason = Reason("negative_sentiment", "The customer sounds frustrated or upset.",
                        {"sentiment": _round(s.sentiment), "frustration": _round(s.frustration),
                         "sentiment_threshold": t.negative_sentiment, "frustration_threshold": t.frustration})
        return Decision("handoff", (reason, *unsure), priority="high")
    confident = s.confidence >= t.nlu_min_confidence and s.intent != FALLBACK
    if s.intent == COMPLAINT and confident:
        return Decision("handoff", (Reason("complaint", "The customer is making a complaint.",
                                           {"confidence": _round(s.confidence)}),), priority="high")
    if s.intent == OUT_OF_SCOPE and confident:
        if kb_ok and s.kb_score is not None and s.kb_score >= t.kb_min_score + STRONG_MATCH_BONUS:
            return Decision("answer", unsure)
        reason = Reason("out_of_scope", "The question is outside what the assistant supports.",
                        {"confidence": _round(s.confidence)})
        return Decision("handoff", (reason, kb_reason))
    if kb_ok:
        return Decision("answer", unsure)
    if confident and s.intent not in (OUT_OF_SCOPE, None):
        reason = Reason("no_answer", "The assistant understood the request but has no answer for it.",
                        {"intent": s.intent, "confidence": _round(s.confidence)})
        return Decision("handoff", (reason, kb_reason, *unsure))
    if s.fallbacks + 1 >= t.max_fallbacks:
        reason = Reason("repeated_fallback", "The assistant failed to understand the customer several times.",
                        {"unanswered_turns": s.fallbacks + 1, "limit": t.max_fallbacks})
        return Decision("handoff", (reason, kb_reason, *unsure))
    return Decision("rephrase", (kb_reason, *unsure))


def _uncertainty(s: Signals, t: ActionSettings) -> tuple[Reason, ...]:
    reasons = []
    if s.confidence < t.nlu_min_confidence or s.intent == FALLBACK:
        reasons.append(Reason("low_nlu_confidence", "The assistant was not confident about the request.",
                              {"intent": s.intent, "confidence": _round(s.confidence),
                               "threshold": t.nlu_min_confidence}))
    if s.margin < t.nlu_min_margin and s.runner_up:
        reasons.append(Reason("ambiguous_intent", "Two requests were almost equally likely.",
                              {"intent": s.intent, "runner_up": s.runner_up, "margin": _round(s.margin),
                               "threshold": t.nlu_min_margin}))
    return tuple(reasons)


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)
