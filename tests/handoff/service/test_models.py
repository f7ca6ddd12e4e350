"""The workbench's Models tab in process (handoff/service/models.py): the registry's versions and reports as the
service reads them, one retraining at a time with its progress, and who may promote what. The Rasa environment's
commands are stood in for by tests/handoff/fake_models_python.sh (or a script of the test's); the real ones run in
tests/handoff/e2e/test_models.py."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from handoff.core.errors import BadRequest, Conflict, NotAllowed
from handoff.service import HandoffService
from handoff.service.auth import Principal
from tests.handoff.conftest import OpenService
from tests.handoff.world import PASSWORD

BUILT, PASSED, FAILED = "20261130-120000-aaaaaaaa", "20261201-120000-bbbbbbbb", "20261202-120000-cccccccc"


@pytest.fixture
def profile() -> str:
    return "embedded"  # the workbench keeps nothing in the store


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    root = tmp_path / "registry"
    for version, gate in ((BUILT, None), (PASSED, {"passed": True}), (FAILED, {"passed": False})):
        (root / version).mkdir(parents=True)
        (root / version / "metadata.json").write_text(json.dumps({
            "version": version, "model_id": version[-8:], "data_hash": version[-8:] * 8, "trained_by": "tess",
            "trained_at": f"{version[:4]}-{version[4:6]}-{version[6:8]}T12:00:00Z", "gate": gate}))
    (root / PASSED / "report.json").write_text(json.dumps({
        "version": PASSED, "live": BUILT, "passed": True, "intents": [], "candidate_card": {"big": 1}}))
    (root / "live.json").write_text(json.dumps({"version": BUILT, "since": "2026-11-30T12:00:00Z", "history": [
        {"version": BUILT, "at": "2026-11-30T12:00:00Z", "by": "make", "action": "build"}]}))
    return root


async def signed_in(service: HandoffService, username: str) -> Principal:
    _, principal = await service.accounts.sign_in(username, PASSWORD)
    return principal


async def test_versions_newest_first_with_the_live_one_and_a_report(open_service: OpenService,
                                                                    registry: Path) -> None:
    service = await open_service(models_registry=registry)
    tess = await signed_in(service, "tess")
    page = await service.models.page(tess)
    assert [v["version"] for v in page["versions"]] == [FAILED, PASSED, BUILT]
    assert page["live"] == BUILT and page["training"] is None and page["tolerance"] == 0.02
    assert [v["has_report"] for v in page["versions"]] == [False, True, False]
    report = await service.models.report(tess, PASSED)
    assert report["passed"] and "candidate_card" not in report  # the raw scorecards stay in the file
    with pytest.raises(BadRequest, match="no gate report"):
        await service.models.report(tess, BUILT)
    with pytest.raises(BadRequest):
        await service.models.report(tess, "../live.json")


async def test_one_retraining_at_a_time_with_its_progress(open_service: OpenService, registry: Path) -> None:
    service = await open_service(models_registry=registry)
    tess, ada = await signed_in(service, "tess"), await signed_in(service, "ada")
    started = await service.models.retrain(tess)
    assert started["running"] and started["by"] == "tess"
    for _ in range(100):
        status = service.models.status()
        if status and status["percent"] == 5.0:
            break
        await asyncio.sleep(0.05)
    assert status is not None and status["stage"] == "training the candidate" and status["detail"] == "stand-in"
    with pytest.raises(Conflict, match="already running"):
        await service.models.retrain(ada)
    assert (await service.models.page(ada))["training"]["running"]


async def test_a_finished_retraining_says_which_version_and_whether_it_passed(
        open_service: OpenService, registry: Path, tmp_path: Path) -> None:
    script = tmp_path / "python"
    script.write_text("#!/bin/sh\n"
                      "echo '{\"progress\": {\"stage\": \"kept as version\", \"percent\": 97, \"detail\": \"v9\"}}'\n"
                      "echo 'gate FAILED: v9 is kept but not promoted'\nexit 1\n")
    script.chmod(0o755)
    service = await open_service(models_registry=registry, models_python=script)
    tess = await signed_in(service, "tess")
    await service.models.retrain(tess)
    for _ in range(100):
        status = service.models.status()
        if status and not status["running"]:
            break
        await asyncio.sleep(0.05)
    assert status is not None
    assert (status["version"], status["passed"], status["exit_code"], status["percent"]) == ("v9", False, 1, 100.0)
    assert status["log"] == ["gate FAILED: v9 is kept but not promoted"]


async def test_promotion_needs_a_passing_gate_unless_an_admin_forces(open_service: OpenService,
                                                                      registry: Path) -> None:
    service = await open_service(models_registry=registry)
    tess, admin = await signed_in(service, "tess"), await signed_in(service, "admin")
    with pytest.raises(BadRequest, match="did not pass the regression gate"):
        await service.models.promote(tess, FAILED)
    with pytest.raises(NotAllowed, match="Only an admin"):
        await service.models.promote(tess, FAILED, force=True)
    with pytest.raises(BadRequest, match="no model version"):
        await service.models.promote(tess, "20990101-000000-ffffffff")
    with pytest.raises(BadRequest, match="no earlier live version"):
        await service.models.rollback(tess)
    # a permitted promotion runs the registry's command; the stand-in fails, and its sentence is the answer
    with pytest.raises(BadRequest, match="promotes nothing"):
        await service.models.promote(admin, FAILED, force=True)
    with pytest.raises(BadRequest, match="promotes nothing"):
        await service.models.promote(tess, PASSED)


async def test_agents_see_no_models(open_service: OpenService, registry: Path) -> None:
    service = await open_service(models_registry=registry)
    grace = await signed_in(service, "grace")
    for call in (service.models.page(grace), service.models.retrain(grace), service.models.rollback(grace),
                 service.models.promote(grace, PASSED), service.models.report(grace, PASSED)):
        with pytest.raises(NotAllowed):
            await call
