"""The whole trainer's loop on real servers (docs/training.md, "Retraining" and "Versions"): examples a trainer
confirmed in the inbox -> the workbench's Retrain trains a candidate in the Rasa environment, with progress -> the
regression gate passes (held-out phrasings, the inbox's examples, Rasa's story tests) -> Promote swaps the model on
the running Rasa server with ``PUT /model`` while a customer is in the middle of a form -> the form goes on where
it was -> the message the bot could not make out is now understood. In headless Chromium (the Models tab), against
a Rasa server and an action server of its own (the session's shared bot keeps the built model), with a registry,
an inbox file and a served model in tmp_path: nothing of the repository's models/ or data/ is written.

An A/B trial runs on the same servers: started in the Models tab on half the new conversations, each customer's
messages answered by their arm's model (the Rasa tracker says which model understood each one), the arms counted
in the tab, and the candidate promoted from the trial.

The production profile's swap is checked too: two Rasa servers sharing their trackers in Redis, a candidate
trained and gated by ``python -m bot.retrain`` (what ``make retrain`` runs), promoted one server at a time by
``python -m bot.registry`` while a conversation is mid-form, which goes on across both servers; then rolled back.

Each test about 2-3 minutes on a shared machine: Rasa servers' start, one training of the project's model
(15-60 s) and the scoring of both models."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from handoff.core.trials import CANDIDATE, LIVE, Trial, arm_of
from tests.conftest import ROOT, TIMEOUT
from tests.handoff.e2e.browser import Desk, browsers, expect
from tests.handoff.e2e.harness import Customer, HandoffServer, running_handoff
from tests.handoff.frames import of_type
from tests.servers import MODEL, Assistant, running_assistant

RASA_PYTHON = ROOT / ".venv" / "rasa" / "bin" / "python"
# what customers said that the built model cannot make out (a fallback), as a trainer labelled it in the inbox
LABELLED = "curbside pickup?"
INBOX = """version: "3.1"
nlu:
- intent: shipping_options
  examples: |
    - can I pick my order up from the shop
    - curbside pickup?
"""
TRAINING_MS = 400_000  # the candidate's training and both models' scoring, on a busy machine
TRACKERS = "redis://127.0.0.1:6379/8"  # the production test's Rasa trackers (and locks in 9); 10-15 are others'


def register_built(registry: Path) -> str:
    """The model make built, registered as the live version (as make does); its Rasa model id."""
    built = subprocess.run([str(RASA_PYTHON), "-m", "bot.registry", "--root", str(registry), "--json", "register",
                            str(MODEL), "--live", "--trained-by", "make"], cwd=ROOT, capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert built.returncode == 0, built.stderr
    return str(json.loads(built.stdout)["model_id"])


@pytest.fixture(scope="module")
def retrained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """What ``make retrain`` does without servers: the registry (the built model live), the candidate trained with
    the inbox's examples and gated, and the built model's id."""
    root = tmp_path_factory.mktemp("retrained")
    registry, inbox = root / "registry", root / "inbox.yml"
    inbox.write_text(INBOX)
    built_id = register_built(registry)
    done = subprocess.run([str(RASA_PYTHON), "-m", "bot.retrain", "--registry", str(registry), "--inbox", str(inbox),
                           "--trained-by", "ci"], cwd=ROOT, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2",
                               "RASA_TELEMETRY_ENABLED": "false"})
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "[  5%] training the candidate" in done.stdout and "gate passed" in done.stdout
    [version] = [m.parent.name for m in registry.glob("*/metadata.json")
                 if json.loads(m.read_text())["trained_by"] == "ci"]
    return registry, version, built_id


def parse(bot: Assistant, text: str) -> str:
    response = requests.post(f"{bot.rasa_url}/model/parse", params={"token": bot.token}, json={"text": text},
                             timeout=TIMEOUT)
    response.raise_for_status()
    return str(response.json()["intent"]["name"])


def serving(bot: Assistant) -> str:
    response = requests.get(f"{bot.rasa_url}/status", params={"token": bot.token}, timeout=TIMEOUT)
    response.raise_for_status()
    return str(response.json()["model_id"])


def texts(replies: list[dict[str, Any]]) -> str:
    return " ".join(r.get("text") or "" for r in replies)


async def test_browser_a_labelled_example_is_retrained_gated_and_promoted_mid_conversation(tmp_path: Path) -> None:
    registry, inbox = tmp_path / "registry", tmp_path / "nlu" / "inbox.yml"
    inbox.parent.mkdir(parents=True)
    inbox.write_text(INBOX)
    built_id = register_built(registry)
    (tmp_path / "bot").mkdir()
    with running_assistant(tmp_path / "bot") as bot:
        assert serving(bot) == built_id and parse(bot, LABELLED) == "nlu_fallback"
        customer = f"mid-form-{uuid.uuid4().hex[:8]}"
        assert "order number" in texts(bot.say(customer, "where is my order"))  # the form asks its first slot

        (tmp_path / "handoff").mkdir()
        with running_handoff(tmp_path / "handoff", "embedded", bot.rasa_url, bot.token,
                             extra_env={"HANDOFF_MODELS_REGISTRY": str(registry),
                                        "HANDOFF_INBOX_FILE": str(inbox)}) as servers:
            server = servers[0]
            async with browsers(tmp_path / "browsers") as open_browser:
                actor = await open_browser.open("tess")
                desk = Desk(actor, server.url)
                page = desk.page
                await desk.sign_in("tess", desk=False)
                await page.get_by_test_id("models-tab").click()
                versions = page.get_by_test_id("models-version")
                await expect(versions).to_have_count(1)
                await expect(page.get_by_test_id("models-live")).to_contain_text("Live: ")
                await expect(versions.first.get_by_test_id("models-promote")).to_have_count(0)  # it is live

                await page.get_by_test_id("models-retrain").click()
                stage = page.get_by_test_id("models-stage")
                await expect(stage).to_contain_text("% · training the candidate")  # progress, as it goes
                await expect(page.get_by_test_id("models-retrain")).to_be_disabled()
                await expect(stage).to_contain_text("passed the gate", timeout=TRAINING_MS)
                await expect(versions).to_have_count(2)
                candidate = versions.first  # newest first
                version = await candidate.get_attribute("data-version")
                assert version is not None
                await expect(candidate.get_by_test_id("models-gate")).to_have_text("passed")

                await candidate.get_by_test_id("models-open").click()
                await expect(page.get_by_test_id("models-verdict")).to_contain_text("passed the gate")
                intents = page.get_by_test_id("models-intents")
                await expect(intents.locator("tr[data-intent=shipping_options] td").nth(1)).to_have_text("3")
                await expect(page.get_by_test_id("models-inbox")).to_have_text("2 of 2 understood")
                await expect(page.get_by_test_id("models-stories")).to_contain_text("pass · order_status_form")

                await candidate.get_by_test_id("models-promote").click()
                await expect(page.get_by_test_id("models-live")).to_contain_text(f"Live: {version}",
                                                                                  timeout=TIMEOUT * 1000)
                actor.check_clean()
                assert desk.refused == []
                metadata = json.loads((registry / version / "metadata.json").read_text())
                assert metadata["trained_by"] == "tess" and metadata["gate"]["passed"]
                assert (registry / version / "report.md").read_text().startswith(f"# Regression gate: {version}")

        # the Rasa server runs the candidate; the conversation continues where it was, in the middle of the form
        assert serving(bot) == metadata["model_id"] != built_id
        assert "postcode" in texts(bot.say(customer, "12345"))
        status = texts(bot.say(customer, "94110"))
        assert "12345" in status and "shipped" in status.lower(), status
        tracker = requests.get(f"{bot.rasa_url}/conversations/{customer}/tracker", params={"token": bot.token},
                               timeout=TIMEOUT).json()
        assert tracker["slots"]["order_number"] == "12345" and not (tracker.get("active_loop") or {}).get("name")
        assert parse(bot, LABELLED) == "shipping_options"  # the labelled message is understood now
    assert json.loads((registry / "live.json").read_text())["version"] == version


def test_production_two_rasa_servers_swap_one_at_a_time_and_a_conversation_in_redis_goes_on(
        retrained: tuple[Path, str, str], tmp_path: Path) -> None:
    registry, version, built_id = retrained
    candidate_id = json.loads((registry / version / "metadata.json").read_text())["model_id"]
    token, env = "cluster-" + uuid.uuid4().hex, {"REDIS_URL": TRACKERS}
    customer = f"mid-form-{uuid.uuid4().hex[:8]}"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    try:
        with running_assistant(tmp_path / "a", env, token) as a, running_assistant(tmp_path / "b", env, token) as b:
            assert "order number" in texts(a.say(customer, "where is my order"))
            servers = f"{a.rasa_url},{b.rasa_url}"
            done = subprocess.run([str(RASA_PYTHON), "-m", "bot.registry", "--root", str(registry), "promote",
                                   version, "--servers", servers, "--by", "ci"], cwd=ROOT, capture_output=True,
                                  text=True, env={**os.environ, "PYTHONPATH": str(ROOT), "RASA_TOKEN": token},
                                  timeout=600)
            assert done.returncode == 0, done.stdout + done.stderr
            assert done.stdout.splitlines() == [  # b is asked only once a reports the candidate
                f"{a.rasa_url}: loading {version}", f"{a.rasa_url}: now serves {version} (model {candidate_id})",
                f"{b.rasa_url}: loading {version}", f"{b.rasa_url}: now serves {version} (model {candidate_id})",
                f"live: {version}"]
            assert serving(a) == serving(b) == candidate_id
            # the tracker is Redis's: the form goes on, on either server
            assert "postcode" in texts(b.say(customer, "12345"))
            status = texts(a.say(customer, "94110"))
            assert "12345" in status and "shipped" in status.lower(), status
            assert parse(a, LABELLED) == parse(b, LABELLED) == "shipping_options"

            back = subprocess.run([str(RASA_PYTHON), "-m", "bot.registry", "--root", str(registry), "rollback",
                                   "--servers", servers, "--by", "ci"], cwd=ROOT, capture_output=True, text=True,
                                  env={**os.environ, "PYTHONPATH": str(ROOT), "RASA_TOKEN": token}, timeout=600)
            assert back.returncode == 0, back.stdout + back.stderr
            assert serving(a) == serving(b) == built_id
            assert parse(b, LABELLED) == "nlu_fallback"
    finally:
        for db in (8, 9):
            client = redis.Redis.from_url(f"redis://127.0.0.1:6379/{db}")
            for key in client.scan_iter(f"*{customer}*"):
                client.delete(key)
    history = json.loads((registry / "live.json").read_text())["history"]
    assert [(e["action"], e["by"]) for e in history] == [("build", "make"), ("promote", "ci"), ("rollback", "ci")]


def tracker_models(bot: Assistant, conversation_id: str) -> list[tuple[str | None, str]]:
    """``(model id, intent)`` of each customer message in the Rasa tracker: which model understood it as what."""
    tracker = requests.get(f"{bot.rasa_url}/conversations/{conversation_id}/tracker", params={"token": bot.token},
                           timeout=TIMEOUT).json()
    return [((e.get("metadata") or {}).get("model_id"), e["parse_data"]["intent"]["name"])
            for e in tracker.get("events") or [] if e.get("event") == "user"]


async def talk(server: HandoffServer, bot: Assistant, customer: Customer, text: str) -> tuple[str | None, str]:
    """The customer says ``text`` on the widget's socket; which model understood it, as what."""
    socket = await customer.connect()
    try:
        await socket.next(of_type("hello"))
        before = len(tracker_models(bot, customer.conversation_id))
        await customer.say(socket, text)
        deadline = time.monotonic() + TIMEOUT
        while len(seen := tracker_models(bot, customer.conversation_id)) == before:
            assert time.monotonic() < deadline, f"Rasa never heard {text!r} from {customer.conversation_id}"
            time.sleep(0.2)
        return seen[-1]
    finally:
        await socket.close()


async def test_browser_an_ab_trial_serves_each_arm_its_model_sticky_counts_them_and_promotes_the_candidate(
        retrained: tuple[Path, str, str], tmp_path: Path) -> None:
    source, version, built_id = retrained
    registry = tmp_path / "registry"
    shutil.copytree(source, registry)
    candidate_id = json.loads((registry / version / "metadata.json").read_text())["model_id"]
    (tmp_path / "bot").mkdir()
    with running_assistant(tmp_path / "bot", {"MODEL_REGISTRY": str(registry)}) as bot:
        (tmp_path / "handoff").mkdir()
        with running_handoff(tmp_path / "handoff", "embedded", bot.rasa_url, bot.token,
                             extra_env={"HANDOFF_MODELS_REGISTRY": str(registry)}) as servers:
            server = servers[0]
            before = await Customer.start(server)  # started before the trial: the live model, whatever its draw
            async with browsers(tmp_path / "browsers") as open_browser:
                actor = await open_browser.open("tess")
                desk = Desk(actor, server.url)
                page = desk.page
                await desk.sign_in("tess", desk=False)
                await page.get_by_test_id("models-tab").click()
                status = page.get_by_test_id("trial-status")
                await expect(status).to_contain_text("No trial is running")
                await page.get_by_test_id("trial-version").select_option(version)
                await page.get_by_test_id("trial-share").fill("50")
                await page.get_by_test_id("trial-start").click()
                await expect(status).to_contain_text(f"Trial running: {version}", timeout=TRAINING_MS)
                trial = Trial.from_json(json.loads((registry / "trial.json").read_text()))
                assert trial is not None and trial.share == 0.5 and trial.started_by == "tess"

                # each new customer is answered by their arm's model, every message (sticky): the candidate
                # understands what the live model could not (which hands that customer to a person)
                arms: dict[str, list[Customer]] = {LIVE: [], CANDIDATE: []}
                while min(len(found) for found in arms.values()) < 2:
                    assert sum(len(found) for found in arms.values()) < 24, "the draws never filled both arms"
                    customer = await Customer.start(server)
                    arm = arm_of(trial, customer.conversation_id, time.time())
                    model = candidate_id if arm == CANDIDATE else built_id
                    assert await talk(server, bot, customer, "hello") == (model, "greet"), arm
                    assert await talk(server, bot, customer, LABELLED) == (
                        model, "shipping_options" if arm == CANDIDATE else "nlu_fallback"), arm
                    arms[arm].append(customer)
                assert await talk(server, bot, before, "hello") == (built_id, "greet")  # before the trial: live

                await page.get_by_test_id("trial-refresh").click()
                table = page.get_by_test_id("trial-arms")
                cells = table.locator("tr[data-metric=conversations] td")
                await expect(cells.nth(0)).to_have_text(str(len(arms[LIVE])))
                await expect(cells.nth(1)).to_have_text(str(len(arms[CANDIDATE])))
                await expect(page.get_by_test_id("trial-verdict")).to_contain_text("Collecting")
                await expect(page.get_by_test_id("trial-chart").locator("canvas")).to_have_count(1)

                await page.get_by_test_id("trial-promote").click()
                await expect(page.get_by_test_id("models-live")).to_contain_text(f"Live: {version}",
                                                                                  timeout=TIMEOUT * 1000)
                ended = page.get_by_test_id("trials-ended-row")
                await expect(ended).to_have_count(1)
                await expect(ended.locator("td").nth(5)).to_have_text("promoted")
                await expect(status).to_contain_text("No trial is running")
                actor.check_clean()
                assert desk.refused == []
            # promoted: everyone, conversations of the live arm or from before the trial too, gets the candidate
            assert serving(bot) == candidate_id and not (registry / "trial.json").exists()
            assert await talk(server, bot, before, LABELLED) == (candidate_id, "shipping_options")
