"""The model registry (bot/registry.py): versions with their metadata, the live pointer, and promotion over Rasa's
model-replacement API one server at a time. The servers here are small HTTP servers speaking the two calls of
Rasa's API the registry uses (``PUT /model``, ``GET /status``, token in the query); tests/handoff/e2e/test_models.py
promotes on real Rasa servers."""

from __future__ import annotations

import io
import json
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from bot.registry import Registry, RegistryError, data_hash, model_id, promote, rollback

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
    """A server answering ``PUT /model`` (loads the file's model id) and ``GET /status``; ``broken``: PUT fails."""

    def __init__(self, name: str, calls: list[tuple[str, str, str]], broken: bool = False) -> None:
        self.name, self.calls, self.broken, self.model = name, calls, broken, "old"
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
                if not self._authorised():
                    return
                fake.calls.append((fake.name, "status", fake.model))
                payload = json.dumps({"model_id": fake.model}).encode()
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
def servers(calls: list[tuple[str, str, str]]) -> Iterator[list[FakeRasa]]:
    started = [FakeRasa("a", calls), FakeRasa("b", calls)]
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
