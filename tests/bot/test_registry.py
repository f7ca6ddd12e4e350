"""The model registry (bot/registry.py): versions with their metadata, the live pointer, and promotion over Rasa's
model-replacement API one server at a time. The servers here are small HTTP servers speaking the two calls of
Rasa's API the registry uses (``PUT /model``, ``GET /status``, token in the query) and the candidate channel's status
(``GET /webhooks/candidate/``, which "loads" what the registry's trial.json names); tests/handoff/e2e/test_models.py
promotes on real Rasa servers, tests/bot/test_candidate.py runs trials on one."""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from bot.registry import Registry, RegistryError, data_hash, end_trial, main, model_id, promote, rollback, start_trial
from tests.bot.conftest import ROOT

TOKEN = "t0ken"


def fake_model(path: Path, identity: str) -> Path:
    """A .tar.gz with the metadata.json of a Rasa model (what the registry reads of one)."""
    data = json.dumps({"model_id": identity, "trained_at": "2026-12-05T00:00:00"}).encode()
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo("metadata.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return path


class FakeRasa:
    """A server answering ``PUT /model`` (loads the file's model id) and ``GET /status``; ``broken``: PUT fails.
    Given a registry, ``GET /webhooks/candidate/`` reports the version its trial.json names as loaded, or, for a
    version in ``broken_candidates``, an error."""

    def __init__(self, name: str, calls: list[tuple[str, str, str]], broken: bool = False,
                 registry: Registry | None = None) -> None:
        self.name, self.calls, self.broken, self.model = name, calls, broken, "old"
        self.registry, self.broken_candidates = registry, set[str]()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _authorised(self) -> bool:
                if parse_qs(urlparse(self.path).query).get("token") != [TOKEN]:
                    self.send_response(401)
                    self.end_headers()
                    return False
                return True

            def do_PUT(self) -> None:
                if not self._authorised():
                    return
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.calls.append((fake.name, "PUT", Path(body["model_file"]).parent.name))
                if fake.broken:
                    self.send_response(500)
                    self.end_headers()
                    return
                fake.model = model_id(Path(body["model_file"]))
                self.send_response(204)
                self.end_headers()

            def do_GET(self) -> None:
                if urlparse(self.path).path == "/webhooks/candidate/" and fake.registry is not None:
                    self._candidate(fake.registry)
                    return
                if not self._authorised():
                    return
                fake.calls.append((fake.name, "status", fake.model))
                payload = json.dumps({"model_id": fake.model}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(payload)

            def _candidate(self, registry: Registry) -> None:
                trial = registry.trial()
                version = trial["version"] if trial else None
                status: dict[str, Any] = {"status": "ok", "version": version, "model_id": None, "error": None}
                if version in fake.broken_candidates:
                    status.update(version=None, error=f"candidate {version} could not be loaded: KeyError")
                elif version:
                    status["model_id"] = registry.metadata(version)["model_id"]
                fake.calls.append((fake.name, "candidate", str(status["version"])))
                payload = json.dumps(status).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return Registry(tmp_path / "registry", served=tmp_path / "rasa" / "assistant.tar.gz")


@pytest.fixture
def calls() -> list[tuple[str, str, str]]:
    return []


@pytest.fixture
def servers(calls: list[tuple[str, str, str]], registry: Registry) -> Iterator[list[FakeRasa]]:
    started = [FakeRasa("a", calls, registry=registry), FakeRasa("b", calls, registry=registry)]
    yield started
    for server in started:
        server.close()


def versions(registry: Registry, tmp_path: Path, *passed: Any) -> list[str]:
    """One version per entry of ``passed`` (True/False: the gate's verdict; None: not gated)."""
    made = []
    for number, verdict in enumerate(passed):
        model = fake_model(tmp_path / f"m{number}.tar.gz", f"model-{number}")
        gate = None if verdict is None else {"passed": verdict}
        made.append(registry.register(model, "tess", data=f"{number:064d}", gate=gate)["version"])
    return made


def test_a_version_keeps_the_model_and_its_metadata(registry: Registry, tmp_path: Path) -> None:
    model = fake_model(tmp_path / "m.tar.gz", "abc123")
    meta = registry.register(model, "tess", metrics={"macro_f1": 0.9}, gate={"passed": True}, parent="v0")
    assert meta["model_id"] == "abc123" and meta["trained_by"] == "tess" and meta["parent"] == "v0"
    assert meta["version"].endswith("-" + meta["data_hash"][:8]) and len(meta["data_hash"]) == 64
    assert meta["trained_at"].endswith("Z") and meta["metrics"] == {"macro_f1": 0.9}
    folder = registry.root / meta["version"]
    assert (folder / "model.tar.gz").read_bytes() == model.read_bytes()
    assert json.loads((folder / "metadata.json").read_text()) == meta
    assert registry.register(model, "ada")["version"] == meta["version"]  # the same model is one version
    assert [v["version"] for v in registry.versions()] == [meta["version"]]


def test_the_data_hash_covers_the_training_inputs(tmp_path: Path) -> None:
    (tmp_path / "data" / "nlu").mkdir(parents=True)
    (tmp_path / "config.yml").write_text("recipe: default.v1\n")
    (tmp_path / "data" / "nlu" / "a.yml").write_text("nlu: []\n")
    first = data_hash(tmp_path)
    assert data_hash(tmp_path) == first
    (tmp_path / "data" / "nlu" / "inbox.yml").write_text("nlu: [x]\n")
    second = data_hash(tmp_path)
    (tmp_path / "data" / "nlu" / "notes.txt").write_text("not training data")
    assert first != second == data_hash(tmp_path)


def test_promotion_goes_one_server_at_a_time_and_records_the_live_pointer(
        registry: Registry, tmp_path: Path, servers: list[FakeRasa], calls: list[tuple[str, str, str]]) -> None:
    built, candidate = versions(registry, tmp_path, None, True)
    registry.set_live(built, "make", "build")
    pointer = promote(registry, candidate, [s.url for s in servers], TOKEN, "tess", log=lambda line: None)
    assert pointer["version"] == candidate == registry.live() and pointer["by"] == "tess"
    # b is asked only once a reports the candidate's model
    assert calls == [("a", "PUT", candidate), ("a", "status", "model-1"), ("b", "PUT", candidate),
                     ("b", "status", "model-1")]
    assert registry.served is not None and model_id(registry.served) == "model-1"  # what make run starts
    assert [e["action"] for e in registry.pointer()["history"]] == ["build", "promote"]


def test_a_failing_server_puts_the_previous_model_back_and_the_pointer_stays(
        registry: Registry, tmp_path: Path, servers: list[FakeRasa], calls: list[tuple[str, str, str]]) -> None:
    built, candidate = versions(registry, tmp_path, None, True)
    registry.set_live(built, "make", "build")
    servers[0].model = "model-0"
    servers[1].broken = True
    with pytest.raises(RegistryError, match="did not take the model"):
        promote(registry, candidate, [s.url for s in servers], TOKEN, "tess", log=lambda line: None)
    assert registry.live() == built and servers[0].model == "model-0"
    assert [c for c in calls if c[1] == "PUT"] == [("a", "PUT", candidate), ("b", "PUT", candidate),
                                                    ("a", "PUT", built)]


def test_only_a_version_that_passed_the_gate_unless_forced_and_rollback_returns(
        registry: Registry, tmp_path: Path, servers: list[FakeRasa]) -> None:
    built, failed, passed = versions(registry, tmp_path, None, False, True)
    registry.set_live(built, "make", "build")
    urls = [s.url for s in servers]
    with pytest.raises(RegistryError, match="did not pass the regression gate"):
        promote(registry, failed, urls, TOKEN, "tess", log=lambda line: None)
    promote(registry, failed, urls, TOKEN, "admin", force=True, log=lambda line: None)
    promote(registry, passed, urls, TOKEN, "tess", log=lambda line: None)
    assert rollback(registry, urls, TOKEN, "tess", log=lambda line: None)["version"] == failed
    assert all(s.model == "model-1" for s in servers)
    promote(registry, built, urls, TOKEN, "tess", log=lambda line: None)  # once live: no gate needed
    assert [(e["version"], e["action"]) for e in registry.pointer()["history"]] == [
        (built, "build"), (failed, "promote"), (passed, "promote"), (failed, "rollback"), (built, "promote")]


def test_a_wrong_token_is_an_error_not_a_hang(registry: Registry, tmp_path: Path, servers: list[FakeRasa]) -> None:
    _built, candidate = versions(registry, tmp_path, None, True)
    with pytest.raises(RegistryError, match="did not take the model"):
        promote(registry, candidate, [servers[0].url], "wrong", "tess", log=lambda line: None)
    with pytest.raises(RegistryError, match="no model version"):
        registry.metadata("../etc")


# ---- A/B trials ----------------------------------------------------------------------------------------------


def quiet(line: str) -> None:
    pass


def test_a_trial_needs_a_gated_version_other_than_live_a_share_and_no_other_trial(
        registry: Registry, tmp_path: Path) -> None:
    built, failed, passed = versions(registry, tmp_path, None, False, True)
    registry.set_live(built, "make", "build")
    assert registry.trial() is None and registry.trials() == []
    with pytest.raises(RegistryError, match="no model version 'nope'"):
        registry.start_trial("nope", 0.2, "tess")
    with pytest.raises(RegistryError, match="is the live version"):
        registry.start_trial(built, 0.2, "tess", force=True)
    with pytest.raises(RegistryError, match="did not pass the regression gate"):
        registry.start_trial(failed, 0.2, "tess")
    for share in (0, 1, 0.0, 1.0, -0.1, 1.5, math.nan, True):
        with pytest.raises(RegistryError, match="between 0 and 1"):
            registry.start_trial(passed, share, "tess")
    assert not (registry.root / "trial.json").exists()

    trial = registry.start_trial(passed, 0.2, "tess")
    assert trial == json.loads((registry.root / "trial.json").read_text()) == registry.trial()
    assert set(trial) == {"id", "version", "live", "share", "started_at", "started_by"}
    assert trial["id"].startswith("trial-") and len(trial["id"]) == len("trial-20261205-054250")
    assert (trial["version"], trial["live"], trial["share"], trial["started_by"]) == (passed, built, 0.2, "tess")
    assert trial["started_at"].endswith("Z")
    with pytest.raises(RegistryError, match=f"Trial {trial['id']} of version {passed} is running; end it first"):
        registry.start_trial(failed, 0.3, "admin", force=True)

    ended = registry.end_trial("ada")
    assert registry.trial() is None and not (registry.root / "trial.json").exists()
    assert ended == {**trial, "ended_at": ended["ended_at"], "ended_by": "ada", "outcome": "ended"}
    assert registry.trials() == [ended] == json.loads((registry.root / "trials.json").read_text())
    with pytest.raises(RegistryError, match="No trial is running"):
        registry.end_trial("ada")
    forced = registry.start_trial(failed, 0.5, "admin", force=True)  # an admin may try a version the gate failed
    registry.end_trial("admin", outcome="promoted")
    assert [(t["version"], t["outcome"]) for t in registry.trials()] == [(passed, "ended"), (failed, "promoted")]
    assert registry.trials()[1]["id"] == forced["id"]


def test_starting_a_trial_waits_for_every_server_to_report_the_candidate_and_ending_for_none(
        registry: Registry, tmp_path: Path, servers: list[FakeRasa], calls: list[tuple[str, str, str]]) -> None:
    built, candidate = versions(registry, tmp_path, None, True)
    registry.set_live(built, "make", "build")
    lines: list[str] = []
    trial = start_trial(registry, candidate, 0.25, [s.url for s in servers], "tess", log=lines.append)
    assert registry.trial() == trial
    assert calls == [("a", "candidate", candidate), ("b", "candidate", candidate)]
    assert lines == [f"{servers[0].url}: loading candidate {candidate}",
                     f"{servers[0].url}: candidate {candidate} ready (model model-1)",
                     f"{servers[1].url}: loading candidate {candidate}",
                     f"{servers[1].url}: candidate {candidate} ready (model model-1)"]
    ended = end_trial(registry, [s.url for s in servers], "tess", log=quiet)
    assert ended["outcome"] == "ended" and registry.trial() is None and registry.trials() == [ended]
    assert calls[2:] == [("a", "candidate", "None"), ("b", "candidate", "None")]


def test_a_server_that_cannot_load_the_candidate_leaves_no_trial(
        registry: Registry, tmp_path: Path, servers: list[FakeRasa], calls: list[tuple[str, str, str]]) -> None:
    built, candidate = versions(registry, tmp_path, None, True)
    registry.set_live(built, "make", "build")
    servers[1].broken_candidates.add(candidate)
    with pytest.raises(RegistryError, match=f"could not load the candidate {candidate}: candidate {candidate} could "
                                            "not be loaded: KeyError"):
        start_trial(registry, candidate, 0.2, [s.url for s in servers], "tess", log=quiet, timeout=30)
    assert registry.trial() is None and registry.trials() == []
    assert calls[-1] == ("a", "candidate", "None")  # a, which had loaded it, was told to drop it
    # a server without the candidate channel (credentials.yml without it) fails the start too, by its timeout
    with pytest.raises(RegistryError, match=r"did not report candidate .* Is bot\.candidate\.CandidateInput"):
        start_trial(registry, candidate, 0.2, ["http://127.0.0.1:9"], "tess", log=quiet, timeout=1)
    assert registry.trial() is None


def test_promotion_and_rollback_end_a_running_trial(registry: Registry, tmp_path: Path, servers: list[FakeRasa],
                                                     calls: list[tuple[str, str, str]]) -> None:
    built, candidate, other = versions(registry, tmp_path, None, True, True)
    registry.set_live(built, "make", "build")
    urls = [s.url for s in servers]
    start_trial(registry, candidate, 0.2, urls, "tess", log=quiet)
    calls.clear()
    promote(registry, candidate, urls, TOKEN, "tess", log=quiet)
    assert registry.trial() is None and registry.live() == candidate
    assert [(t["version"], t["outcome"], t["ended_by"]) for t in registry.trials()] == [(candidate, "promoted", "tess")]
    # the servers dropped the candidate before the first one got the new live model
    assert calls[:3] == [("a", "candidate", "None"), ("b", "candidate", "None"), ("a", "PUT", candidate)]

    start_trial(registry, other, 0.2, urls, "tess", log=quiet)
    promote(registry, built, urls, TOKEN, "ada", log=quiet)  # another version: the trial just ended
    start_trial(registry, other, 0.2, urls, "tess", log=quiet)
    rollback(registry, urls, TOKEN, "ada", log=quiet)
    assert registry.trial() is None and registry.live() == candidate
    assert [(t["version"], t["outcome"]) for t in registry.trials()] == [
        (candidate, "promoted"), (other, "ended"), (other, "rolled back")]


def test_the_trial_commands(registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    built, candidate = versions(registry, tmp_path, None, True)
    registry.set_live(built, "make", "build")
    monkeypatch.delenv("RASA_SERVERS", raising=False)
    monkeypatch.delenv("RASA_URL", raising=False)
    root = ["--root", str(registry.root)]
    assert main([*root, "trial", "start", candidate, "--share", "0", "--by", "tess"]) == 1
    assert "between 0 and 1" in capsys.readouterr().err
    assert main([*root, "trial", "start", candidate, "--share", "0.2", "--by", "tess"]) == 0
    out = capsys.readouterr().out.splitlines()
    trial = registry.trial()
    assert trial is not None and trial["started_by"] == "tess"
    assert out == ["no Rasa server given (RASA_SERVERS, RASA_URL): only the trial files changed",
                   f"trial {trial['id']}: {candidate} on 20% of new conversations"]
    assert main([*root, "trial", "show"]) == 0
    assert capsys.readouterr().out.startswith(f"running: {trial['id']}  {candidate} on 20% of new conversations")
    assert main([*root, "trial", "end", "--by", "ada"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"trial {trial['id']} ended"
    shown = subprocess.run([sys.executable, "-m", "bot.registry", *root, "--json", "trial", "show"], cwd=ROOT,
                           capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == {"trial": None, "ended": registry.trials()}
    assert registry.trials()[0]["ended_by"] == "ada"
