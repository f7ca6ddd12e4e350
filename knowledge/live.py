"""Live updates: publish an index generation, and swap a running server to the newest without a restart.

The index folder (``KB_INDEX_DIR``, ``models/knowledge`` by default) holds generations::

    models/knowledge/
        meta.json                  the pointer: the live generation's metadata and "path"
        generations/000041/        index.faiss, articles.json, meta.json, answerability.json
        generations/000042/        (the live one)
        .lock                      held while a writer reads, changes and publishes the index

:func:`publish` writes a whole generation to a new folder, renames it into place, then replaces ``meta.json``
(a temporary file renamed over it: atomic on one file system). A reader opens ``meta.json`` first and then the
files of the generation it names (:meth:`knowledge.search.KnowledgeBase.load`), so it sees one generation or
the next, never a mix. The newest :data:`KEEP` generations stay, so that a reader which has just read the
pointer still finds its files; older ones are deleted. An index written by :meth:`KnowledgeBase.save` straight
into the folder (the layout before generations) is still read.

Writers (``python -m knowledge build``, ``add``, ``remove``, the handoff service's knowledge workbench) hold
:func:`locked` while they load, change and publish, so two of them (two service instances) never lose each
other's change. The lock is ``flock`` on ``.lock``: local file systems and NFSv4 honour it.

:class:`LiveKnowledgeBase` is what a server searches: it stats ``meta.json`` at most every ``interval`` seconds
(``KB_RELOAD_INTERVAL``) and, when it changed, loads the new generation with the embedder it already has and
swaps the reference. A query that is running keeps the knowledge base it started with; one reload at a time
(a query that finds another thread reloading searches the current one). A generation that cannot be read is
logged and retried at the next check; the old one keeps answering.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from knowledge.answerability import FILE as ANSWERABILITY_FILE
from knowledge.embed import Embedder, query_embedder
from knowledge.errors import KnowledgeError
from knowledge.search import INDEX_FILE, META_FILE, STORE_FILE, KnowledgeBase, require_index
from knowledge.settings import KnowledgeSettings

logger = logging.getLogger(__name__)

GENERATIONS = "generations"
LOCK_FILE = ".lock"
KEEP = 3


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold the index folder's writer lock (blocking until another writer is done)."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / LOCK_FILE).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def current_generation(directory: Path) -> int:
    """The generation ``directory``'s pointer names (0: none, or the flat layout)."""
    try:
        return int(json.loads((directory / META_FILE).read_text()).get("generation", 0))
    except (OSError, ValueError):
        return 0


def publish(kb: KnowledgeBase, directory: Path, keep: int = KEEP) -> int:
    """Write ``kb`` as the next generation of ``directory`` and point ``meta.json`` at it; its number.

    The caller holds :func:`locked` (it loaded ``kb`` from the folder under the same lock).
    """
    generations = directory / GENERATIONS
    generations.mkdir(parents=True, exist_ok=True)
    existing = [int(p.name) for p in generations.iterdir() if p.name.isdigit()]
    number = max([current_generation(directory), *existing], default=0) + 1
    staging = generations / f".staging-{number}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    kb.save(staging)
    final = generations / f"{number:06d}"
    staging.rename(final)
    meta = json.loads((final / META_FILE).read_text())
    meta.update(generation=number, path=f"{GENERATIONS}/{final.name}")
    pointer = directory / f".{META_FILE}.{os.getpid()}.tmp"
    pointer.write_text(json.dumps(meta, indent=2) + "\n")
    os.replace(pointer, directory / META_FILE)
    kb.generation = number
    for name in (INDEX_FILE, STORE_FILE, ANSWERABILITY_FILE):  # the flat layout's files, now stale
        (directory / name).unlink(missing_ok=True)
    for old in sorted((p for p in generations.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    logger.info("knowledge index generation %d published in %s: %d articles", number, directory, len(kb.store))
    return number


def _stamp(directory: Path) -> tuple[int, int, int] | None:
    try:
        stat = (directory / META_FILE).stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


class LiveKnowledgeBase:
    """The newest published generation of an index folder, swapped in while serving (see the module)."""

    def __init__(self, directory: Path, embedder: Embedder, index_kind: str = "auto", hnsw_threshold: int = 20_000,
                 interval: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        """Load the live generation of ``directory`` now.

        Raises:
            IndexNotBuilt: there is none.
        """
        self.directory = directory
        self.embedder = embedder
        self._kind = index_kind
        self._hnsw_threshold = hnsw_threshold
        self._interval = interval
        self._clock = clock
        self._stamp = _stamp(directory)
        self._kb = KnowledgeBase.load(directory, embedder, index_kind, hnsw_threshold)
        self._next_check = clock() + interval
        self._reloading = threading.Lock()

    def current(self) -> KnowledgeBase:
        """The knowledge base to search now: the newest generation, checked at most every ``interval``."""
        if self._clock() >= self._next_check:
            self.refresh()
        return self._kb

    def refresh(self) -> bool:
        """Load the published generation if the pointer changed; whether a new one was swapped in."""
        if not self._reloading.acquire(blocking=False):
            return False  # another thread is loading it: search the current one meanwhile
        try:
            self._next_check = self._clock() + self._interval
            stamp = _stamp(self.directory)
            if stamp is None or stamp == self._stamp:
                return False
            try:
                kb = KnowledgeBase.load(self.directory, self.embedder, self._kind, self._hnsw_threshold)
            except (KnowledgeError, OSError, ValueError, KeyError, RuntimeError) as exc:
                logger.warning("knowledge index in %s not reloaded (the old one keeps answering): %s",
                               self.directory, exc)
                return False
            self._kb, self._stamp = kb, stamp
            logger.info("knowledge index generation %d loaded: %d articles", kb.generation, len(kb.store))
            return True
        finally:
            self._reloading.release()


def open_live(settings: KnowledgeSettings) -> LiveKnowledgeBase:
    """The live knowledge base of ``settings.index_dir`` with the query embedder (as
    :func:`knowledge.search.open_for_queries`), checked every ``settings.reload_interval`` seconds.

    Raises:
        IndexNotBuilt: there is no index, or it was built with another model.
        SettingsError: the model is not on this machine.
    """
    require_index(settings.index_dir)
    embedder = query_embedder(settings.model, settings.encoder_dir, settings.batch_size, settings.device)
    return LiveKnowledgeBase(settings.index_dir, embedder, settings.index_kind, settings.hnsw_threshold,
                             settings.reload_interval)
