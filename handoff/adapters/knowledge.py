"""Knowledge-base suggestions for agents: the articles closest to the customer's last message.

The handoff service may use :mod:`knowledge` in process (the direction of calls allows it). The embedding
model and the index load on the first request for a suggestion, not at start-up: most service instances (and
every test server) never need them. They load in a daemon thread, so a shutdown never waits for a half-loaded
model; a missing index only turns suggestions off (with a WARNING), never the console.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import Any

logger = logging.getLogger(__name__)


class Suggestions:
    def __init__(self, enabled: bool) -> None:
        self._enabled = enabled
        self._loaded: asyncio.Future[Any] | None = None  # the knowledge base, or None when it cannot load

    def _load(self) -> Any:
        try:
            from knowledge.embed import SentenceTransformerEmbedder
            from knowledge.search import KnowledgeBase
            from knowledge.settings import KnowledgeSettings

            settings = KnowledgeSettings.from_env()
            embedder = SentenceTransformerEmbedder(settings.model, settings.batch_size, settings.device)
            return KnowledgeBase.load(settings.index_dir, embedder, settings.index_kind, settings.hnsw_threshold)
        except Exception as exc:  # any failure only turns suggestions off
            logger.warning("knowledge suggestions are off: %s", exc)
            return None

    def _knowledge_base(self) -> asyncio.Future[Any]:
        if self._loaded is None:
            loop = asyncio.get_running_loop()
            loaded: asyncio.Future[Any] = loop.create_future()
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
