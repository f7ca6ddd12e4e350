"""The bot's model registry as the workbench sees it: files and subprocesses, never an import of Rasa or the bot.

The registry (``HANDOFF_MODELS_REGISTRY``, models/registry/, written by ``bot/registry.py`` and
``bot/retrain.py``) is a folder of versions, each with ``metadata.json`` and, when the regression gate scored it,
``report.json``, beside ``live.json`` (the live version and its history), ``trial.json`` (the A/B trial running, if
any) and ``trials.json`` (the trials ended): JSON read as data here. Retraining and
promotions run the bot's own commands in the Rasa environment's Python (``HANDOFF_MODELS_PYTHON``) as
subprocesses, with the servers (``RASA_SERVERS``) and their token (``RASA_TOKEN``) in their environment; their
output comes back line by line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
LINE_LIMIT = 64 * 1024  # a longer output line is cut (the commands print short lines)


class ModelRegistry:
    """Reads the registry's files; runs ``python -m bot.retrain`` and ``python -m bot.registry``."""

    def __init__(self, root: Path, python: Path, servers: Sequence[str], token: str) -> None:
        self.root = root
        self.python = python
        self.servers = tuple(servers)
        self._token = token

    async def versions(self) -> list[dict[str, Any]]:
        """Every version's metadata, newest first."""
        return await asyncio.to_thread(self._versions)

    def _versions(self) -> list[dict[str, Any]]:
        found = []
        for path in self.root.glob("*/metadata.json") if self.root.is_dir() else []:
            data = _read(path)
            if isinstance(data, dict) and isinstance(data.get("version"), str):
                data["has_report"] = (path.parent / "report.json").exists()
                found.append(data)
        return sorted(found, key=lambda m: (str(m.get("trained_at")), m["version"]), reverse=True)

    async def pointer(self) -> dict[str, Any]:
        """``{version, since, by, history}`` of the live model (version None: nothing recorded yet)."""
        data = await asyncio.to_thread(_read, self.root / "live.json")
        return data if isinstance(data, dict) else {"version": None, "history": []}

    async def trial(self) -> dict[str, Any] | None:
        """The A/B trial running (``id``, ``version``, ``live``, ``share``, ``started_at``, ``started_by``), or None."""
        data = await asyncio.to_thread(_read, self.root / "trial.json")
        return data if isinstance(data, dict) else None

    async def trials(self) -> list[dict[str, Any]]:
        """The A/B trials ended, oldest first (each also with ``ended_at``, ``ended_by``, ``outcome``)."""
        data = await asyncio.to_thread(_read, self.root / "trials.json")
        return [entry for entry in data if isinstance(entry, dict)] if isinstance(data, list) else []

    async def start_trial(self, version: str, share: float, by: str, force: bool,
                          line: Callable[[str], Awaitable[None]]) -> int:
        """Start serving ``version`` to ``share`` of new conversations on every server; the exit code."""
        command = ["-m", "bot.registry", "--root", str(self.root), "trial", "start", version, "--share", repr(share),
                   "--by", by, "--servers", ",".join(self.servers)] + (["--force"] if force else [])
        return await self._run(command, line)

    async def end_trial(self, by: str, line: Callable[[str], Awaitable[None]]) -> int:
        """End the A/B trial running: every server serves the live model to everyone again; the exit code."""
        return await self._run(["-m", "bot.registry", "--root", str(self.root), "trial", "end", "--by", by,
                                "--servers", ",".join(self.servers)], line)

    async def report(self, version: str) -> dict[str, Any] | None:
        """The gate's comparison of ``version`` with the model live when it was trained, or None."""
        if not _safe(version):
            return None
        data = await asyncio.to_thread(_read, self.root / version / "report.json")
        return data if isinstance(data, dict) else None

    async def retrain(self, trained_by: str, tolerance: float, inbox: Path,
                      line: Callable[[str], Awaitable[None]]) -> int:
        """Train and gate a candidate (no promotion) with the inbox's examples in ``inbox``; each output line to
        ``line``; the exit code."""
        return await self._run(["-m", "bot.retrain", "--progress-json", "--tolerance", str(tolerance),
                                "--trained-by", trained_by, "--registry", str(self.root), "--inbox", str(inbox)],
                               line)

    async def promote(self, version: str | None, by: str, force: bool,
                      line: Callable[[str], Awaitable[None]]) -> int:
        """Promote ``version`` (None: roll back to the previous live one) on every server, one at a time."""
        command = ["-m", "bot.registry", "--root", str(self.root)]
        command += ["promote", version] if version else ["rollback"]
        command += ["--by", by, "--servers", ",".join(self.servers)] + (["--force"] if force else [])
        return await self._run(command, line)

    async def _run(self, arguments: list[str], line: Callable[[str], Awaitable[None]]) -> int:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "RASA_TOKEN": self._token,
               "RASA_SERVERS": ",".join(self.servers), "TF_CPP_MIN_LOG_LEVEL": "2",
               "RASA_TELEMETRY_ENABLED": "false", "PYTHONUNBUFFERED": "1"}
        process = await asyncio.create_subprocess_exec(str(self.python), *arguments, cwd=ROOT, env=env,
                                                       stdout=asyncio.subprocess.PIPE,
                                                       stderr=asyncio.subprocess.STDOUT, limit=LINE_LIMIT)
        assert process.stdout is not None
        try:
            while True:
                try:
                    raw = await process.stdout.readline()
                except ValueError:  # a line over the limit
                    continue
                if not raw:
                    break
                await line(raw.decode("utf-8", "replace").rstrip("\n"))
            return await process.wait()
        except asyncio.CancelledError:
            process.kill()
            await process.wait()
            raise


def _safe(version: str) -> bool:
    return bool(version) and len(version) <= 64 and "/" not in version and "\\" not in version \
        and not version.startswith(".")


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        logger.warning("model registry file %s unreadable (%s)", path, type(exc).__name__)
        return None
