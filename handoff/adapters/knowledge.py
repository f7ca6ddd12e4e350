"""Knowledge-base suggestions for agents: the articles closest to the customer's last message.

The handoff service may use :mod:`knowledge` in process (the direction of calls allows it), opened as the
action server opens it (:func:`knowledge.search.open_for_queries`: the ONNX export of the model, one thread
per query). The embedding model and the index load on the first request for a suggestion, not at start-up:
most service instances (and every test server) never need them. They load in a daemon thread, so a shutdown
never waits for a half-loaded model; a missing index only turns suggestions off (with a WARNING, before any
model loads), never the console.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from knowledge.search import KnowledgeBase
    from knowledge.settings import KnowledgeSettings

logger = logging.getLogger(__name__)


class Suggestions:
    def __init__(self, enabled: bool, settings: KnowledgeSettings | None = None) -> None:
        """Suggest from the knowledge base ``settings`` describe (``KB_*`` of the environment by default)."""
        self._enabled = enabled
        self._settings = settings
        self._loaded: asyncio.Future[KnowledgeBase | None] | None = None  # None inside: it cannot load

    def _load(self) -> KnowledgeBase | None:
        try:
            from knowledge.search import open_for_queries
            from knowledge.settings import KnowledgeSettings

            return open_for_queries(self._settings or KnowledgeSettings.from_env())
        except Exception as exc:  # any failure only turns suggestions off
            logger.warning("knowledge suggestions are off: %s", exc)
            return None

    def _knowledge_base(self) -> asyncio.Future[KnowledgeBase | None]:
        if self._loaded is None:
            loop = asyncio.get_running_loop()
            loaded: asyncio.Future[KnowledgeBase | None] = loop.create_future()
            self._loaded = loaded

            def load() -> None:
                kb = self._load()
                with contextlib.suppress(RuntimeError):  # the service stopped meanwhile: nobody waits
                    loop.call_soon_threadsafe(loaded.set_result, kb)

            threading.Thread(target=load, name="suggestions-load", daemon=True).start()
        return self._loaded

    async def for_text(self, text: str, k: int = 3) -> list[dict[str, Any]]:
        if not self._enabled or not text.strip():
            return []
        kb = await asyncio.shield(self._knowledge_base())
        if kb is None:
            return []
        hits = await asyncio.to_thread(kb.search, text, k)
        return [{"article_id": hit.article_id, "version": hit.version, "title": hit.title,
                 "category": hit.category, "score": round(float(hit.score), 3), "text": hit.answer} for hit in hits]
