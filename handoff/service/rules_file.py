"""A rules file the service reads again when it changes, so a supervisor's edit of ``handoff/alerts.yml`` or
``handoff/automation.yml`` takes effect without a restart (docs/alerts.md, docs/automation.md).

The sweeper asks :meth:`RulesFile.changed` on each pass: a ``stat`` of the file (its modification time and
size), and a read only when they moved. A file that no longer reads or parses leaves the rules as they were: the
error is logged once for that version of the file, and the next good save is taken up. Each instance watches its
own copy (several instances read the same file, or each its mounted copy).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from handoff.core.errors import SettingsError

logger = logging.getLogger(__name__)
T = TypeVar("T")


class RulesFile(Generic[T]):
    """The file at ``path``, read by ``load`` (which raises :class:`SettingsError` on a bad file) when it changes.

    Args:
        what: what the file holds, for the log (``alert rules``).
    """

    def __init__(self, path: Path, load: Callable[[Path], T], what: str) -> None:
        self.path, self._load, self._what = path, load, what
        self._seen = self._stamp()  # the version the caller loaded at start-up

    def _stamp(self) -> tuple[int, int] | None:
        try:
            found = self.path.stat()
        except OSError:
            return None
        return found.st_mtime_ns, found.st_size

    def changed(self) -> T | None:
        """The rules, if the file changed since the last call and reads well; else None (keep what you have)."""
        stamp = self._stamp()
        if stamp is None or stamp == self._seen:
            return None  # unchanged, or gone for a moment (an editor saving by rename): keep the rules
        self._seen = stamp
        try:
            rules = self._load(self.path)
        except SettingsError as exc:
            logger.error("%s The %s stay as they were until the file is fixed.", exc, self._what)
            return None
        logger.info("%s read again from %s", self._what, self.path)
        return rules
