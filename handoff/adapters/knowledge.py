"""The knowledge base in process: suggestions for agents (:class:`Suggestions`) and the trainers' workbench's
articles (:class:`Library`), over one live index (:class:`knowledge.live.LiveKnowledgeBase`).

The handoff service may use :mod:`knowledge` in process (the direction of calls allows it), opened as the
action server opens it (:func:`knowledge.live.open_live`: the ONNX export of the model, one thread per query,
the newest published index generation swapped in without a restart). The embedding model and the index load on
the first request for a suggestion or an article, not at start-up: most service instances (and every test
server) never need them. Suggestions load in a daemon thread, so a shutdown never waits for a half-loaded
model; a missing index only turns suggestions off (with a WARNING, before any model loads), never the console.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from handoff.core.errors import BadRequest, Conflict, UnknownConversation, UpstreamUnavailable
from handoff.core.knowledge import ArticleDraft

if TYPE_CHECKING:
    from knowledge.documents import Article
    from knowledge.embed import Embedder
    from knowledge.live import LiveKnowledgeBase
    from knowledge.search import KnowledgeBase
    from knowledge.settings import KnowledgeSettings

logger = logging.getLogger(__name__)


class Library:
    """The knowledge base's sources (``KB_SOURCES``) and index (``KB_INDEX_DIR``), for the trainers' workbench:
    read the articles, write one and publish the index's next generation, retire one. Blocking: the service
    calls it in a thread. Publishing holds the index folder's lock (:func:`knowledge.live.locked`) from reading
    the index to switching the pointer, so two instances publishing at once both land."""

    def __init__(self, settings: KnowledgeSettings | None = None, embedder: Embedder | None = None) -> None:
        """Over ``settings`` (``KB_*`` of the environment by default), embedding with ``embedder`` (the query
        embedder of :func:`knowledge.live.open_live` by default)."""
        self._settings = settings
        self._embedder = embedder
        self._live: LiveKnowledgeBase | None = None
        self._writer: Embedder | None = None  # the live one's embedder, remembering what it embedded
        self._opening = threading.Lock()

    @property
    def settings(self) -> KnowledgeSettings:
        if self._settings is None:
            from knowledge.settings import KnowledgeSettings

            self._settings = KnowledgeSettings.from_env()
        return self._settings

    def live(self) -> LiveKnowledgeBase:
        """The live index (opened on first use).

        Raises:
            UpstreamUnavailable: there is no index, or the model is missing.
        """
        from knowledge.errors import KnowledgeError
        from knowledge.live import LiveKnowledgeBase, open_live

        with self._opening:
            if self._live is None:
                try:
                    settings = self.settings
                    if self._embedder is None:
                        self._live = open_live(settings)
                    else:
                        self._live = LiveKnowledgeBase(settings.index_dir, self._embedder, settings.index_kind,
                                                       settings.hnsw_threshold, settings.reload_interval)
                except KnowledgeError as exc:
                    raise UpstreamUnavailable(str(exc)) from exc  # names the folder and the command to run
            return self._live

    # ---- reading -----------------------------------------------------------------------------------------

    def sources(self) -> list[Article]:
        """The articles of the source folder (the truth the index is built from)."""
        from knowledge.errors import KnowledgeError
        from knowledge.ingest import load_sources

        try:
            return load_sources(self.settings.sources)
        except KnowledgeError as exc:
            raise UpstreamUnavailable(f"The knowledge sources cannot be read: {exc}") from exc

    def categories(self) -> list[str]:
        """The category folders of the source folder."""
        root = self.settings.sources
        return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")) \
            if root.is_dir() else []

    def article(self, article_id: str) -> Article:
        """One article of the sources.

        Raises:
            UnknownConversation: there is none with that id (404).
        """
        for article in self.sources():
            if article.id == article_id:
                return article
        raise UnknownConversation(f"There is no article {article_id}.")

    def indexed(self) -> KnowledgeBase:
        """The live generation of the index."""
        return self.live().current()

    # ---- writing -----------------------------------------------------------------------------------------

    def publish(self, draft: ArticleDraft, *, new: bool) -> dict[str, Any]:
        """Write ``draft`` to ``<sources>/<category>/<id>.md`` (a new article if ``new``, else it replaces the
        article of that id, wherever it lies) and publish the index with it.

        Raises:
            Conflict: ``new`` and the id is taken. UnknownConversation: not ``new`` and there is no such article.
            BadRequest: the file would not load as an article.
        """
        from knowledge.errors import KnowledgeError
        from knowledge.ingest import load_markdown

        root = self.settings.sources
        target = root / draft.category / f"{draft.id}.md"
        if target.resolve().parent.parent != root.resolve():
            raise BadRequest("The category is a folder of the knowledge base.")
        with self._writing():
            existing: dict[str, Article] = {a.id: a for a in self.sources()}
            if new and draft.id in existing:
                raise Conflict(f"There is an article {draft.id} already: edit it instead.")
            if not new and draft.id not in existing:
                raise UnknownConversation(f"There is no article {draft.id}.")
            target.parent.mkdir(parents=True, exist_ok=True)
            staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            staging.write_text(render(draft, datetime.now(UTC).date().isoformat()), encoding="utf-8")
            try:
                load_markdown(staging)
            except KnowledgeError as exc:
                staging.unlink(missing_ok=True)
                raise BadRequest(f"The article does not load: {exc}") from None
            os.replace(staging, target)
            old = existing.get(draft.id)
            if old is not None and old.source and Path(old.source).resolve() != target.resolve():
                Path(old.source).unlink(missing_ok=True)  # its category changed: the file moved
            return self._reindex()

    def retire(self, article_id: str) -> dict[str, Any]:
        """Delete the article's source file and publish the index without it.

        Raises:
            UnknownConversation: there is no such article. BadRequest: it is not a Markdown file of its own.
        """
        with self._writing():
            article = self.article(article_id)
            source = Path(article.source)
            if source.suffix != ".md":
                raise BadRequest(f"{article_id} is one row of {source.name}: retire it there.")
            source.unlink(missing_ok=True)
            return self._reindex()

    @contextlib.contextmanager
    def _writing(self) -> Any:
        from knowledge.live import locked

        with locked(self.settings.index_dir):
            yield

    def _reindex(self) -> dict[str, Any]:
        """Sync the index with the sources (only new and changed articles are embedded), refit the
        answerability rule and publish the next generation; the caller holds the lock."""
        from knowledge.embed import CachingEmbedder
        from knowledge.errors import KnowledgeError
        from knowledge.ingest import load_sources
        from knowledge.live import publish
        from knowledge.search import KnowledgeBase

        settings = self.settings
        if self._writer is None:
            self._writer = CachingEmbedder(self.live().embedder)
        embedder = self._writer
        try:
            kb = KnowledgeBase.load(settings.index_dir, embedder, settings.index_kind, settings.hnsw_threshold)
            report = kb.sync(load_sources(settings.sources))
            kb.calibrate(settings.abstain_target)
            generation = publish(kb, settings.index_dir)
        except KnowledgeError as exc:
            raise UpstreamUnavailable(f"The knowledge index was not updated: {exc}") from exc
        self.live().refresh()  # this instance answers with it at once
        logger.info("knowledge base published: generation %d (%s)", generation, report)
        return {"generation": generation, "added": report.added, "changed": report.changed,
                "retired": report.retired, "versions": {a: kb.store.get(a).version
                                                        for a in [*report.added, *report.changed]}}


def render(draft: ArticleDraft, updated: str) -> str:
    """The Markdown source of ``draft`` (front matter, then the body), ``updated`` today."""
    meta: dict[str, Any] = {"id": draft.id, "title": draft.title, "category": draft.category,
                            "tags": list(draft.tags), "updated": updated}
    if draft.review_by:
        meta["review_by"] = draft.review_by
    if draft.questions:
        meta["questions"] = list(draft.questions)
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000)
    return f"---\n{front}---\n{draft.body.strip()}\n"


class Suggestions:
    def __init__(self, enabled: bool, settings: KnowledgeSettings | None = None,
                 library: Library | None = None) -> None:
        """Suggest from the knowledge base ``library`` reads (one over ``settings``, ``KB_*`` of the environment
        by default): the same live index, so a published article is suggested at once."""
        self._enabled = enabled
        self._library = library or Library(settings)
        self._loaded: asyncio.Future[LiveKnowledgeBase | None] | None = None  # None inside: it cannot load

    def _load(self) -> LiveKnowledgeBase | None:
        try:
            return self._library.live()
        except Exception as exc:  # any failure only turns suggestions off
            logger.warning("knowledge suggestions are off: %s", exc)
            return None

    def _knowledge_base(self) -> asyncio.Future[LiveKnowledgeBase | None]:
        if self._loaded is None:
            loop = asyncio.get_running_loop()
            loaded: asyncio.Future[LiveKnowledgeBase | None] = loop.create_future()
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
        live = await asyncio.shield(self._knowledge_base())
        if live is None:
            return []
        hits = await asyncio.to_thread(lambda: live.current().search(text, k))
        return [{"article_id": hit.article_id, "version": hit.version, "title": hit.title,
                 "category": hit.category, "score": round(float(hit.score), 3), "text": hit.answer} for hit in hits]
