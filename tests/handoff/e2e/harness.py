"""Real handoff servers and real clients for the service tests (and the browser tests).

``running_handoff`` starts ``python -m handoff serve`` on a free port in one of the two profiles:
``embedded`` (in-process live state, SQLite in a temporary folder) or ``production`` (Redis on 6379 under a
key prefix of its own, PostgreSQL on 5432 in a database of its own); both are removed afterwards. Clients
speak the wire protocol of docs/handoff-protocol.md with httpx and the ``websockets`` client.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis
import websockets

from scripts.servers import free_port, start_logged, stop, wait_until_up
from tests.conftest import ROOT, TIMEOUT
from tests.handoff.frames import Frame, Frames, of_type

PASSWORD = "correct-horse-battery"
REDIS_URL = "redis://127.0.0.1:6379/10"  # databases 12-15 are the bot tests' (trackers, and locks one up)
POSTGRES = "postgresql://postgres@127.0.0.1:5432"
WAIT = 20.0  # seconds a test waits for an expected frame


@dataclass
class HandoffServer:
    url: str
    log: Path
    env: dict[str, str]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://")


def _postgres_database() -> str:
    name = f"handoff_test_{uuid.uuid4().hex[:10]}"
    done = subprocess.run(["psql", f"{POSTGRES}/postgres", "-Atc", f"CREATE DATABASE {name}"], capture_output=True,
                          text=True)
    if done.returncode:
        raise RuntimeError(f"PostgreSQL is not reachable at {POSTGRES} (make test starts it): {done.stderr.strip()}")
    return name


def _check_redis() -> None:
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.ConnectionError as exc:
        raise RuntimeError(f"Redis is not reachable at {REDIS_URL} (make test starts it)") from exc


def profile_env(profile: str, tmp: Path) -> tuple[dict[str, str], Callable[[], None]]:
    """Environment for one profile, and how to clean up after it."""
    if profile == "embedded":
        return {"DATABASE_URL": f"sqlite:///{tmp / 'handoff.sqlite3'}"}, lambda: None
    _check_redis()
    database, prefix = _postgres_database(), f"test-{uuid.uuid4().hex[:8]}:"

    def clean() -> None:
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        subprocess.run(["psql", f"{POSTGRES}/postgres", "-Atc", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"],
                       capture_output=True)

    return {"DATABASE_URL": f"{POSTGRES}/{database}", "REDIS_URL": REDIS_URL, "HANDOFF_KEY_PREFIX": prefix}, clean


def handoff_command(*args: str) -> list[str]:
    return [str(ROOT / ".venv/app/bin/python"), "-m", "handoff", *args]


@contextmanager
def running_handoff(tmp: Path, profile: str, rasa_url: str, rasa_token: str, extra_env: dict[str, str] | None = None,
                    instances: int = 1) -> Iterator[list[HandoffServer]]:
    """``instances`` servers sharing one database (and, in production, one Redis), seeded with data/demo."""
    env_profile, clean = profile_env(profile, tmp)
    env = {**{k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}, **env_profile,
           "RASA_URL": rasa_url, "RASA_TOKEN": rasa_token, "HANDOFF_SECRET": "test-secret-" + uuid.uuid4().hex,
           "HANDOFF_DEMO_PASSWORD": PASSWORD, "HANDOFF_SUGGESTIONS": "true", "PYTHONPATH": str(ROOT),
           "HF_HUB_OFFLINE": "1", "HANDOFF_INBOX_FILE": str(tmp / "nlu" / "inbox.yml"),  # never data/nlu's
           "HANDOFF_MODELS_REGISTRY": str(tmp / "models" / "registry"),  # never models/registry
           # every simulated customer comes from 127.0.0.1: the per-address limits would count them as one
           "HANDOFF_CONVERSATIONS_PER_MINUTE": "1000000", "HANDOFF_MESSAGES_PER_MINUTE": "1000000",
           **(extra_env or {})}
    servers: list[HandoffServer] = []
    try:
        for step in (["migrate"], ["seed", str(ROOT / "data" / "demo")]):
            done = subprocess.run(handoff_command(*step), cwd=ROOT, env=env, capture_output=True, text=True)
            if done.returncode:
                raise RuntimeError(f"python -m handoff {' '.join(step)} failed:\n{done.stdout}{done.stderr}")
        for number in range(instances):
            port = free_port()
            log = tmp / f"handoff-{profile}-{number}.log"
            server_env = {**env, "HANDOFF_PORT": str(port)}
            process = start_logged(handoff_command("serve"), log, server_env, ROOT)
            servers.append(HandoffServer(f"http://127.0.0.1:{port}", log, server_env, [process]))
            wait_until_up(f"http://127.0.0.1:{port}/health", process, TIMEOUT, log)
        yield servers
    finally:
        stop(p for server in servers for p in server.processes)
        clean()


def restart(server: HandoffServer, how: signal.Signals) -> float:
    """Stop the server's process with ``how`` (SIGKILL: it dies at once; SIGTERM: it shuts down) unless it
    has ended already, wait for it to end, and start it again on the same port, database and secret; return the seconds it took to end."""
    process = server.processes.pop()
    began = time.monotonic()
    if process.poll() is None:
        os.killpg(process.pid, how)
    process.wait(timeout=TIMEOUT)
    ended = time.monotonic() - began
    with server.log.open("ab") as out:
        out.write(f"\n---- restarted after {how.name} ----\n".encode())
    log = server.log.parent / f"{server.log.stem}-after-{how.name}.log"
    again = start_logged(handoff_command("serve"), log, server.env, ROOT)
    server.processes.append(again)
    wait_until_up(f"{server.url}/health", again, TIMEOUT, log)
    return ended


class Socket(Frames):
    """A WebSocket client that keeps every frame it received, so tests can wait for one."""

    def __init__(self, connection: websockets.ClientConnection) -> None:
        super().__init__()
        self.connection = connection

    async def _more(self) -> None:
        self.frames.append(json.loads(await self.connection.recv()))

    async def send(self, frame: Frame | str) -> None:
        await self.connection.send(frame if isinstance(frame, str) else json.dumps(frame))

    async def next(self, predicate: Callable[[Frame], bool], timeout: float = WAIT) -> Frame:
        return await super().next(predicate, timeout)

    async def seen(self, predicate: Callable[[Frame], bool], timeout: float = WAIT) -> Frame:
        return await super().seen(predicate, timeout)

    async def close(self) -> None:
        await self.connection.close()


@dataclass
class Customer:
    server: HandoffServer
    conversation_id: str
    token: str

    @classmethod
    async def start(cls, server: HandoffServer, **body: Any) -> Customer:
        async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as http:
            response = await http.post("/api/conversations", json=body)
            response.raise_for_status()
            data = response.json()
        return cls(server, data["conversation_id"], data["customer_token"])

    async def connect(self, after: int = 0) -> Socket:
        url = f"{self.server.ws_url}/ws/customer?conversation_id={self.conversation_id}&token={self.token}&after={after}"
        return Socket(await websockets.connect(url))

    async def say(self, socket: Socket, text: str) -> Frame:
        client_id = uuid.uuid4().hex
        await socket.send({"type": "message", "client_id": client_id, "text": text})
        return await socket.next(of_type("ack", client_id=client_id))


@dataclass
class Agent:
    server: HandoffServer
    username: str
    token: str
    agent_id: str

    @classmethod
    async def sign_in(cls, server: HandoffServer, username: str) -> Agent:
        async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as http:
            response = await http.post("/api/auth/login", json={"username": username, "password": PASSWORD})
            response.raise_for_status()
            data = response.json()
        return cls(server, username, data["token"], data["agent"]["id"])

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.server.url, timeout=TIMEOUT,
                                 headers={"Authorization": f"Bearer {self.token}"})

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async with self.http() as http:
            return await http.request(method, path, **kwargs)

    async def connect(self) -> Socket:
        return Socket(await websockets.connect(f"{self.server.ws_url}/ws/agent?token={self.token}"))

    async def say(self, socket: Socket, conversation_id: str, text: str) -> Frame:
        client_id = uuid.uuid4().hex
        await socket.send({"type": "message", "conversation_id": conversation_id, "client_id": client_id,
                           "text": text})
        return await socket.next(of_type("ack", client_id=client_id))
