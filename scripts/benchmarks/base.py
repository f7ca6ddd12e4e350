"""What a benchmark is, and how benchmarks are grouped into sections of docs/benchmarks.md and suites."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol

Json = dict[str, Any]
ROOT = Path(__file__).resolve().parents[2]
APP_PY = ROOT / ".venv" / "app" / "bin" / "python"


class TargetRow(NamedTuple):
    """One line of a section's table of targets: a measure beside its same-run baseline and its target."""

    measure: str
    result: str
    baseline: str
    ratio: str
    target: str
    met: bool | None  # None: not judged (a short run, or nothing to compare)


class Flags(Protocol):
    """Where a benchmark adds its command-line flags: an ``argparse`` parser or argument group."""

    def add_argument(self, *names: str, **options: Any) -> argparse.Action: ...


def no_arguments(parser: Flags) -> None:
    """For a benchmark without flags of its own."""


def no_rows(result: Json) -> list[TargetRow]:
    """For a benchmark without a target."""
    return []


@dataclass(frozen=True)
class Benchmark:
    """One benchmark, as the runner sees it.

    Attributes:
        name: its key in the suite's JSON report and in ``--only``.
        run: measures; gets the parsed flags (``args.output`` is the run's :class:`~.report.Output`) and
            returns the measurements, JSON-able. An exception is recorded as this benchmark's failure.
        lines: its part of the section in docs/benchmarks.md (how it was measured, tables), from ``run``'s
            result, possibly read back from the JSON report.
        add_arguments: adds its command-line flags.
        rows: its lines in the section's table of targets.
        chart: draws its charts from the result into the given folder (``lines`` links them as ``img/...``).
    """

    name: str
    run: Callable[[argparse.Namespace], Json]
    lines: Callable[[Json], list[str]]
    add_arguments: Callable[[Flags], None] = no_arguments
    rows: Callable[[Json], list[TargetRow]] = no_rows
    chart: Callable[[Json, Path], None] | None = None


@dataclass(frozen=True)
class Section:
    """A ``## title`` section of docs/benchmarks.md: its benchmarks' results, after ``intro``."""

    title: str
    benchmarks: tuple[Benchmark, ...]
    intro: tuple[str, ...] = ()


@dataclass(frozen=True)
class Suite:
    """The benchmarks one entry point runs.

    Attributes:
        name: the report is ``build/bench/<name>.json``.
        script: the entry point, as the report names the command.
        description: the entry point's ``--help``.
        sections: the sections of docs/benchmarks.md it owns, in order, with their benchmarks.
        add_arguments: flags shared by several of its benchmarks.
    """

    name: str
    script: str
    description: str
    sections: tuple[Section, ...]
    add_arguments: Callable[[Flags], None] = no_arguments

    @property
    def benchmarks(self) -> tuple[Benchmark, ...]:
        return tuple(b for section in self.sections for b in section.benchmarks)
