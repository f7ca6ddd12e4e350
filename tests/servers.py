"""Start the real assistant (action server + Rasa server) and a real XMPP server (Prosody) for end-to-end tests."""

from __future__ import annotations

import ipaddress
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from scripts import prosody
from scripts.servers import free_port, start_logged, stop, wait_until_up
from tests.conftest import ROOT, TIMEOUT

MODEL = ROOT / "models" / "rasa" / "assistant.tar.gz"
KB_INDEX = ROOT / "models" / "knowledge" / "meta.json"


def listening_addresses(port: int) -> set[str]:
    """The local addresses with a socket listening on TCP ``port`` (/proc/net/tcp and tcp6; ``::`` and
    ``0.0.0.0`` mean every interface)."""
    found = set()
    for table, width in (("tcp", 8), ("tcp6", 32)):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            local, _, state = line.split()[1:4]
            address, hex_port = local.split(":")
            if state != "0A" or int(hex_port, 16) != port:  # 0A: LISTEN
                continue
            raw = bytes.fromhex(address)
            # the kernel prints each 32-bit word in host (little-endian) order
            words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
            found.add(str(ipaddress.ip_address(words)) if width == 8 else str(ipaddress.IPv6Address(words)))
    return found


@dataclass(frozen=True)
class Assistant:
    rasa_url: str
    actions_url: str
    token: str
    log: Path
    actions_token: str = ""

    def say(self, sender: str, text: str, metadata: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Say ``text`` as the customer; ``metadata``: what the handoff service sends with it (the verified
        ``customer_external_id`` of a customer the shop signed in)."""
        response = requests.post(f"{self.rasa_url}/webhooks/rest/webhook",
                                 json={"sender": sender, "message": text, "metadata": metadata or {}}, timeout=TIMEOUT)
        response.raise_for_status()
        replies: list[dict[str, Any]] = response.json()
        return replies


@contextmanager
def running_assistant(tmp: Path, extra_env: dict[str, str] | None = None,
                      token: str | None = None) -> Iterator[Assistant]:
    """Both servers on free ports, stopped on exit; fails clearly if the model is not built. ``token``: the Rasa
    HTTP API's (random by default; several servers of one deployment share one)."""
    for artifact in (MODEL, KB_INDEX):
        if not artifact.exists():
            raise RuntimeError(f"{artifact} is missing: run `make models` (make test does) first")
    rasa_port, actions_port = free_port(), free_port()
    token = token or "test-token-" + os.urandom(4).hex()
    actions_token = "test-actions-" + os.urandom(8).hex()
    env = {**os.environ, "ACTION_SERVER_URL": f"http://127.0.0.1:{actions_port}/webhook", "ACTIONS_TOKEN": actions_token,
           "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", "HF_HUB_OFFLINE": "1",
           "RASA_TELEMETRY_ENABLED": "false", "SQLALCHEMY_SILENCE_UBER_WARNING": "1", **(extra_env or {})}
    if "REDIS_URL" not in (extra_env or {}):
        env.pop("REDIS_URL", None)
    logs = {name: tmp / f"{name}.log" for name in ("actions", "rasa")}
    processes = []
    try:
        processes.append(start_logged(
            [str(ROOT / ".venv/app/bin/python"), "-m", "actions.server", "--actions", "actions", "--port", str(actions_port)],
            logs["actions"], env, ROOT))
        processes.append(start_logged(
            [str(ROOT / ".venv/rasa/bin/rasa"), "run", "--model", str(MODEL), "--interface", "127.0.0.1",
             "--port", str(rasa_port),
             "--enable-api", "--auth-token", token, "--endpoints", "endpoints.yml", "--credentials", "credentials.yml"],
            logs["rasa"], env, ROOT))
        wait_until_up(f"http://127.0.0.1:{actions_port}/health", processes[0], TIMEOUT * 2, logs["actions"])
        wait_until_up(f"http://127.0.0.1:{rasa_port}/", processes[1], TIMEOUT * 2, logs["rasa"])
        yield Assistant(f"http://127.0.0.1:{rasa_port}", f"http://127.0.0.1:{actions_port}", token, logs["rasa"],
                        actions_token)
    finally:
        stop(processes)


@dataclass
class Prosody:
    """A private Prosody on a free loopback port (scripts/prosody.py), its accounts registered."""

    config: prosody.ProsodyConfig
    process: subprocess.Popen[bytes]

    @property
    def server(self) -> tuple[str, int]:
        return "127.0.0.1", self.config.port

    def jid(self, user: str) -> str:
        return f"{user}@{self.config.domain}"

    def register(self, user: str, password: str) -> str:
        prosody.register(self.config, user, password)
        return self.jid(user)

    def stop(self) -> None:
        stop([self.process])

    def restart(self) -> None:
        """Stop and start again on the same port with the same accounts (an outage)."""
        self.stop()
        self.process = prosody.start(self.config)


@contextmanager
def running_prosody(tmp: Path, accounts: dict[str, str]) -> Iterator[Prosody]:
    """Prosody with ``accounts`` (user -> password) on ``localhost``, stopped on exit; fails clearly when Prosody is
    not installed."""
    config = prosody.configure(tmp / "prosody", free_port())
    for user, password in accounts.items():
        prosody.register(config, user, password)
    server = Prosody(config, prosody.start(config))
    try:
        yield server
    finally:
        server.stop()
