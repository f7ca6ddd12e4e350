"""actions/server.py: the action server on loopback, answering only callers with ACTIONS_TOKEN."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests

from scripts.servers import free_port, start_logged, stop, wait_until_up
from tests.conftest import ROOT, TIMEOUT
from tests.servers import listening_addresses

TOKEN = "test-actions-" + os.urandom(8).hex()


def environment(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", **extra}
    for key in ("ACTIONS_TOKEN", "ACTIONS_HOST"):
        if key not in extra:
            env.pop(key, None)
    return env


@pytest.fixture(scope="module")
def action_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("actions") / "actions.log"
    process = start_logged([sys.executable, "-m", "actions.server", "--actions", "actions", "--port", str(port)],
                           log, environment(ACTIONS_TOKEN=TOKEN), ROOT)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health", process, TIMEOUT, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop([process])


def call(sender: str) -> dict[str, object]:
    """A call of ``action_keep_order``, as Rasa makes it."""
    tracker = {"sender_id": sender, "slots": {"order_number": "23456"}, "latest_message": {}, "events": [],
               "paused": False, "followup_action": None, "active_loop": {}, "latest_action_name": "action_listen"}
    return {"next_action": "action_keep_order", "sender_id": sender, "tracker": tracker, "domain": {},
            "version": "3.6.21"}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
                                     {"Authorization": f"Bearer {TOKEN}x"}])
def test_a_call_without_the_token_is_refused(action_server: str, headers: dict[str, str]) -> None:
    refused = requests.post(f"{action_server}/webhook", json=call("c1"), headers=headers, timeout=TIMEOUT)
    assert refused.status_code == 401
    assert "keep" not in refused.text
    listing = requests.get(f"{action_server}/actions", headers=headers, timeout=TIMEOUT)
    assert listing.status_code == 401
    assert requests.post(f"{action_server}/webhook", json=call("c1"), params={"token": TOKEN},
                         timeout=TIMEOUT).status_code == 401  # only the header counts (URLs end up in logs)


def test_a_call_with_the_token_is_answered(action_server: str) -> None:
    answered = requests.post(f"{action_server}/webhook", json=call("c1"),
                             headers={"Authorization": f"Bearer {TOKEN}"}, timeout=TIMEOUT)
    assert answered.status_code == 200
    assert answered.json()["responses"][0]["response"] == "utter_cancel_kept"
    assert requests.get(f"{action_server}/health", timeout=TIMEOUT).status_code == 200  # health checks need none


def test_it_listens_on_loopback_only_by_default(action_server: str) -> None:
    port = int(action_server.rsplit(":", 1)[1])
    assert listening_addresses(port) == {"127.0.0.1"}


def test_it_does_not_start_without_a_token() -> None:
    done = subprocess.run([sys.executable, "-m", "actions.server", "--port", str(free_port())], cwd=ROOT,
                          env=environment(), capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode != 0
    assert "ACTIONS_TOKEN is not set" in done.stderr
