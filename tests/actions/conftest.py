"""Real trackers and a real knowledge base for the action tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker

from actions import knowledge as knowledge_actions
from knowledge.embed import SentenceTransformerEmbedder
from knowledge.ingest import load_sources
from knowledge.search import KnowledgeBase


@pytest.fixture
def kb(embedder: SentenceTransformerEmbedder, corpus: Path) -> Iterator[KnowledgeBase]:
    base = KnowledgeBase(embedder)
    base.sync(load_sources(corpus))
    knowledge_actions.use_knowledge_base(base)
    yield base


def tracker(text: str, ranking: list[tuple[str, float]], *, sentiment: dict[str, Any] | None = None,
            slots: dict[str, Any] | None = None, history: list[dict[str, Any]] | None = None,
            fallback: bool = False, entities: list[dict[str, Any]] | None = None,
            embedding: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None) -> Tracker:
    """A tracker whose latest message is ``text`` with the given NLU ranking (and ``text_embedding``), and the
    message metadata the handoff service sent with it (``metadata``)."""
    intent_ranking = [{"name": name, "confidence": conf} for name, conf in ranking]
    top = {"name": "nlu_fallback", "confidence": 0.3} if fallback else intent_ranking[0]
    latest = {"text": text, "intent": top, "intent_ranking": ([top] if fallback else []) + intent_ranking,
              "entities": entities or [], "sentiment": sentiment or {"label": "neutral", "score": 0.0,
                                                                     "frustration": 0.0}}
    if embedding is not None:
        latest["text_embedding"] = embedding
    events = [*(history or []), {"event": "user", "text": text, "parse_data": latest, "metadata": metadata or {}}]
    return Tracker.from_dict({"sender_id": "conv-1", "slots": slots or {}, "latest_message": latest,
                              "events": events, "paused": False, "followup_action": None,
                              "active_loop": {}, "latest_action_name": "action_listen"})
