"""Knowledge-base suggestions for agents: the articles closest to the customer's last message.

The handoff service may use :mod:`knowledge` in process (the direction of calls allows it); the model and
index load on the first request, in a worker thread, so start-up stays fast and a missing index only
disables suggestions (with a WARNING), never the console.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

logger = logging.getLogger(__name__)


class Suggestions:
    def __init__(self, enabled: bool) -> None:
        self._enabled = enabled
        self._lock = threading.Lock()
        self._kb: Any = None
        self._failed = False

    def _load(self) -> Any:
        with self._lock:
            if self._kb is None and not self._failed:
                try:
                    from knowledge.embed import SentenceTransformerEmbedder
                    from knowledge.search import KnowledgeBase
                    from knowledge.settings import KnowledgeSettings

                    settings = KnowledgeSettings.from_env()
                    embedder = SentenceTransformerEmbedder(settings.model, settings.batch_size, settings.device)
                    self._kb = KnowledgeBase.load(settings.index_dir, embedder, settings.index_kind,
                                                  settings.hnsw_threshold)
                except Exception as exc:
                    logger.warning("knowledge suggestions are off: %s", exc)
                    self._failed = True
            return self._kb

    def _search(self, text: str, k: int) -> list[dict[str, Any]]:
        kb = self._load()
        if kb is None:
            return []
        return [{"article_id": hit.article_id, "version": hit.version, "title": hit.title,
                 "category": hit.category, "score": round(float(hit.score), 3), "text": hit.answer}
                for hit in kb.search(text, k=k)]

    def preload(self) -> None:
        """Load the model and index in a background thread now, so the first agent does not wait for it
        (a daemon thread: it never holds up a shutdown)."""
        if self._enabled:
            threading.Thread(target=self._load, name="suggestions-preload", daemon=True).start()

    async def for_text(self, text: str, k: int = 3) -> list[dict[str, Any]]:
        if not self._enabled or not text.strip():
            return []
        return await asyncio.to_thread(self._search, text, k)
