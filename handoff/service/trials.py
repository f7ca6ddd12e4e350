"""A/B trials of bot models in the workbench's Models tab (docs/training.md, "A/B trials").

- :meth:`ModelTrials.arm`: which model answers a conversation's customer (:func:`handoff.core.trials.arm_of`):
  the conversation part asks before each message it gives the bot, and tells the bot's client
  (``model_arm`` in the message's metadata: the candidate's channel of the Rasa servers, ``bot/candidate.py``).
  The running trial is read from the registry's ``trial.json`` at most every :data:`REFRESH` seconds, so every
  instance follows a trial started or ended on another within about a second.
- :meth:`ModelTrials.start` / :meth:`end`: ``python -m bot.registry trial start|end`` (the servers load or drop
  the candidate and say so before it answers: nobody is sent to a candidate a server does not have); starting
  needs ``promote_models``, and a version the gate did not pass an admin (``force``).
- :meth:`ModelTrials.results`: both arms compared from the ticket log (:func:`handoff.core.trials.compare`):
  conversations, hand-off and containment rates, ratings, the tests, the planned sample and the verdict.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from handoff.core.errors import BadRequest, Conflict, NotAllowed
from handoff.core.model import ConversationRecord, Role
from handoff.core.trials import LIVE, Trial, arm_of, compare
from handoff.service import policy
from handoff.service.auth import Principal
from handoff.service.policy import Action
from handoff.service.ports import Clock, ModelRegistry, TicketLog

logger = logging.getLogger(__name__)

REFRESH = 1.0  # seconds between reads of the registry's trial.json
MAX_SHARE = 0.5  # a candidate serves at most half the new conversations: the live model stays the majority


class ModelTrials:
    """The running trial, its arms, its start and end, and both arms compared."""

    def __init__(self, registry: ModelRegistry, log: TicketLog, clock: Clock) -> None:
        self._registry = registry
        self._log = log
        self._clock = clock
        self._trial: Trial | None = None
        self._read_at = -math.inf  # time.monotonic() of the last read of trial.json
        self._changing = False

    async def running(self) -> Trial | None:
        """The trial running, as ``trial.json`` said at most :data:`REFRESH` seconds ago."""
        if time.monotonic() - self._read_at >= REFRESH:
            self._trial = Trial.from_json(await self._registry.trial())
            self._read_at = time.monotonic()
        return self._trial

    async def arm(self, record: ConversationRecord) -> tuple[str, str | None]:
        """``(arm, candidate version)`` for the conversation's next message to the bot (``live``, None without a
        trial or outside its sample)."""
        trial = await self.running()
        arm = arm_of(trial, record.conversation_id, record.created_at)
        return (arm, None) if arm == LIVE or trial is None else (arm, trial.version)

    async def page(self, agent: Principal) -> dict[str, Any]:
        """The trial running (without its results: :meth:`results`) and the ended ones, newest first."""
        policy.check(agent.role, Action.READ_MODELS)
        self._read_at = -math.inf
        trial = await self.running()
        ended = [t for t in map(Trial.from_json, await self._registry.trials()) if t is not None]
        return {"running": trial.to_json() if trial else None,
                "ended": [t.to_json() for t in reversed(ended)][:20], "max_share": MAX_SHARE}

    async def results(self, agent: Principal, trial_id: str | None) -> dict[str, Any]:
        """Both arms of the trial ``trial_id`` (None: the running one) compared (:func:`compare`)."""
        policy.check(agent.role, Action.READ_MODELS)
        trial: Trial | None
        if trial_id is None:
            self._read_at = -math.inf
            trial = await self.running()
            if trial is None:
                raise BadRequest("No A/B trial is running.")
        else:
            found = [t for t in map(Trial.from_json, await self._registry.trials()) if t is not None]
            running = await self.running()
            trial = next((t for t in found + ([running] if running else []) if t.trial_id == trial_id), None)
            if trial is None:
                raise BadRequest(f"There is no A/B trial {trial_id}.")
        until = trial.ended_at if trial.ended_at is not None else max(self._clock(), trial.started_at) + 1.0
        facts = await self._log.kpis.trial_facts(trial.started_at, until)
        return compare(trial, facts)

    async def start(self, agent: Principal, version: str, share: float, force: bool = False) -> dict[str, Any]:
        """Serve ``version`` to ``share`` of the conversations that start from now on, on every Rasa server."""
        policy.check(agent.role, Action.PROMOTE_MODELS)
        if force and agent.role is not Role.ADMIN:
            raise NotAllowed("Only an admin may try a version that did not pass the regression gate.")
        if not (isinstance(share, float | int) and math.isfinite(share) and 0.0 < share <= MAX_SHARE):
            raise BadRequest(f"The candidate's share must be above 0 and at most {MAX_SHARE:.0%}.")
        known = {m["version"]: m for m in await self._registry.versions()}
        if version not in known:
            raise BadRequest(f"There is no model version {version}.")
        if version == (await self._registry.pointer()).get("version"):
            raise BadRequest(f"Version {version} is the live model; try another against it.")
        if not force and not (known[version].get("gate") or {}).get("passed"):
            raise BadRequest(f"Version {version} did not pass the regression gate; only an admin may try it.")
        await self._run(lambda keep: self._registry.start_trial(version, float(share), agent.username, force, keep))
        logger.info("A/B trial of %s on %.0f%% of new conversations started by agent %s", version, share * 100,
                    agent.agent_id)
        return await self.page(agent)

    async def end(self, agent: Principal) -> dict[str, Any]:
        """Serve the live model to every new message again; the trial's results stay readable."""
        policy.check(agent.role, Action.PROMOTE_MODELS)
        self._read_at = -math.inf
        if await self.running() is None:
            raise BadRequest("No A/B trial is running.")
        await self._run(lambda keep: self._registry.end_trial(agent.username, keep))
        logger.info("A/B trial ended by agent %s", agent.agent_id)
        return await self.page(agent)

    async def _run(self, command: Any) -> None:
        if self._changing:
            raise Conflict("A trial is being started or ended; wait for it to finish.")
        self._changing = True
        lines: list[str] = []

        async def keep(line: str) -> None:
            lines.append(line[:500])

        try:
            code = await command(keep)
        finally:
            self._changing = False
            self._read_at = -math.inf
        if code != 0:
            errors = [line.removeprefix("error: ") for line in lines if line.startswith("error: ")]
            raise BadRequest(errors[-1] if errors else "The registry refused: " + " / ".join(lines[-3:]))
