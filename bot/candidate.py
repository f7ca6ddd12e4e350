"""The candidate channel of A/B trials: a second model in each Rasa server, for the conversations of the trial's arm.

credentials.yml registers :class:`CandidateInput` beside Rasa's ``rest`` channel. While the registry's trial.json
(``MODEL_REGISTRY``, default models/registry; see bot/registry.py) names a version, the channel keeps that version's
model loaded in a second :class:`rasa.core.agent.Agent`; the handoff service posts the messages of the trial's
conversations here and those of the others to the REST channel. HTTP, under ``/webhooks/candidate``:

- ``POST /webhook``: the REST channel's body (``sender``, ``message``, ``metadata``, ``input_channel``, ``?stream``)
  and answer (the bot's messages, a JSON list). With no trial running (it ended between the service's choice of
  arm and the message) the live model answers, as on the REST channel, and the conversation goes on there. If the
  trial's model could not be loaded: 503 ``{"error": ..., "version": ...}`` (the service treats the bot as down and
  hands the conversation to a person).
- ``GET /``: ``{"status": "ok", "version": <loaded candidate or null (also while loading)>, "model_id": <its Rasa
  model id or null>, "error": <why the trial's model could not be loaded, or null>}``; what ``python -m
  bot.registry trial start|end`` waits for. No token: it says nothing a status page would not.

The channel looks at trial.json at server start and then, at most once a second, when a request reaches it. It
loads a version once (in a worker thread, so the live model keeps answering; candidate messages wait for it) and
drops the candidate when trial.json goes or names another trial. A trial.json written again by a new trial of the
same version loads again (after a failure, for instance).

Both agents share the process's tracker and lock stores (those of the live agent at each message, so a model
replaced with ``PUT /model`` keeps them shared): a conversation of the candidate arm is read with the usual
``GET /conversations/{id}/tracker``, and its events carry the candidate's ``model_id`` in their metadata. Limitation:
the shared tracker store reads trackers with the live model's domain (its slots); a candidate whose domain has
other slots than the live one's needs a domain-compatible retraining first (responses and NLU may differ: each agent
answers with its own domain's responses).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.registry import CHECK_INTERVAL, REGISTRY, Registry, RegistryError

logger = logging.getLogger(__name__)

Wanted = tuple[str, str]  # (trial id, candidate version) that trial.json names


class CandidateArm:
    """Which candidate the registry's trial.json asks for, and the agent loaded for it (one per process)."""

    def __init__(self, registry: Path) -> None:
        self.registry = Registry(registry, served=None)
        self.wanted: Wanted | None = None
        self.agent: Agent | None = None
        self.version: str | None = None
        self.error: str | None = None
        self.loading: asyncio.Task[None] | None = None
        self._checked_at = float("-inf")
        self._lock: asyncio.Lock | None = None

    def status(self) -> dict[str, Any]:
        return {"status": "ok", "version": self.version, "model_id": self.agent.model_id if self.agent else None,
                "error": self.error}

    def refresh(self, app: Sanic) -> None:
        """Look at trial.json (at most once per CHECK_INTERVAL); start loading or drop the candidate if it changed."""
        if time.monotonic() - self._checked_at < CHECK_INTERVAL:
            return
        self._checked_at = time.monotonic()
        wanted, error = self._read()
        if wanted == self.wanted and (wanted is not None or error == self.error):
            return
        if self.agent is not None:
            logger.info("candidate %s dropped (%s)", self.version,
                        f"trial {wanted[0]} of {wanted[1]}" if wanted else "no trial running")
        self.wanted, self.agent, self.version, self.error = wanted, None, None, error
        if error:
            logger.error("candidate channel: %s", error)
        if wanted is not None:
            self.loading = asyncio.ensure_future(self._load(app, wanted))

    async def ready(self, app: Sanic) -> None:
        """Refresh, then wait for a load in progress."""
        self.refresh(app)
        while self.loading is not None and not self.loading.done():
            await asyncio.shield(self.loading)

    def _read(self) -> tuple[Wanted | None, str | None]:
        try:
            trial = self.registry.trial()
        except (OSError, ValueError) as exc:
            return None, f"trial.json could not be read: {exc}"
        if trial is None:
            return None, None
        if not isinstance(trial, dict) or not isinstance(trial.get("version"), str):
            return None, "trial.json names no version"
        return (str(trial.get("id")), trial["version"]), None

    async def _load(self, app: Sanic, wanted: Wanted) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # one load at a time; a trial replaced meanwhile is not loaded at all
            if self.wanted != wanted:
                return
            version = wanted[1]
            live: Agent = app.ctx.agent
            logger.info("trial %s: loading candidate %s", wanted[0], version)
            started = time.monotonic()
            try:
                path = self.registry.model(version)
                if not path.is_file():
                    raise RegistryError(f"{path} is missing")
                loop = asyncio.get_running_loop()
                agent = await loop.run_in_executor(None, partial(load_candidate, path, live))
            except Exception as exc:  # any failure of Rasa's loading: the candidate arm is down, not the server
                if self.wanted == wanted:
                    self.error = f"candidate {version} could not be loaded: {type(exc).__name__}: {exc}"
                    logger.error("trial %s: %s", wanted[0], self.error, exc_info=True)
                return
            if self.wanted == wanted:
                self.agent, self.version = agent, version
                logger.info("trial %s: candidate %s loaded (model %s) in %.1f s", wanted[0], version,
                            agent.model_id, time.monotonic() - started)


def load_candidate(model: Path, live: Agent) -> Agent:
    """An agent for ``model`` that touches nothing of ``live`` while it loads (it runs in a worker thread): its own
    throw-away stores and, unless the live agent's generator is a remote one (stateless), its own responses. The
    shared stores are bound at each message (:func:`bind_stores`)."""
    generator = None if isinstance(live.nlg, TemplatedNaturalLanguageGenerator) else live.nlg
    return Agent.load(str(model), generator=generator, action_endpoint=live.action_endpoint)


def bind_stores(candidate: Agent, live: Agent) -> None:
    """Let ``candidate`` use the live agent's tracker and lock stores (the same conversations, the same locks)."""
    candidate.tracker_store = live.tracker_store
    candidate.lock_store = live.lock_store
    if candidate.processor is not None:
        candidate.processor.tracker_store = live.tracker_store
        candidate.processor.lock_store = live.lock_store


class CandidateInput(RestInput):
    """Rasa's REST channel, answered by the trial's candidate model (see the module's docstring)."""

    def __init__(self, registry: Path | None = None) -> None:
        self.arm = CandidateArm(registry or Path(os.environ.get("MODEL_REGISTRY") or REGISTRY))
        self.app: Sanic | None = None

    @classmethod
    def name(cls) -> str:
        return "candidate"

    async def handle(self, message: UserMessage) -> None:
        """Answer ``message`` with the candidate if one is loaded, else with the live agent."""
        assert self.app is not None, "the candidate channel's requests go through its middleware first"
        live: Agent = self.app.ctx.agent
        candidate = self.arm.agent
        if candidate is None:
            if self.arm.wanted is not None:  # loading failed (the middleware answers 503 before this)
                raise RuntimeError(self.arm.error or "the candidate model is not loaded")
            logger.info("candidate channel: no trial running, conversation %s served by the live model",
                        message.sender_id)
            await live.handle_message(message)
            return
        bind_stores(candidate, live)
        await candidate.handle_message(message)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        """The REST channel's routes with :meth:`handle` in place of Rasa's handler (the live agent's); the status
        route and the 503 of a candidate that failed to load come from a request middleware."""
        blueprint = super().blueprint(self.handle)

        @blueprint.middleware("request")
        async def arm(request: Request) -> HTTPResponse | None:
            self.app = request.app
            if request.method == "GET" and request.route is not None and request.route.name.endswith(".health"):
                self.arm.refresh(request.app)  # reports a candidate once loaded, not before
                return response.json(self.arm.status())
            await self.arm.ready(request.app)
            if self.arm.wanted is not None and self.arm.agent is None:
                error = self.arm.error or "the candidate model is not loaded"
                return response.json({"error": error, "version": self.arm.wanted[1]}, status=503)
            return None

        @blueprint.listener("after_server_start")
        async def look_at_start(app: Sanic, loop: Any) -> None:
            self.app = app
            self.arm.refresh(app)

        return blueprint
