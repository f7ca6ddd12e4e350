"""The candidate channel of A/B trials (bot/candidate.py) on a real Rasa server: ``rasa run`` with the repository's
credentials.yml and endpoints.yml, the built model live, and a registry in tmp_path (``MODEL_REGISTRY``) holding
a candidate that answers a greeting with other words and carries another model id (the built model, its metadata's
model id and greeting changed: what the tracker's events and the replies show), and a broken version.

The Rasa server takes 30-60 s to start on a shared machine, loading the candidate some seconds; no action server
runs (the greeting needs none)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.registry import Registry, RegistryError, end_trial, start_trial
from scripts.servers import free_port, start_logged, stop, wait_until_up
from tests.bot.conftest import ROOT

MODEL = ROOT / "models" / "rasa" / "assistant.tar.gz"
GREETING = "Hi! I'm the Brightwood assistant."
CANDIDATE_GREETING = "Hello from the candidate model!"
TIMEOUT = 120  # seconds: a request, a model's loading, the server's start (twice)


def candidate_copy(model: Path, out: Path) -> Path:
    """``model`` with a new model id and the greeting's first sentence replaced, in its metadata's domain and the
    domain component's file (what the processor and the policies read)."""
    identity = uuid.uuid4().hex
    with tarfile.open(model, "r:gz") as source, tarfile.open(out, "w:gz") as target:
        for member in source.getmembers():
            handle = source.extractfile(member) if member.isfile() else None
            if handle is None:
                target.addfile(member)
                continue
            data = handle.read()
            name = member.name.lstrip("/")
            if name == "metadata.json":
                meta = json.loads(data)
                meta["model_id"] = identity
                data = json.dumps(meta).replace(GREETING, CANDIDATE_GREETING).encode()
            elif name.endswith("domain_provider/domain.yml"):
                data = data.replace(GREETING.encode(), CANDIDATE_GREETING.encode())
            member.size = len(data)
            target.addfile(member, io.BytesIO(data))
    return out


def broken_model(out: Path) -> Path:
    """A .tar.gz with a Rasa model's metadata.json and nothing else: registered, it cannot be loaded."""
    data = json.dumps({"model_id": uuid.uuid4().hex, "trained_at": "2026-12-05T00:00:00"}).encode()
    with tarfile.open(out, "w:gz") as archive:
        info = tarfile.TarInfo("metadata.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return out


@dataclass
class Bot:
    url: str
    token: str
    registry: Registry
    live: str
    live_id: str
    candidate: str
    candidate_id: str
    broken: str

    def health(self) -> dict[str, Any]:
        answer = requests.get(f"{self.url}/webhooks/candidate/", timeout=TIMEOUT)
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result

    def say(self, channel: str, sender: str, text: str) -> requests.Response:
        return requests.post(f"{self.url}/webhooks/{channel}/webhook", json={"sender": sender, "message": text},
                             timeout=TIMEOUT)

    def model_ids(self, sender: str) -> list[str]:
        """The model id in the metadata of each of the conversation's user messages, oldest first."""
        answer = requests.get(f"{self.url}/conversations/{sender}/tracker", params={"token": self.token},
                              timeout=TIMEOUT)
        answer.raise_for_status()
        return [e["metadata"].get("model_id") for e in answer.json()["events"] if e["event"] == "user"]

    def wait_for(self, expected: dict[str, Any]) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        while True:
            status = self.health()
            if {key: status.get(key) for key in expected} == expected:
                return status
            assert time.monotonic() < deadline, f"the channel reports {status}, not {expected}"
            time.sleep(0.3)


def texts(answer: requests.Response) -> str:
    answer.raise_for_status()
    return " ".join(m.get("text") or "" for m in answer.json())


@contextmanager
def running_rasa(registry: Registry, work: Path) -> Iterator[tuple[str, str, Path]]:
    """``rasa run`` as the deployment starts it, the live version's model, ``MODEL_REGISTRY`` the test's registry:
    its URL, its token and its log."""
    port, token = free_port(), "test-token-" + uuid.uuid4().hex[:8]
    env = {**os.environ, "MODEL_REGISTRY": str(registry.root), "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2",
           "ACTION_SERVER_URL": f"http://127.0.0.1:{free_port()}/webhook", "ACTIONS_TOKEN": "unused",
           "RASA_TELEMETRY_ENABLED": "false", "SQLALCHEMY_SILENCE_UBER_WARNING": "1", "HF_HUB_OFFLINE": "1"}
    env.pop("REDIS_URL", None)
    live = registry.live()
    assert live is not None
    log = work / f"rasa-{port}.log"
    process = start_logged([str(Path(sys.executable).parent / "rasa"), "run", "--model", str(registry.model(live)),
                            "--interface", "127.0.0.1", "--port", str(port), "--enable-api", "--auth-token", token,
                            "--endpoints", "endpoints.yml", "--credentials", "credentials.yml"], log, env, ROOT)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/", process, TIMEOUT * 2, log)
        yield f"http://127.0.0.1:{port}", token, log
    finally:
        stop([process])
        print(log.read_text()[-6000:])  # shown when a test failed


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: run `make models` (make test does) first")
    work = tmp_path_factory.mktemp("candidate")
    registry = Registry(work / "registry", served=None)
    live = registry.register(MODEL, "make", data="0" * 64)
    registry.set_live(live["version"], "make", "build")
    candidate = registry.register(candidate_copy(MODEL, work / "candidate.tar.gz"), "tess", data="1" * 64,
                                  gate={"passed": True})
    broken = registry.register(broken_model(work / "broken.tar.gz"), "tess", data="2" * 64, gate={"passed": True})
    with running_rasa(registry, work) as (url, token, _log):
        yield Bot(url, token, registry, live["version"], live["model_id"], candidate["version"],
                  candidate["model_id"], broken["version"])


@pytest.fixture
def no_trial(bot: Bot) -> Bot:
    """The server with no trial running (each test starts so)."""
    if bot.registry.trial() is not None:
        bot.registry.end_trial("test")
    bot.wait_for({"version": None, "model_id": None, "error": None})
    return bot


def test_without_a_trial_the_candidate_channel_is_served_by_the_live_model(no_trial: Bot) -> None:
    bot = no_trial
    assert bot.health() == {"status": "ok", "version": None, "model_id": None, "error": None}
    sender = "no-trial-" + uuid.uuid4().hex[:6]
    assert GREETING in texts(bot.say("candidate", sender, "hello"))
    assert bot.model_ids(sender) == [bot.live_id]


def test_a_trial_serves_its_conversations_with_the_candidate_and_the_others_with_the_live_model(
        no_trial: Bot) -> None:
    bot = no_trial
    started = subprocess.run([sys.executable, "-m", "bot.registry", "--root", str(bot.registry.root), "trial",
                              "start", bot.candidate, "--share", "0.2", "--by", "tess", "--servers", bot.url],
                             cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT * 2,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert started.returncode == 0, started.stdout + started.stderr
    assert started.stdout.splitlines()[-1] == f"trial {bot.registry.trial()['id']}: {bot.candidate} on 20% of " \
                                              "new conversations"
    assert bot.health() == {"status": "ok", "version": bot.candidate, "model_id": bot.candidate_id, "error": None}

    arm, other = "arm-" + uuid.uuid4().hex[:6], "other-" + uuid.uuid4().hex[:6]
    reply = texts(bot.say("candidate", arm, "hello"))
    assert CANDIDATE_GREETING in reply and GREETING not in reply
    reply = texts(bot.say("rest", other, "hello"))  # the live model, its own responses, the same process
    assert GREETING in reply and CANDIDATE_GREETING not in reply
    assert bot.model_ids(arm) == [bot.candidate_id]  # the shared tracker store: readable through the API
    assert bot.model_ids(other) == [bot.live_id]
    assert CANDIDATE_GREETING in texts(bot.say("candidate", arm, "hi there"))
    assert bot.model_ids(arm) == [bot.candidate_id] * 2

    ended = end_trial(bot.registry, [bot.url], "tess", log=lambda line: None)
    assert ended["outcome"] == "ended" and bot.registry.trial() is None
    assert bot.health() == {"status": "ok", "version": None, "model_id": None, "error": None}
    assert GREETING in texts(bot.say("candidate", arm, "hello"))  # the conversation goes on with the live model
    assert bot.model_ids(arm) == [bot.candidate_id] * 2 + [bot.live_id]


def test_a_candidate_that_cannot_be_loaded_answers_503_and_the_trial_does_not_start(no_trial: Bot) -> None:
    bot = no_trial
    bot.registry.start_trial(bot.broken, 0.5, "tess")  # trial.json only: what a server sees mid-start
    status = bot.wait_for({"version": None, "model_id": None})
    deadline = time.monotonic() + TIMEOUT
    while not status["error"]:
        assert time.monotonic() < deadline, status
        time.sleep(0.3)
        status = bot.health()
    assert f"candidate {bot.broken} could not be loaded" in status["error"]
    answer = bot.say("candidate", "broken-" + uuid.uuid4().hex[:6], "hello")
    assert answer.status_code == 503
    assert answer.json() == {"error": status["error"], "version": bot.broken}
    assert GREETING in texts(bot.say("rest", "live-" + uuid.uuid4().hex[:6], "hello"))  # live is unaffected
    bot.registry.end_trial("tess")
    bot.wait_for({"version": None, "model_id": None, "error": None})

    ended_before = bot.registry.trials()
    with pytest.raises(RegistryError, match=f"could not load the candidate {bot.broken}"):
        start_trial(bot.registry, bot.broken, 0.5, [bot.url], "tess", log=lambda line: None, timeout=TIMEOUT)
    assert bot.registry.trial() is None and bot.registry.trials() == ended_before
    bot.wait_for({"version": None, "model_id": None, "error": None})


def test_a_server_started_during_a_trial_loads_the_candidate_at_start(no_trial: Bot, tmp_path: Path) -> None:
    bot = no_trial
    trial = bot.registry.start_trial(bot.candidate, 0.2, "tess")
    try:
        with running_rasa(bot.registry, tmp_path) as (url, _token, log):
            deadline = time.monotonic() + TIMEOUT  # no request reaches the channel: its start listener loads
            while f"candidate {bot.candidate} loaded" not in log.read_text():
                assert time.monotonic() < deadline, "the candidate was not loaded at the server's start"
                time.sleep(0.3)
            assert f"trial {trial['id']}: loading candidate {bot.candidate}" in log.read_text()
            status = requests.get(f"{url}/webhooks/candidate/", timeout=TIMEOUT).json()
            assert status == {"status": "ok", "version": bot.candidate, "model_id": bot.candidate_id, "error": None}
    finally:
        bot.registry.end_trial("tess")
