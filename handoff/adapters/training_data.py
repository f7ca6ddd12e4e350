"""The bot's training data as the NLU inbox reads and writes it: files, never an import of Rasa or the bot.

- :meth:`TrainingData.domain_intents`: the intents the domain declares (``HANDOFF_INBOX_DOMAIN``, the bot's
  ``bot/domain/`` by default: every ``*.yml`` in it, or one file), which a trainer labels with;
- :meth:`TrainingData.examples`: the examples the other NLU files beside the inbox file hold (read only), so an
  example the training data has already is not written twice;
- :meth:`TrainingData.write`: the inbox file (``HANDOFF_INBOX_FILE``, ``data/nlu/inbox.yml``) replaced whole and
  atomically (a temporary file renamed over it), and only when its text changes. It is the one file written:
  the rendering (:func:`handoff.core.inbox.render`) is a function of the ticket log's decisions, so every
  instance writes the same bytes.

Reading and writing run in a worker thread (the event loop keeps serving).
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

import yaml

logger = logging.getLogger(__name__)


def _yaml_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted([*path.glob("*.yml"), *path.glob("*.yaml")]) if path.is_dir() else []


def _load(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        logger.warning("training data %s unreadable (%s); left out", path, type(exc).__name__)
        return None


class TrainingData:
    """The domain's intents, the other NLU files' examples, and the inbox's file."""

    def __init__(self, inbox_file: Path, domain: Path) -> None:
        self.inbox_file = inbox_file
        self.domain = domain
        self._lock = threading.Lock()

    async def domain_intents(self) -> list[str]:
        """The intents the domain declares, sorted (``- name`` or ``- name: {...}`` entries)."""
        return await asyncio.to_thread(self._domain_intents)

    def _domain_intents(self) -> list[str]:
        found: set[str] = set()
        for path in _yaml_files(self.domain):
            data = _load(path)
            for entry in (data.get("intents") or []) if isinstance(data, dict) else []:
                if isinstance(entry, str):
                    found.add(entry)
                elif isinstance(entry, dict):
                    found.update(str(name) for name in entry)
        return sorted(found)

    async def examples(self) -> dict[str, set[str]]:
        """``{intent: examples}`` of the NLU files in the inbox file's folder, but that file."""
        return await asyncio.to_thread(self._examples)

    def _examples(self) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for path in _yaml_files(self.inbox_file.parent):
            if path.resolve() == self.inbox_file.resolve():
                continue
            data = _load(path)
            for entry in (data.get("nlu") or []) if isinstance(data, dict) else []:
                if not isinstance(entry, dict) or not isinstance(entry.get("intent"), str):
                    continue
                lines = str(entry.get("examples") or "").splitlines()
                found.setdefault(entry["intent"], set()).update(
                    line.strip()[2:].strip() for line in lines if line.strip().startswith("- "))
        return found

    async def write(self, text: str) -> bool:
        """Replace the inbox file with ``text`` (atomically); False when it says that already."""
        return await asyncio.to_thread(self._write, text)

    def _write(self, text: str) -> bool:
        with self._lock:
            target = self.inbox_file
            try:
                if target.read_text(encoding="utf-8") == text:
                    return False
            except FileNotFoundError:
                pass
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            try:
                with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
                    out.write(text)
                os.chmod(temporary, 0o644)
                os.replace(temporary, target)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
            return True

    async def read(self) -> str | None:
        """The inbox file's text, or None without one."""
        return await asyncio.to_thread(self._read)

    def _read(self) -> str | None:
        try:
            return self.inbox_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
