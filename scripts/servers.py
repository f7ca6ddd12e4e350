"""Start, wait for and stop server processes: shared by run.py, bench.py and the end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

import requests


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_logged(command: list[str], log: Path, env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    """Start ``command`` in its own process group, its output going to ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def wait_until_up(url: str, process: subprocess.Popen[bytes] | subprocess.Popen[str], timeout: float,
                  log: Path | None = None) -> None:
    """Return once ``url`` answers; raise RuntimeError (with the log's tail) if the process dies or time runs out."""
    def tail() -> str:
        return "; its log:\n" + log.read_text()[-4000:] if log else ""

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}{tail()}")
        try:
            requests.get(url, timeout=2)
            return
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer in time{tail()}")


def stop(processes: Iterable[subprocess.Popen[bytes] | subprocess.Popen[str]]) -> None:
    """SIGTERM each process group, then SIGKILL whatever is still there after 20 s."""
    processes = list(processes)
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
