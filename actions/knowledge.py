"""Answer from the knowledge base, or hand off when the bot should not guess.

``action_answer_or_handoff`` runs for knowledge intents, out-of-scope messages,
complaints and NLU fallbacks. It searches the knowledge base (narrowed to the
category the intent implies, widened when that finds nothing), asks the
knowledge base whether its best article answers the question at all (its
calibrated answer-or-abstain rule, :mod:`knowledge.answerability`; the
``KB_MIN_SCORE`` threshold for an index built before it), then lets
:func:`actions.escalation.decide` choose: answer with the best article and cite
it, ask the customer to rephrase, or hand off with reasons.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.categories import INTENT_CATEGORY
from actions.escalation import decide
from actions.handoff import hand_off
from actions.settings import ActionSettings
from actions.signals import FALLBACK_COUNT_SLOT, ranking, read_signals, sentence_embedding
from knowledge.answerability import Verdict
from knowledge.errors import KnowledgeError
from knowledge.live import LiveKnowledgeBase, open_live
from knowledge.search import KnowledgeBase
from knowledge.settings import KnowledgeSettings

logger = logging.getLogger(__name__)

# Intents whose questions are answered on more than one shelf: searched everywhere, not in their category.
# discount_code's are in payments (codes that fail) and products (student and newsletter discounts, price
# matching); narrowed to payments, 2 of its 35 NLU examples lost their best article to a weaker one.
SEARCH_EVERY_SHELF = frozenset({"discount_code"})
CANDIDATES = 5

_lock = threading.Lock()
_live: LiveKnowledgeBase | None = None
_fixed: KnowledgeBase | None = None


def knowledge_base() -> KnowledgeBase:
    """The knowledge base in ``KB_INDEX_DIR``: opened once per process (the model and the index), then the newest
    published generation of the index, swapped in without a restart (:mod:`knowledge.live`; the pointer is
    checked every ``KB_RELOAD_INTERVAL`` seconds). A turn keeps the knowledge base this returned.

    Raises:
        KnowledgeError: it cannot be opened (no index: a cheap check, retried every turn).
    """
    global _live
    with _lock:
        if _fixed is not None:
            return _fixed
        if _live is None:
            _live = open_live(KnowledgeSettings.from_env())
            logger.info("knowledge base loaded: %d articles (generation %d)", len(_live.current().store),
                        _live.current().generation)
        live = _live
    return live.current()


def use_knowledge_base(kb: KnowledgeBase | None) -> None:
    """Serve ``kb`` instead of loading one from ``KB_INDEX_DIR`` (for embedding the actions elsewhere); None:
    opened again from ``KB_INDEX_DIR`` on the next turn."""
    global _fixed, _live
    with _lock:
        _fixed, _live = kb, None


def find_candidates(tracker: Tracker, text: str, intent: str | None, confident: bool,
                    min_score: float) -> tuple[list[dict[str, Any]], Verdict | None]:
    """Knowledge candidates for the latest message (``text``), best first, as plain dictionaries, and the
    knowledge base's verdict on answering with the first (``None`` without candidates).

    The query vector is the one the NLU pipeline computed for the message when
    it is of the index's model, else the text is encoded here. The search is
    narrowed to the intent's category when the intent is trusted (and its
    questions are on one shelf), and widened to everything when that finds
    nothing scoring ``min_score``. The verdict weighs the first candidate
    against the best of the other articles on every shelf, as the rule was
    calibrated: on a narrowed shelf of one or two articles any match would
    stand far ahead of its runners-up.
    """
    kb = knowledge_base()
    vector = sentence_embedding(tracker, kb.embedder.name, kb.embedder.dimension)
    if vector is None:
        vector = kb.embedder.encode([text])
    category = INTENT_CATEGORY.get(intent or "") if confident and intent not in SEARCH_EVERY_SHELF else None
    hits = kb.search_vector(vector, k=CANDIDATES, category=category) if category else []
    widened = kb.search_vector(vector, k=CANDIDATES + 1)
    if not hits or (hits[0].score < min_score and widened and widened[0].score > hits[0].score):
        hits = widened[:CANDIDATES]
    if not hits:
        return [], None
    competing = [h.score for h in widened if h.article_id != hits[0].article_id]
    return [h.to_dict() for h in hits], kb.verdict([hits[0].score, *competing][:CANDIDATES], min_score)


class ActionAnswerOrHandoff(Action):
    def name(self) -> str:
        return "action_answer_or_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        settings = ActionSettings.from_env()
        text = str((tracker.latest_message or {}).get("text") or "")
        ranked = ranking(tracker)
        top = ranked[0] if ranked else {"name": None, "confidence": 0.0}
        confident = float(top.get("confidence") or 0.0) >= settings.nlu_min_confidence
        candidates: list[dict[str, Any]] = []
        verdict: Verdict | None = None
        try:
            if text:
                candidates, verdict = await asyncio.to_thread(find_candidates, tracker, text, top.get("name"),
                                                              confident, settings.kb_min_score)
        except KnowledgeError as exc:  # degraded: decide without the knowledge base rather than fail the turn
            logger.warning("conversation %s: knowledge base unavailable: %s", tracker.sender_id, exc)
        signals = read_signals(tracker, candidates[0]["score"] if candidates else None, verdict)
        decision = decide(signals, settings)
        logger.info("conversation %s: %s (%s)", tracker.sender_id, decision.action, ",".join(decision.codes))
        if decision.action == "answer":
            best = candidates[0]
            citation = {k: best[k] for k in ("article_id", "version", "title", "category", "score")}
            dispatcher.utter_message(response="utter_kb_answer", answer=best["answer"], title=best["title"],
                                     json_message={"citation": citation})
            return [SlotSet(FALLBACK_COUNT_SLOT, 0.0)]
        if decision.action == "rephrase":
            dispatcher.utter_message(response="utter_ask_rephrase")
            return [SlotSet(FALLBACK_COUNT_SLOT, float(signals.fallbacks + 1))]
        return hand_off(dispatcher, tracker, decision, candidates)
