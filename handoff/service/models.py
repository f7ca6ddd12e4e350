"""The workbench's Models tab (docs/training.md, "Retraining" and "Versions"): the bot's model versions, retraining
behind the regression gate, promotion and rollback.

- :meth:`ModelWorkbench.page`: every version with its metadata (who trained it, when, the data hash, the
  metrics summary, the gate's verdict), which is live, and the training in progress (``read_models``);
- :meth:`ModelWorkbench.report`: a version's comparison with the model live when it was trained: per-intent F1,
  hand-off decisions, the confusions that changed, the test stories, the trainer-confirmed examples
  (``read_models``);
- :meth:`ModelWorkbench.retrain`: starts ``python -m bot.retrain`` in the Rasa environment in the background,
  one at a time on this instance (``train_models``); its progress lines (stage and share done) are kept for
  :meth:`page`, with the output's last lines;
- :meth:`ModelWorkbench.promote` / :meth:`rollback`: ``python -m bot.registry promote|rollback`` on every Rasa
  server, one at a time (``promote_models``); a version the gate did not pass (and that was never live) only
  with ``force``, which only an admin may use.

The service imports neither Rasa nor the bot: both commands run as subprocesses (:class:`ModelRegistry`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from pathlib import Path
from typing import Any

from handoff.core.errors import BadRequest, Conflict, NotAllowed
from handoff.core.model import Role
from handoff.service import policy
from handoff.service.auth import Principal
from handoff.service.policy import Action
from handoff.service.ports import Clock, ModelRegistry

logger = logging.getLogger(__name__)

TAIL = 40  # output lines kept of the latest run


class ModelWorkbench:
    """Versions, the gate's reports, one retraining at a time, promotions."""

    def __init__(self, registry: ModelRegistry, tolerance: float, inbox_file: Path, clock: Clock) -> None:
        self._registry = registry
        self._tolerance = tolerance
        self._inbox_file = inbox_file
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._promoting = asyncio.Lock()
        self.training: dict[str, Any] | None = None  # the latest run on this instance
        self._tail: deque[str] = deque(maxlen=TAIL)

    async def page(self, agent: Principal) -> dict[str, Any]:
        policy.check(agent.role, Action.READ_MODELS)
        pointer = await self._registry.pointer()
        return {"live": pointer.get("version"), "since": pointer.get("since"),
                "history": list(reversed(pointer.get("history") or []))[:20],
                "versions": await self._registry.versions(), "training": self.status(),
                "tolerance": self._tolerance, "servers": len(self._registry.servers)}

    async def report(self, agent: Principal, version: str) -> dict[str, Any]:
        policy.check(agent.role, Action.READ_MODELS)
        found = await self._registry.report(version)
        if found is None:
            raise BadRequest(f"Version {version} has no gate report (it was built, not retrained here).")
        found.pop("candidate_card", None)
        found.pop("live_card", None)
        return found

    def status(self) -> dict[str, Any] | None:
        if self.training is None:
            return None
        return {**self.training, "running": self._task is not None and not self._task.done(),
                "log": list(self._tail)}

    async def retrain(self, agent: Principal) -> dict[str, Any]:
        """Start a retraining in the background (409 while one runs on this instance)."""
        policy.check(agent.role, Action.TRAIN_MODELS)
        if self._task is not None and not self._task.done():
            raise Conflict("A retraining is already running; wait for it to finish.")
        self._tail.clear()
        self.training = {"started_at": self._clock(), "by": agent.username, "stage": "starting", "percent": 0.0,
                         "detail": "", "finished_at": None, "exit_code": None, "version": None, "passed": None}
        self._task = asyncio.create_task(self._retrain(agent.username))
        logger.info("retraining started by agent %s", agent.agent_id)
        status = self.status()
        assert status is not None
        return status

    async def _retrain(self, by: str) -> None:
        assert self.training is not None
        training = self.training
        try:
            code = await self._registry.retrain(by, self._tolerance, self._inbox_file, self._line)
        except (OSError, ValueError) as exc:
            logger.warning("retraining could not start: %s", exc)
            self._tail.append(f"error: the retraining could not start ({type(exc).__name__})")
            code = 2
        training.update(finished_at=self._clock(), exit_code=code, passed=code == 0 if code in (0, 1) else None,
                        percent=100.0 if code in (0, 1) else training["percent"],
                        stage="done" if code in (0, 1) else "failed")
        logger.info("retraining finished with exit code %s", code)

    async def _line(self, line: str) -> None:
        assert self.training is not None
        if line.startswith('{"progress"'):
            try:
                progress = json.loads(line)["progress"]
                self.training.update(stage=str(progress["stage"]), percent=float(progress["percent"]),
                                     detail=str(progress.get("detail", "")))
                if progress["stage"] == "kept as version":
                    self.training["version"] = str(progress.get("detail"))
            except (ValueError, KeyError, TypeError):
                pass
            return
        self._tail.append(line[:500])

    async def promote(self, agent: Principal, version: str, force: bool = False) -> dict[str, Any]:
        policy.check(agent.role, Action.PROMOTE_MODELS)
        if force and agent.role is not Role.ADMIN:
            raise NotAllowed("Only an admin may promote a version that did not pass the regression gate.")
        known = {m["version"]: m for m in await self._registry.versions()}
        if version not in known:
            raise BadRequest(f"There is no model version {version}.")
        history = (await self._registry.pointer()).get("history") or []
        was_live = any(entry.get("version") == version for entry in history)
        if not force and not was_live and not (known[version].get("gate") or {}).get("passed"):
            raise BadRequest(f"Version {version} did not pass the regression gate; only an admin may force it.")
        return await self._swap(agent, version, force)

    async def rollback(self, agent: Principal) -> dict[str, Any]:
        policy.check(agent.role, Action.PROMOTE_MODELS)
        pointer = await self._registry.pointer()
        if not any(entry.get("version") != pointer.get("version") for entry in pointer.get("history") or []):
            raise BadRequest("There is no earlier live version to roll back to.")
        return await self._swap(agent, None, False)

    async def _swap(self, agent: Principal, version: str | None, force: bool) -> dict[str, Any]:
        if self._promoting.locked():
            raise Conflict("A promotion is already under way; wait for it to finish.")
        async with self._promoting:
            lines: list[str] = []

            async def keep(line: str) -> None:
                lines.append(line[:500])

            code = await self._registry.promote(version, agent.username, force, keep)
        if code != 0:
            errors = [line.removeprefix("error: ") for line in lines if line.startswith("error: ")]
            raise BadRequest(errors[-1] if errors else "The promotion failed: " + " / ".join(lines[-3:]))
        pointer = await self._registry.pointer()
        logger.info("model %s live after %s by agent %s", pointer.get("version"),
                    "promotion" if version else "rollback", agent.agent_id)
        return {"live": pointer.get("version"), "log": lines}

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
