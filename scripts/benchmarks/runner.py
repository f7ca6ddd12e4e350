"""The one command-line driver of both suites: flags, running the chosen benchmarks, the report.

A run keeps the results of the benchmarks it did not run from the suite's last JSON report, records each
benchmark's own run (command, date, machine, load average), draws the charts and rewrites the suite's
sections of the document that have a benchmark run now (all of them with ``--report-only``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

from scripts.benchmarks import procfs
from scripts.benchmarks.base import Benchmark, Json, Section, Suite
from scripts.benchmarks.report import Output, read_json, say, target_table, write_json, write_section


def parse(suite: Suite, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=suite.script, description=suite.description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    names = [b.name for b in suite.benchmarks]
    parser.add_argument("--only", default=",".join(names),
                        help=f"benchmarks to run, comma-separated ({', '.join(names)}); the others' results are "
                             "kept from the last report")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="write the JSON report, logs, charts and a copy of docs/benchmarks.md under DIR, "
                             "leaving build/bench and docs/ alone (for short runs)")
    parser.add_argument("--report-only", action="store_true",
                        help="measure nothing: rewrite the document and charts from the last JSON report")
    suite.add_arguments(parser)
    for benchmark in suite.benchmarks:
        benchmark.add_arguments(parser.add_argument_group(benchmark.name))
    args = parser.parse_args(argv)
    unknown = set(args.only.split(",")) - set(names) - {""}
    if unknown:
        parser.error(f"--only: no benchmark {', '.join(sorted(unknown))} (there are: {', '.join(names)})")
    return args


def measure(benchmark: Benchmark, args: argparse.Namespace, command: str) -> tuple[Json, Json]:
    """Run one benchmark: its result (or its error) and the record of its run."""
    started, load = time.monotonic(), procfs.load_average()
    try:
        result = benchmark.run(args)
    except Exception as exc:  # one broken benchmark must not lose the others: recorded, reported, run goes on
        say(f"{benchmark.name}: FAILED: {type(exc).__name__}: {exc}")
        result = {"error": f"{type(exc).__name__}: {exc}"}
    run = {"command": command, "make": bool(os.environ.get("MAKELEVEL")),  # make sets MAKELEVEL for its commands
           "date": time.strftime("%Y-%m-%d"), "machine": procfs.machine(),
           "load_average": [round(load, 2), round(procfs.load_average(), 2)],
           "seconds": round(time.monotonic() - started)}
    return result, run


def section_lines(section: Section, report: Json) -> list[str]:
    """A section from the report: how it was measured, the table of targets, each benchmark's part."""
    present = [b for b in section.benchmarks if b.name in report["results"]]
    runs: dict[tuple[str, bool, str, str], list[Json]] = {}
    for b in present:
        run = report["runs"][b.name]
        key = (run["command"], run["make"], run["date"], run["machine"])
        runs.setdefault(key, []).append({"name": b.name, **run})
    lines = [f"## {section.title}", ""]
    for (command, make, date, machine), group in runs.items():
        which = f"{', '.join(g['name'] for g in group)}: measured" if len(runs) > 1 else "Measured"
        by = f"`make bench` (`{command}`)" if make else f"`{command}`"
        lines.append(f"- {which} by {by} on {machine}, {date}; load average (5 min) "
                     f"{group[0]['load_average'][0]:.1f} at the start, {group[-1]['load_average'][1]:.1f} at the end.")
    lines += ["", *section.intro, *([""] if section.intro else [])]
    ok = [b for b in present if "error" not in report["results"][b.name]]
    rows = [row for b in ok for row in b.rows(report["results"][b.name])]
    lines += [*target_table(rows), ""] if rows else []
    for b in present:
        result = report["results"][b.name]
        lines += ([f"**{b.name}** failed in this run: {result['error']}", ""] if "error" in result
                  else b.lines(result))
    return lines


def main(suite: Suite, argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse(suite, argv)
    output = Output.scratch(args.out) if args.out else Output.default()
    args.output = output
    path = output.build / f"{suite.name}.json"
    chosen = [b for b in suite.benchmarks if b.name in args.only.split(",")]
    report: Json = {"results": {}, "runs": {}}
    if (args.report_only or len(chosen) < len(suite.benchmarks)) and path.exists():
        report = read_json(path)
    if args.report_only:
        chosen = [b for b in suite.benchmarks if b.name in report["results"]]
    else:
        shutil.rmtree(output.build / "runs", ignore_errors=True)
        command = " ".join([suite.script, *argv])
        for benchmark in chosen:
            report["results"][benchmark.name], report["runs"][benchmark.name] = measure(benchmark, args, command)
            write_json(path, report)
    for benchmark in chosen:
        result = report["results"][benchmark.name]
        if benchmark.chart is not None and "error" not in result:
            benchmark.chart(result, output.img)
    for section in suite.sections:
        if any(b in chosen for b in section.benchmarks):
            missing = [b.name for b in section.benchmarks if b.name not in report["results"]]
            if missing:
                say(f"section {section.title!r} written without {', '.join(missing)}: no results in {path}")
            write_section(output.doc, f"## {section.title}", section_lines(section, report))
    say(f"{path} and {output.doc} written")
    return 0
