"""scripts/benchmarks/runner.py with a suite of two small benchmarks, written under a scratch folder."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from scripts.benchmarks.base import Benchmark, Flags, Json, Section, Suite, TargetRow
from scripts.benchmarks.runner import main


def add_arguments(flags: Flags) -> None:
    flags.add_argument("--size", type=int, default=3)


def run_counting(args: argparse.Namespace) -> Json:
    return {"size": args.size}


def run_failing(args: argparse.Namespace) -> Json:
    raise RuntimeError("no server")


def counting_lines(result: Json) -> list[str]:
    return [f"counted to {result['size']}", ""]


def counting_rows(result: Json) -> list[TargetRow]:
    return [TargetRow("count", str(result["size"]), "1", "", "> 2", result["size"] > 2)]


COUNTING = Benchmark("counting", run_counting, counting_lines, add_arguments, counting_rows)
FAILING = Benchmark("failing", run_failing, counting_lines)
SUITE = Suite("test", "scripts/test_bench.py", "a test suite", (Section("Test", (COUNTING, FAILING), ("intro",)),))


def test_runner_reports_results_and_failures(tmp_path: Path) -> None:
    assert main(SUITE, ["--size", "4", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "test.json").read_text())
    assert report["results"] == {"counting": {"size": 4}, "failing": {"error": "RuntimeError: no server"}}
    assert report["runs"]["counting"]["command"] == f"scripts/test_bench.py --size 4 --out {tmp_path}"
    text = (tmp_path / "benchmarks.md").read_text()
    section = text[text.index("## Test"):text.index("## Commands")]
    assert "| count | 4 | 1 |  | > 2 | **yes** |" in section
    assert "counted to 4" in section and "**failing** failed in this run: RuntimeError: no server" in section
    assert section.index("intro") < section.index("| measure |") < section.index("counted to 4")


def test_runner_keeps_the_results_it_did_not_measure(tmp_path: Path) -> None:
    main(SUITE, ["--size", "4", "--out", str(tmp_path)])
    main(SUITE, ["--only", "failing", "--out", str(tmp_path)])
    report = json.loads((tmp_path / "test.json").read_text())
    assert report["results"]["counting"] == {"size": 4}
    assert "counted to 4" in (tmp_path / "benchmarks.md").read_text()
