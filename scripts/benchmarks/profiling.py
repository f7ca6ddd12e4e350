"""Where a server's time goes: py-spy sampling a running server, and a summary of what it recorded."""

from __future__ import annotations

import re
import signal
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

from scripts.benchmarks.base import ROOT, Json

PY_SPY = ROOT / ".venv" / "app" / "bin" / "py-spy"
RATE = 200  # samples per second
FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")
LOOP_C = "Runner.run (asyncio/runners.py)"  # with uvloop, time in the C event loop (I/O, epoll) lands here


def require_py_spy() -> None:
    """Fail before any load starts (which would wait on py-spy) when it is missing."""
    if not PY_SPY.exists():
        raise RuntimeError(f"{PY_SPY} is missing: install requirements/app.in (make bench does), "
                           "or pass --profile-seconds 0")


def py_spy(pid: int, out: Path, seconds: float | None = None) -> subprocess.Popen[bytes]:
    """Sample the thread holding the GIL (where the server's Python CPU goes), for ``seconds`` or until
    :func:`stop_spy`; ``--nonblocking``: the server is not paused to be read."""
    duration = ["--duration", str(max(1, int(seconds)))] if seconds else []
    return subprocess.Popen([str(PY_SPY), "record", "--pid", str(pid), *duration, "--rate", str(RATE), "--gil",
                             "--nonblocking", "--format", "raw", "--output", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def stop_spy(spy: subprocess.Popen[bytes]) -> None:
    if spy.poll() is None:
        spy.send_signal(signal.SIGINT)  # py-spy writes what it has and exits
    spy.wait(timeout=120)


def top_costs(raw: Path, top: int = 10) -> Json:
    """Summarise py-spy's collapsed stacks (share of samples): self time by package and by function (the leaf
    frame), and inclusive time of the service's own functions."""
    if not raw.exists():
        return {"error": "py-spy wrote nothing"}
    own, package, service, total = Counter[str](), Counter[str](), Counter[str](), 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        names = []
        for text in stack.split(";"):
            match = FRAME.match(text)
            names.append((match["func"], match["file"]) if match else (text, ""))
        func, file = names[-1]
        leaf = f"{func} ({file})"
        own["event loop, C (uvloop: socket I/O, epoll)" if leaf == LOOP_C else leaf] += count
        package["event loop, C (uvloop)" if leaf == LOOP_C else area(file)] += count
        for name in {f"{func} ({file})" for func, file in names
                     if file.startswith("handoff/") and file != "handoff/__main__.py"}:
            service[name] += count

    def share(counter: Counter[str]) -> list[list[Any]]:
        return [[name, round(100 * n / max(total, 1), 1)] for name, n in counter.most_common(top)]

    return {"samples": total, "self": share(own), "self_by_area": share(package), "inclusive_service": share(service)}


def area(file: str) -> str:
    """The package a frame's file belongs to (``handoff/adapters``, ``sqlalchemy``, ``asyncio``...)."""
    parts = file.split("/")
    if parts[0] == "handoff" and len(parts) > 1:
        return "handoff/" + parts[1].removesuffix(".py")
    return parts[0].removesuffix(".py") or "?"


def profile_lines(title: str, profile: Json) -> list[str]:
    """A py-spy summary as three bullet lines (shares of the samples of the thread holding the GIL)."""
    return [f"{title} (py-spy `--gil --nonblocking`, {profile['samples']} samples at {RATE} Hz of the thread "
            "holding the GIL; % of samples):", "",
            "- own time by package: " + ", ".join(f"{n} {p}%" for n, p in profile["self_by_area"][:8]),
            "- service functions (inclusive): " + ", ".join(f"`{n}` {p}%" for n, p in profile["inclusive_service"][:8]),
            "- hottest functions (own time): " + ", ".join(f"`{n}` {p}%" for n, p in profile["self"][:6]), ""]
