"""Figures of running processes, read from Linux's ``/proc``, and this process's open-file limit."""

from __future__ import annotations

import os
import platform
import resource
from collections.abc import Iterable
from pathlib import Path


def _stat_fields(pid: int) -> list[str]:
    """The fields of ``/proc/<pid>/stat`` after the command name (which may hold spaces and parentheses)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (a server's worker processes are its children)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(_stat_fields(int(stat.parent.name))[1])
        except (OSError, IndexError, ValueError):
            continue  # the process ended while we read
        children.setdefault(parent, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def cpu_seconds(pids: Iterable[int]) -> float:
    """User plus system CPU time used so far by ``pids``; a process that has ended counts nothing."""
    ticks = 0
    for pid in pids:
        try:
            fields = _stat_fields(pid)
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """The resident set size (``VmRSS``) of ``pid`` in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def pss_mb(pid: int) -> float:
    """The proportional set size of ``pid`` in MB: its private memory plus its share of pages it shares with
    other processes, so that the figures of several processes (PostgreSQL's backends, Rasa's workers) add up."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no Pss for process {pid}")


def load_average() -> float:
    """The machine's load average over the last five minutes."""
    return os.getloadavg()[1]


def machine() -> str:
    """The machine's architecture and core count, e.g. ``x86_64, 2 cores``."""
    return f"{platform.machine()}, {os.cpu_count()} cores"


def raise_file_limit(needed: int) -> int:
    """Raise this process's open-file limit towards ``needed`` (up to the hard limit); the limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard == resource.RLIM_INFINITY else min(hard, max(soft, needed))
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return wanted
