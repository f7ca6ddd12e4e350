"""Start the assistant: the action server and the Rasa server, until Ctrl-C.

``make run`` calls this after building what changed. It starts both servers,
prefixes their logs, waits until both answer, prints how to talk to the
assistant, and on Ctrl-C (or SIGTERM) stops both and exits.

Environment: ``RASA_PORT`` (5005), ``ACTIONS_PORT`` (5055), ``RASA_TOKEN``
(the token protecting Rasa's HTTP API; a random one is made for this run if
unset), ``REDIS_URL`` (optional: Redis tracker and lock stores).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from scripts.servers import stop, wait_until_up  # noqa: E402

MODEL = ROOT / "models" / "rasa" / "assistant.tar.gz"


def stream(name: str, process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        sys.stdout.write(f"[{name}] {line}")
        sys.stdout.flush()


def start(name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    threading.Thread(target=stream, args=(name, process), daemon=True).start()
    return process


def main() -> int:
    rasa_port = os.environ.get("RASA_PORT", "5005")
    actions_port = os.environ.get("ACTIONS_PORT", "5055")
    token = os.environ.get("RASA_TOKEN") or secrets.token_urlsafe(24)
    env = {**os.environ, "ACTION_SERVER_URL": f"http://localhost:{actions_port}/webhook",
           "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", "HF_HUB_OFFLINE": "1"}
    venv = ROOT / ".venv"
    actions = start("actions", [str(venv / "app/bin/python"), "-m", "rasa_sdk", "--actions", "actions",
                                "--port", actions_port], env)
    rasa = start("rasa", [str(venv / "rasa/bin/rasa"), "run", "--model", str(MODEL), "--port", rasa_port,
                          "--enable-api", "--auth-token", token, "--endpoints", "endpoints.yml",
                          "--credentials", "credentials.yml"], env)
    processes = [actions, rasa]
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        try:
            wait_until_up(f"http://localhost:{actions_port}/health", actions, 120)
            wait_until_up(f"http://localhost:{rasa_port}/", rasa, 300)
        except RuntimeError as exc:
            print(f"error: a server did not start ({exc}); see its log above.", file=sys.stderr)
            return 1
        print(f"""
The Brightwood assistant is running.
  Chat in this terminal:   make chat
  Or send a message:       curl -s localhost:{rasa_port}/webhooks/rest/webhook \\
                             -d '{{"sender": "me", "message": "where is my order 12345"}}'
  Rasa HTTP API token:     {'(from RASA_TOKEN)' if os.environ.get('RASA_TOKEN') else token}
Press Ctrl-C to stop.
""", flush=True)
        while not stopping.is_set() and all(p.poll() is None for p in processes):
            stopping.wait(0.5)
        if not stopping.is_set():
            print("error: a server stopped unexpectedly; stopping the other.", file=sys.stderr)
            return 1
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        print("stopping...", flush=True)
        stop(processes)


if __name__ == "__main__":
    raise SystemExit(main())
