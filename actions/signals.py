"""Read the escalation signals of the latest turn, and its sentence embedding, out of a Rasa tracker."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import numpy as np
from rasa_sdk import Tracker

from actions.escalation import FALLBACK, Signals
from knowledge.answerability import Verdict

HUMAN_INTENT = "request_human"
FALLBACK_COUNT_SLOT = "fallback_count"
EMBEDDING_KEY = "text_embedding"  # written by bot/components/sentence_encoder.py


def ranking(tracker: Tracker) -> list[dict[str, Any]]:
    """The classifier's intent ranking of the latest message, without ``nlu_fallback``."""
    message = tracker.latest_message or {}
    ranked = [r for r in message.get("intent_ranking") or [] if r.get("name") != FALLBACK]
    if not ranked and (message.get("intent") or {}).get("name"):
        ranked = [message["intent"]]
    return ranked


def sentiment(tracker: Tracker) -> dict[str, Any]:
    found = (tracker.latest_message or {}).get("sentiment") or {}
    return {"label": found.get("label", "neutral"), "score": float(found.get("score", 0.0)),
            "frustration": float(found.get("frustration", 0.0))}


def read_signals(tracker: Tracker, kb_score: float | None, kb_verdict: Verdict | None = None) -> Signals:
    """Signals of the latest user message, with the best knowledge score found for it and the knowledge
    base's verdict on answering with that article (``None``: the score is judged by the threshold)."""
    ranked = ranking(tracker)
    top = ranked[0] if ranked else {"name": None, "confidence": 0.0}
    second = ranked[1] if len(ranked) > 1 else None
    feeling = sentiment(tracker)
    final_intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
    return Signals(
        intent=FALLBACK if final_intent == FALLBACK else top.get("name"),
        confidence=float(top.get("confidence") or 0.0),
        runner_up=second.get("name") if second else None,
        margin=float(top.get("confidence") or 0.0) - float(second.get("confidence") or 0.0) if second else 1.0,
        kb_score=kb_score,
        kb_answer=kb_verdict.answer if kb_verdict else None,
        kb_answerability=kb_verdict.answerability if kb_verdict else None,
        kb_answerability_threshold=kb_verdict.threshold if kb_verdict and kb_verdict.answerability is not None
        else None,
        kb_floor=kb_verdict.floor if kb_verdict else None,
        fallbacks=int(tracker.get_slot(FALLBACK_COUNT_SLOT) or 0),
        sentiment=feeling["score"],
        frustration=feeling["frustration"],
        explicit_request=top.get("name") == HUMAN_INTENT,
    )


def sentence_embedding(tracker: Tracker, model: str, dimension: int) -> np.ndarray | None:
    """The NLU pipeline's embedding of the latest message as a ``(1, dimension)`` row, if it is of ``model``.

    The Rasa pipeline passes it in the parse data (``text_embedding``: model,
    dimension, base64 of little-endian float32), so the knowledge search need
    not encode the text again. ``None`` when it is absent, of another model, or
    malformed: the caller then encodes the text itself.
    """
    found = (tracker.latest_message or {}).get(EMBEDDING_KEY)
    if not isinstance(found, dict) or found.get("model") != model or found.get("dimension") != dimension:
        return None
    try:
        raw = base64.b64decode(str(found.get("vector") or ""), validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) != 4 * dimension:
        return None
    return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(1, dimension)
