"""Rasa reply throughput and latency, the product beside stock ``rasa init`` in the same run: both (and the
product's production profile) up at once, their loads alternating round by round so that drift in the
machine's other load falls on all alike; then one long conversation each. Targets: at least 2x stock's
throughput, and turn 300 within 1.25x of turn 10."""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path

from scripts.benchmarks.assistants import (
    NEW_CONVERSATION_EVERY,
    PRODUCT_MESSAGES,
    STOCK_MESSAGES,
    Assistant,
    product,
    stock,
)
from scripts.benchmarks.base import Benchmark, Flags, Json, TargetRow
from scripts.benchmarks.report import line_chart, ratio, say, table
from scripts.benchmarks.stats import percentile

TARGET_THROUGHPUT_RATIO = 2.0
TARGET_LONG_RATIO = 1.25
LOADS = (8, 20)  # concurrent conversations: throughput at 8, latency at 20
EARLY = 20  # turns 1-20 are "turn 10"
LABELS = {"product": "product, embedded", "production": "product, production", "stock": "stock Rasa"}
CHART = "bench_long_conversation.png"


def add_arguments(flags: Flags) -> None:
    flags.add_argument("--seconds", type=float, default=10.0, help="duration of each load in each round")
    flags.add_argument("--rounds", type=int, default=3, help="rounds of interleaved stock and product loads")
    flags.add_argument("--turns", type=int, default=300, help="length of the long conversation")
    flags.add_argument("--no-production", action="store_true",
                       help="leave out the production profile (Redis stores, one Rasa worker per core)")


def pooled(clients: int, runs: list[Json]) -> Json:
    """Figures of several runs of one load: replies/s over their wall time, latency percentiles, CPU per reply."""
    latencies = [1000 * x for run in runs for x in run["latencies"]]
    wall, cpu = sum(run["wall"] for run in runs), sum(run["cpu"] for run in runs)
    return {"clients": clients, "replies": len(latencies), "replies_per_s": round(len(latencies) / wall, 1),
            "rounds_replies_per_s": [round(len(run["latencies"]) / run["wall"], 1) for run in runs],
            "p50_ms": round(percentile(latencies, 50), 1), "p95_ms": round(percentile(latencies, 95), 1),
            "server_cpu_ms_per_reply": round(1000 * cpu / len(latencies), 1)}


def long_conversation(latencies: list[float], turns: int) -> Json:
    """Median latency of turns 1-20 against turns ``turns - 9`` to ``turns + 10``."""
    early = statistics.median(latencies[:EARLY])
    late = statistics.median(latencies[turns - 10:turns + 10])
    return {"turn_10_ms": round(1000 * early, 1), "late_ms": round(1000 * late, 1), "ratio": round(late / early, 2),
            "latencies_ms": [round(1000 * x, 2) for x in latencies]}


def run(args: argparse.Namespace) -> Json:
    logs = args.output.run_dir("replies")
    assistants: list[Assistant] = []
    try:
        assistants.append(stock(logs))
        assistants.append(product(logs))
        if not args.no_production:
            assistants.append(product(logs, production=True))
        runs: dict[tuple[str, int], list[Json]] = {}
        for number in range(args.rounds):
            for clients in LOADS:
                for assistant in assistants if number % 2 == 0 else assistants[::-1]:
                    load = assistant.load(clients, args.seconds, f"{clients}-{number}")
                    runs.setdefault((assistant.name, clients), []).append(load)
                    say(f"{assistant.name}, {clients} clients, round {number + 1}: "
                        f"{len(load['latencies']) / load['wall']:.1f} replies/s")
        result: Json = {"seconds": args.seconds, "rounds": args.rounds, "turns": args.turns,
                        "production_workers": os.cpu_count() or 2, "assistants": {},
                        "messages": {"product": PRODUCT_MESSAGES, "stock": STOCK_MESSAGES}}
        for assistant in assistants:
            result["assistants"][assistant.name] = {
                "throughput": pooled(LOADS[0], runs[(assistant.name, LOADS[0])]),
                "latency_20": pooled(LOADS[1], runs[(assistant.name, LOADS[1])]),
                "long": long_conversation(assistant.conversation(args.turns + 10), args.turns)}
            say(f"{assistant.name}: {result['assistants'][assistant.name]['throughput']}, long conversation "
                f"ratio {result['assistants'][assistant.name]['long']['ratio']}")
        return result
    finally:
        for assistant in assistants:
            assistant.stop()


def rows(result: Json) -> list[TargetRow]:
    measured = result["assistants"]
    stock_ = measured["stock"]
    found = []
    for name in ("product", "production"):
        if name in measured:
            mine = measured[name]["throughput"]["replies_per_s"]
            base = stock_["throughput"]["replies_per_s"]
            found.append(TargetRow(f"throughput, {LOADS[0]} concurrent conversations, {LABELS[name]}",
                                   f"{mine} replies/s", f"{base} replies/s (stock Rasa)", ratio(mine, base, 2),
                                   f">= {TARGET_THROUGHPUT_RATIO:g}x stock", mine / base >= TARGET_THROUGHPUT_RATIO))
    for name in ("product", "production"):
        if name in measured:
            mine, base = measured[name]["long"]["ratio"], stock_["long"]["ratio"]
            found.append(TargetRow(f"turn {result['turns']} / turn 10 of one conversation, {LABELS[name]}", f"{mine}",
                                   f"{base} (stock Rasa)", "", f"<= {TARGET_LONG_RATIO:g}", mine <= TARGET_LONG_RATIO))
    return found


def table_rows(result: Json, names: list[str]) -> list[list[object]]:
    """The measures, one column per assistant, and the product's ratios to stock (embedded / production)."""
    measured, turns = result["assistants"], result["turns"]

    def row(label: str, key: str, field: str, with_ratio: bool = True) -> list[object]:
        ratios = " / ".join(f"{measured[n][key][field] / measured['stock'][key][field]:.2f}"
                            for n in names if n != "stock")
        return [label, *(measured[n][key][field] for n in names), ratios if with_ratio else ""]

    return [row(f"throughput, {LOADS[0]} concurrent conversations (replies/s)", "throughput", "replies_per_s"),
            ["the same, round by round (replies/s)",
             *(", ".join(str(x) for x in measured[n]["throughput"]["rounds_replies_per_s"]) for n in names), ""],
            row("servers' CPU time per reply at that load (ms)", "throughput", "server_cpu_ms_per_reply"),
            row(f"p50 latency, {LOADS[1]} concurrent conversations (ms)", "latency_20", "p50_ms"),
            row(f"p95 latency, {LOADS[1]} concurrent conversations (ms)", "latency_20", "p95_ms"),
            row(f"median latency, turns 1-{EARLY} of one conversation (ms)", "long", "turn_10_ms", False),
            row(f"median latency, turns {turns - 9}-{turns + 10} (ms)", "long", "late_ms", False),
            row(f"turn {turns} / turn 10", "long", "ratio", False)]


def lines(result: Json) -> list[str]:
    r, measured = result, result["assistants"]
    names = [n for n in ("product", "production", "stock") if n in measured]
    production = "production" in measured
    rounds = f"{r['rounds']} round{'s' * (r['rounds'] != 1)} of {r['seconds']:g} s each"
    return [f"The stock `rasa init` assistant and the product run at the same time on the same machine; after a "
            f"warm-up their loads alternate, {rounds}; figures pool the rounds. Clients are threads on the same "
            f"machine (loopback), each conversation restarting every {NEW_CONVERSATION_EVERY} turns. CPU per reply is the servers' own user and system time (Rasa, and for "
            f"the product the action server too) over the replies of the {LOADS[0]}-conversation load. The product "
            f"is sent knowledge questions (\"{r['messages']['product'][0]}\"...), the stock assistant mood-bot small "
            f"talk (\"{r['messages']['stock'][1]}\"...).", "",
            "*Embedded*: `make run`'s default, in-memory tracker and lock stores, one Rasa process."
            + (f" *Production*: Redis tracker and lock stores, `SANIC_WORKERS={r['production_workers']}`."
               if production else "")
            + " *Stock*: `rasa init`'s configuration, one Rasa process.", "",
            *table(["measure", *(LABELS[n] for n in names),
                    "product / stock" + (" (embedded / production)" if production else "")],
                   table_rows(result, names)), "",
            f"![latency over a long conversation](img/{CHART})", ""]


def chart(result: Json, img: Path) -> None:
    """Reply latency turn by turn over the long conversation (running median of 10)."""
    series = []
    for name in ("product", "production", "stock"):
        if name in result["assistants"]:
            lat = result["assistants"][name]["long"]["latencies_ms"]
            smooth = [statistics.median(lat[max(0, i - 10):i + 1]) for i in range(len(lat))]
            series.append(([float(x) for x in range(1, len(lat) + 1)], smooth, LABELS[name]))
    line_chart(img / CHART, series, "turn of one conversation", "reply latency, ms (running median of 10)",
               "Latency as a conversation grows")


BENCHMARK = Benchmark("replies", run, lines, add_arguments=add_arguments, rows=rows, chart=chart)
