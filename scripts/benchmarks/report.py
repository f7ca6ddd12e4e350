"""Where a run's output goes, and how it is written: JSON reports, Markdown sections and tables, charts."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts.benchmarks.base import ROOT, Json, TargetRow

DOC_HEAD = ["# Benchmarks", "", "The product beside same-run baselines on this machine; each section says",
            "how and when it was measured.", ""]
COMMANDS = [
    "## Commands", "", "```",
    "make bench                                                      # every benchmark; rewrites this file",
    'make bench HANDOFF_BENCH_ARGS="--seconds 5 --connections 2000"  # the same with shorter handoff runs',
    ".venv/app/bin/python scripts/bench.py --only replies            # one benchmark: its section alone",
    ".venv/app/bin/python scripts/bench_handoff.py --only relay      # (routing, queue_update, escalation, relay, idle)",
    ".venv/app/bin/python scripts/bench_handoff.py --out /tmp/bench  # everything under /tmp/bench; docs/ untouched",
    ".venv/app/bin/python scripts/bench_handoff.py --report-only     # the section again from the last JSON report",
    ".venv/app/bin/python scripts/bench_handoff.py --help            # every flag",
    '.venv/app/bin/python scripts/bench_reports.py                   # the reports on PostgreSQL: section "Reports"',
    ".venv/app/bin/python scripts/bench_reports.py --tickets 10000 --messages 100000 --doc -   # smaller, printed only",
    '.venv/app/bin/python scripts/bench_simulation.py                # the routing simulator: "Routing simulator"',
    "```", ""]


@dataclass(frozen=True)
class Output:
    """Where a run writes: its JSON reports, logs and server folders (``build``), the Markdown document
    (``doc``) and the charts it links (``img``, next to the document)."""

    build: Path
    doc: Path

    @property
    def img(self) -> Path:
        return self.doc.parent / "img"

    @classmethod
    def default(cls) -> Output:
        """``build/bench`` and docs/benchmarks.md: what ``make bench`` rewrites."""
        return cls(ROOT / "build" / "bench", ROOT / "docs" / "benchmarks.md")

    @classmethod
    def scratch(cls, folder: Path) -> Output:
        """Everything under ``folder``, the document a copy of docs/benchmarks.md: docs/ stays untouched."""
        folder.mkdir(parents=True, exist_ok=True)
        doc = folder / "benchmarks.md"
        if not doc.exists() and cls.default().doc.exists():
            shutil.copyfile(cls.default().doc, doc)
        return cls(folder, doc)

    def run_dir(self, name: str) -> Path:
        """A fresh folder for one server's files (database, logs), under ``runs/``."""
        (self.build / "runs").mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.build / "runs"))


def say(text: str) -> None:
    """Progress, on the terminal."""
    print(f"== {text}", flush=True)


def read_json(path: Path) -> Json:
    data: Json = json.loads(path.read_text())
    return data


def write_json(path: Path, data: Json) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


# ---- Markdown ---------------------------------------------------------------------------------------------

def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """A Markdown table."""
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows)]


def verdict(met: bool | None) -> str:
    return "n/a" if met is None else ("**yes**" if met else "**no**")


def ratio(value: float | None, baseline: float | None, digits: int = 1) -> str:
    """``value / baseline`` as ``2.1x``; ``n/a`` without both."""
    return f"{value / baseline:.{digits}f}x" if value and baseline else "n/a"


def target_table(rows: Sequence[TargetRow]) -> list[str]:
    """The table of targets at the head of a section."""
    return table(["measure", "result", "baseline", "ratio", "target", "met?"],
                 [[*row[:5], verdict(row.met)] for row in rows])


def write_section(doc: Path, title: str, lines: list[str]) -> None:
    """Replace the section ``title`` (a ``## `` heading, up to the next one) of ``doc``, or add it before
    ``## Commands``; the commands section is rewritten too. Other sections stay as they are."""
    text = doc.read_text() if doc.exists() else "\n".join(DOC_HEAD)
    text = _put_section(text, "## Commands", "\n".join(COMMANDS))
    text = _put_section(text, title, "\n".join(lines), before="## Commands")
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text.rstrip() + "\n")


def _put_section(text: str, title: str, block: str, before: str | None = None) -> str:
    block = block.rstrip() + "\n\n"
    pattern = re.compile(rf"^{re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        return pattern.sub(lambda _: block, text, count=1)
    if before is not None and f"\n{before}\n" in text:
        return text.replace(f"\n{before}\n", f"\n{block}{before}\n", 1)
    return text.rstrip() + "\n\n" + block


# ---- charts -----------------------------------------------------------------------------------------------

Series = tuple[Sequence[float], Sequence[float], str]


def line_chart(path: Path, series: Sequence[Series], xlabel: str, ylabel: str, title: str,
               log_x: bool = False, log_y: bool = False) -> None:
    """One line per series (xs, ys, label), saved as a PNG."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for xs, ys, label in series:
        ax.plot(xs, ys, marker="o" if log_x else None, label=label)
    if log_x:
        ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    save(fig, path, dpi=120)


def pyplot() -> Any:
    """matplotlib's pyplot on the file-only backend (imported when a chart is drawn, not before)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig: Any, path: Path, dpi: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
