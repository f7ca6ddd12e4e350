"""scripts/run.py (what ``make run`` runs) stops every server it started when it gets SIGTERM.

``docker stop``, systemd and supervisors stop a service with SIGTERM. The kernel delivers a signal sent to a
process to any of its threads; run.py has a thread per server log. Before the fix, when it reached one of them,
the handler ran once the main thread was back inside ``Event.wait()`` holding the Event's lock, and called
``Event.set()``, which waited for that lock: run.py never exited and its three servers kept running. The test
sends SIGTERM to a log thread, so that case happens every time.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from scripts.servers import free_port, start_logged, stop
from tests.conftest import ROOT, TIMEOUT

STOPPED_WITHIN = 30.0  # seconds from SIGTERM until run.py and every server it started are gone (README)


def processes() -> Iterator[tuple[int, str, int, int]]:
    """``(pid, state, parent pid, process group)`` of every process, from /proc."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, ppid, pgid = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue  # gone meanwhile
        yield int(stat.parent.name), state, int(ppid), int(pgid)


def groups_alive(groups: set[int]) -> set[int]:
    """The pids of live (not zombie) processes in any of ``groups``."""
    return {pid for pid, state, _, pgid in processes() if state != "Z" and pgid in groups}


def children(parent: int) -> set[int]:
    return {pid for pid, _, ppid, _ in processes() if ppid == parent}


def sigterm_to_a_thread_other_than_main(pid: int) -> None:
    threads = sorted(int(task.name) for task in Path(f"/proc/{pid}/task").iterdir())
    others = [tid for tid in threads if tid != pid]
    assert others, "run.py has no log threads"
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.tgkill(pid, others[0], signal.SIGTERM) != 0:
        raise OSError(ctypes.get_errno(), "tgkill failed")


def test_sigterm_stops_run_py_and_every_server(tmp_path: Path) -> None:
    ports = {"HANDOFF_PORT": free_port(), "RASA_PORT": free_port(), "ACTIONS_PORT": free_port(),
             "HANDOFF_MAIL_PORT": free_port(), "HANDOFF_MAIL_CATCHER_PORT": free_port(), "HANDOFF_XMPP_PORT": free_port()}
    env = {**os.environ, **{key: str(port) for key, port in ports.items()},
           "DATABASE_URL": f"sqlite:///{tmp_path / 'handoff.sqlite3'}", "HANDOFF_SECRET": "test-secret-run",
           "HANDOFF_SUGGESTIONS": "false", "HANDOFF_DEMO_PASSWORD": "demo-password-1",
           "HANDOFF_DEMO": "0"}  # no month of demo history: minutes of this test for nothing it checks
    env.pop("REDIS_URL", None)
    log = tmp_path / "run.log"
    run = start_logged([sys.executable, str(ROOT / "scripts" / "run.py")], log, env, ROOT)
    servers: set[int] = set()
    try:
        deadline = time.monotonic() + TIMEOUT * 3
        while "is running." not in log.read_text():
            assert run.poll() is None, f"run.py exited with {run.returncode}:\n{log.read_text()[-4000:]}"
            assert time.monotonic() < deadline, f"run.py did not come up:\n{log.read_text()[-4000:]}"
            time.sleep(1)
        servers.update(children(run.pid))
        assert "Instant messaging (XMPP): write to support@localhost" in log.read_text()
        # actions, rasa, handoff, the local mail catcher, the local XMPP server (Prosody): each its own group
        assert len(servers) == 5, servers
        sigterm_to_a_thread_other_than_main(run.pid)
        sent = time.monotonic()
        run.wait(timeout=STOPPED_WITHIN)
        while groups_alive(servers) and time.monotonic() - sent < STOPPED_WITHIN:
            time.sleep(0.2)
        assert not groups_alive(servers), f"still running after {STOPPED_WITHIN} s: {groups_alive(servers)}"
        assert run.returncode == 0
        assert "stopping..." in log.read_text()
    except subprocess.TimeoutExpired:
        raise AssertionError(f"run.py did not exit within {STOPPED_WITHIN} s of SIGTERM:\n"
                             f"{log.read_text()[-4000:]}") from None
    finally:
        stop([run], grace=5)
        for group in servers:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)


def test_rasa_model_chooses_the_model_served() -> None:
    probe = "import scripts.run as run; print(run.MODEL)"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    default = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env={k: v for k, v in env.items()
                                                                           if k != "RASA_MODEL"},
                             capture_output=True, text=True, check=True, timeout=TIMEOUT).stdout.strip()
    assert default == str(ROOT / "models" / "rasa" / "assistant.tar.gz")
    chosen = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env={**env, "RASA_MODEL": "models/rasa/zh.tar.gz"},
                            capture_output=True, text=True, check=True, timeout=TIMEOUT).stdout.strip()
    assert chosen == "models/rasa/zh.tar.gz"
