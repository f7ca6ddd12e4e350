"""Start, wait for and stop server processes: shared by run.py, bench.py and the end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable
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


class Stopped(RuntimeError):
    """Waiting for a server was given up because its caller is asked to stop."""


def wait_until_up(url: str, process: subprocess.Popen[bytes] | subprocess.Popen[str], timeout: float,
                  log: Path | None = None, stop: Callable[[], bool] | None = None) -> None:
    """Return once ``url`` answers; raise RuntimeError (with the log's tail) if the process dies or time runs out,
    :class:`Stopped` as soon as ``stop()`` is true."""
    def tail() -> str:
        return "; its log:\n" + log.read_text()[-4000:] if log else ""

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stop is not None and stop():
            raise Stopped("asked to stop")
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}{tail()}")
        try:
            requests.get(url, timeout=2)
            return
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer in time{tail()}")


STOP_GRACE = 20.0  # seconds the servers have to stop on SIGTERM before they are killed


def stop(processes: Iterable[subprocess.Popen[bytes] | subprocess.Popen[str]], grace: float = STOP_GRACE) -> None:
    """SIGTERM each process group, then SIGKILL every group still there ``grace`` seconds later (one deadline
    for all, so stopping takes at most ``grace`` seconds and a moment, whatever the number of servers)."""
    processes = list(processes)
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        with contextlib.suppress(ProcessLookupError):  # the group's other processes too (Sanic workers)
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
