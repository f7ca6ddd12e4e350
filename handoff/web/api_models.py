"""REST endpoints of the workbench's Models tab (docs/training.md, "Retraining" and "Versions"): the bot's model
versions, retraining behind the regression gate, promotion and rollback.

Reading needs the policy's ``read_models``, retraining ``train_models``, promoting and rolling back
``promote_models`` (trainers, supervisors, admins), as does starting and ending an A/B trial; forcing a version the
gate failed, an admin. Retraining runs
in the background (one at a time on an instance; ``GET /api/models`` shows its progress); a promotion answers
when every Rasa server runs the version.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from handoff.web.bodies import Promotion, TrialStart, errors
from handoff.web.deps import Agent, Service

router = APIRouter(tags=["models"], responses=errors(401, 403, 503))
Version = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                              description="a version of the registry, e.g. 20261205-023734-b92a7860")]
TrialId = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                              description="an A/B trial, e.g. trial-20261205-061500")]


@router.get("/api/models")
async def models(agent: Agent, service: Service) -> dict[str, Any]:
    """The versions, newest first (``version``, ``model_id``, ``data_hash``, ``trained_by``, ``trained_at``,
    ``parent``, ``metrics``, ``gate``), the ``live`` one with its ``history`` (promotions and rollbacks), and
    ``training``: this instance's latest retraining (stage, percent, its output's last lines), or null."""
    return await service.models.page(agent)


@router.get("/api/models/{version}/report", responses=errors(400))
async def report(version: Version, agent: Agent, service: Service) -> dict[str, Any]:
    """The regression gate's comparison of ``version`` with the model live when it was trained: ``passed``,
    ``failures``, ``tolerance``, per-intent F1 (``intents``), hand-off decisions, the confusions that changed,
    the test stories and the trainer-confirmed examples."""
    return await service.models.report(agent, version)


@router.post("/api/models/retrain", status_code=202, responses=errors(409))
async def retrain(agent: Agent, service: Service) -> dict[str, Any]:
    """Train a candidate from the current training data and score it against the live model, in the background;
    409 while a retraining runs on this instance."""
    return await service.models.retrain(agent)


@router.post("/api/models/{version}/promote", responses=errors(400, 409))
async def promote(version: Version, body: Promotion, agent: Agent, service: Service) -> dict[str, Any]:
    """Put ``version`` on every Rasa server, one at a time (Rasa's ``PUT /model``; conversations continue), and
    make it the live one; a version the gate failed needs ``force`` (admins)."""
    return await service.models.promote(agent, version, body.force)


@router.post("/api/models/rollback", responses=errors(400, 409))
async def rollback(agent: Agent, service: Service) -> dict[str, Any]:
    """Put the version live before the current one back on every Rasa server."""
    return await service.models.rollback(agent)


@router.get("/api/models/trials")
async def trials(agent: Agent, service: Service) -> dict[str, Any]:
    """The A/B trial ``running`` (candidate ``version``, the ``live`` one it is tried against, ``share``, who
    started it and when) or null, and the ``ended`` ones, newest first."""
    return await service.trials.page(agent)


@router.get("/api/models/trials/current", responses=errors(400))
async def running_results(agent: Agent, service: Service) -> dict[str, Any]:
    """The running trial's arms compared: per arm ``conversations``, ``handoff_rate``, ``containment_rate``,
    ``ratings``, ``rating_average``; ``handoff_test`` (difference, 95% interval, p) and ``rating_test``
    (Mann-Whitney p); ``planned_per_arm``, ``verdict`` (``collecting`` until the plan is reached), ``progress``
    (each arm's hand-off rate after the trial's first n conversations, for a chart)."""
    return await service.trials.results(agent, None)


@router.get("/api/models/trials/{trial_id}", responses=errors(400))
async def results(trial_id: TrialId, agent: Agent, service: Service) -> dict[str, Any]:
    """An A/B trial's arms compared (as ``/api/models/trials/current``)."""
    return await service.trials.results(agent, trial_id)


@router.post("/api/models/trial", responses=errors(400, 409))
async def start_trial(body: TrialStart, agent: Agent, service: Service) -> dict[str, Any]:
    """Serve the candidate ``version`` to ``share`` of the conversations that start from now on (sticky per
    conversation), on every Rasa server; answers once every server has loaded it."""
    return await service.trials.start(agent, body.version, body.share, body.force)


@router.delete("/api/models/trial", responses=errors(400, 409))
async def end_trial(agent: Agent, service: Service) -> dict[str, Any]:
    """End the running A/B trial: the live model answers every conversation again; the results stay."""
    return await service.trials.end(agent)
