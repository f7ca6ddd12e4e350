"""REST endpoints of the workbench's Models tab (docs/training.md, "Retraining" and "Versions"): the bot's model
versions, retraining behind the regression gate, promotion and rollback.

Reading needs the policy's ``read_models``, retraining ``train_models``, promoting and rolling back
``promote_models`` (trainers, supervisors, admins); forcing a version the gate failed, an admin. Retraining runs
in the background (one at a time on an instance; ``GET /api/models`` shows its progress); a promotion answers
when every Rasa server runs the version.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from handoff.web.bodies import Promotion, errors
from handoff.web.deps import Agent, Service

router = APIRouter(tags=["models"], responses=errors(401, 403, 503))
Version = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                              description="a version of the registry, e.g. 20261205-023734-b92a7860")]


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
