"""Answer from the knowledge base, or hand off when the bot should not guess.

``action_answer_or_handoff`` runs for knowledge intents, out-of-scope messages,
complaints and NLU fallbacks. It searches the knowledge base (narrowed to the
category the intent implies, widened when that finds nothing), then lets
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
from knowledge.errors import KnowledgeError
from knowledge.search import KnowledgeBase, open_for_queries
from knowledge.settings import KnowledgeSettings

logger = logging.getLogger(__name__)

# Intents whose questions are answered on more than one shelf: searched everywhere, not in their category.
# discount_code's are in payments (codes that fail) and products (student and newsletter discounts, price
# matching); narrowed to payments, 2 of its 35 NLU examples lost their best article to a weaker one.
SEARCH_EVERY_SHELF = frozenset({"discount_code"})
CANDIDATES = 5

_lock = threading.Lock()
_knowledge_base: KnowledgeBase | None = None


def knowledge_base() -> KnowledgeBase:
    """The knowledge base in ``KB_INDEX_DIR``, loaded once per process.

    Raises:
        KnowledgeError: it cannot be opened (no index: a cheap check, retried every turn).
    """
    global _knowledge_base
    with _lock:
        if _knowledge_base is None:
            _knowledge_base = open_for_queries(KnowledgeSettings.from_env())
            logger.info("knowledge base loaded: %d articles", len(_knowledge_base.store))
        return _knowledge_base


def use_knowledge_base(kb: KnowledgeBase) -> None:
    """Serve ``kb`` instead of loading one from ``KB_INDEX_DIR`` (for embedding the actions elsewhere)."""
    global _knowledge_base
    with _lock:
        _knowledge_base = kb


def find_candidates(tracker: Tracker, text: str, intent: str | None, confident: bool,
                    min_score: float) -> list[dict[str, Any]]:
    """Knowledge candidates for the latest message (``text``), best first, as plain dictionaries.

    The query vector is the one the NLU pipeline computed for the message when
    it is of the index's model, else the text is encoded here. The search is
    narrowed to the intent's category when the intent is trusted (and its
    questions are on one shelf), and widened to everything when that finds
    nothing scoring ``min_score``.
    """
    kb = knowledge_base()
    vector = sentence_embedding(tracker, kb.embedder.name, kb.embedder.dimension)
    if vector is None:
        vector = kb.embedder.encode([text])
    category = INTENT_CATEGORY.get(intent or "") if confident and intent not in SEARCH_EVERY_SHELF else None
    hits = kb.search_vector(vector, k=CANDIDATES, category=category) if category else []
    if not hits or hits[0].score < min_score:
        widened = kb.search_vector(vector, k=CANDIDATES)
        if not hits or (widened and widened[0].score > hits[0].score):
            hits = widened
    return [h.to_dict() for h in hits]


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
        try:
            candidates = await asyncio.to_thread(find_candidates, tracker, text, top.get("name"), confident,
                                                settings.kb_min_score) if text else []
        except KnowledgeError as exc:  # degraded: decide without the knowledge base rather than fail the turn
            logger.warning("conversation %s: knowledge base unavailable: %s", tracker.sender_id, exc)
            candidates = []
        signals = read_signals(tracker, candidates[0]["score"] if candidates else None)
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
