"""Message relay customer -> agent at several rates, in both profiles: assigned conversations, load from
:mod:`.load`; the same-run baseline is the plain ``websockets`` relay (:mod:`.baseline_server`) at the same
rates. Target: p99 under 25 ms at 2,000 messages/s, nothing lost, the schedule kept."""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scripts.benchmarks.base import Benchmark, Flags, Json, TargetRow
from scripts.benchmarks.baseline_server import baseline_server
from scripts.benchmarks.handoff_service import PROFILES, handoff_server, seed_agents
from scripts.benchmarks.load import DRAIN_SECONDS, drive
from scripts.benchmarks.procfs import cpu_seconds
from scripts.benchmarks.profiling import profile_lines, py_spy, require_py_spy, stop_spy, top_costs
from scripts.benchmarks.report import Output, pyplot, ratio, save, say, table

if TYPE_CHECKING:
    from tests.handoff.e2e.harness import HandoffServer

TARGET_P99_MS = 25.0
TARGET_RATE = 2000.0
SERVERS = ("baseline", *PROFILES)
CHART = "handoff-relay.png"
FAR_AFTER = 2**31 - 1  # a message id after every real one (the largest SQL integer): the sockets want no history


def add_arguments(flags: Flags) -> None:
    flags.add_argument("--seconds", type=float, default=20.0, help="duration of each relay load step")
    flags.add_argument("--rates", default="250,500,1000,2000", help="relay rates (messages/s), comma-separated")
    flags.add_argument("--load-processes", type=int, default=2, help="relay load-generator processes")
    flags.add_argument("--agents", type=int, default=20, help="relay: bench agents signed in")
    flags.add_argument("--per-agent", type=int, default=10, help="relay: assigned conversations per agent")


async def assigned_conversations(output: Output, server: HandoffServer, agents: int, per_agent: int) -> list[Json]:
    """Sign in ``agents`` bench agents and give each ``per_agent`` assigned conversations: the load plan.

    The server runs without the bot, so a customer's first message hands the conversation to a person."""
    from websockets.exceptions import ConnectionClosed

    from tests.handoff.e2e.harness import Agent, Customer

    names = seed_agents(output, server, agents, per_agent)
    signed = [await Agent.sign_in(server, name) for name in names]
    customers: dict[str, Customer] = {}
    refused = Counter[str]()
    gate = asyncio.Semaphore(16)

    async def escalate(n: int) -> None:
        async with gate:
            customer = await Customer.start(server, name=f"Relay {n}")
            customers[customer.conversation_id] = customer
            for attempt in range(5):  # a socket refused with 1013 (live state unavailable) is retried
                try:
                    socket = await customer.connect()
                    await customer.say(socket, "hello, is anybody there?")
                    await socket.close()
                    return
                except ConnectionClosed as exc:
                    refused[str(exc.rcvd.code if exc.rcvd else "no close frame")] += 1
                    await asyncio.sleep(0.5 * (attempt + 1))
            raise RuntimeError(f"conversation {customer.conversation_id}: the customer socket was refused 5 times")

    await asyncio.gather(*(escalate(n) for n in range(agents * per_agent)))
    plan: list[Json] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        plan = []
        for agent in signed:
            mine = (await agent.call("GET", "/api/agent/conversations")).json()["conversations"]
            plan.append({"agent": f"{server.ws_url}/ws/agent?token={agent.token}",
                         "customers": [[f"{server.ws_url}/ws/customer?conversation_id={c['conversation_id']}"
                                        f"&token={customers[c['conversation_id']].token}&after={FAR_AFTER}",
                                        c["conversation_id"]] for c in mine]})
        if sum(len(entry["customers"]) for entry in plan) == agents * per_agent:
            if refused:
                say(f"relay setup: customer sockets refused and retried (close code: count): {dict(refused)}")
            return plan
        await asyncio.sleep(0.5)
    raise RuntimeError(f"only {sum(len(e['customers']) for e in plan)} of {agents * per_agent} conversations "
                       "were assigned")


def baseline_plan(url: str, agents: int, per_agent: int) -> list[Json]:
    return [{"agent": f"{url}/agent?id=a{a}",
             "customers": [[f"{url}/customer?conv=c{a}-{c}&agent=a{a}", f"c{a}-{c}"] for c in range(per_agent)]}
            for a in range(agents)]


def wait_quiet(pid: int, limit: float = 120.0) -> float:
    """Wait until the server has worked off its backlog (under 0.15 cores for a second); seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        cpu = cpu_seconds([pid])
        time.sleep(1.0)
        if cpu_seconds([pid]) - cpu < 0.15:
            break
    return round(time.monotonic() - started, 1)


def held(row: Json) -> bool:
    """The target at this rate: p99 under 25 ms, nothing lost, at least 95% of the offered rate sent."""
    return bool(row["p99_ms"] < TARGET_P99_MS and row["lost"] == 0
                and row["achieved_rate"] >= 0.95 * row["offered_rate"])


def step(plan: list[Json], pid: int, rate: float, seconds: float, processes: int, spy_seconds: float,
         out: Path) -> tuple[Json, Json | None]:
    """One load step; with ``spy_seconds``, py-spy samples the server from the start of the load."""
    spies: list[subprocess.Popen[bytes]] = []
    if spy_seconds:
        out.unlink(missing_ok=True)
    row = drive(plan, rate, seconds, processes, pid,
                on_start=(lambda: spies.append(py_spy(pid, out, spy_seconds))) if spy_seconds else None)
    for spy in spies:
        stop_spy(spy)
    return row, top_costs(out) if spy_seconds else None


def run(args: argparse.Namespace) -> Json:
    """Each server at each rate; once a rate fails on a handoff server its higher rates are skipped, except the
    target (the baseline runs them all). On the handoff servers py-spy samples the first
    ``--profile-seconds`` of the target step."""
    rates = [float(r) for r in args.rates.split(",")]
    agents, per_agent, seconds, processes = args.agents, args.per_agent, args.seconds, args.load_processes
    if args.profile_seconds:
        require_py_spy()
    results: Json = {"rates": rates, "agents": agents, "per_agent": per_agent, "processes": processes,
                     "drain_seconds": DRAIN_SECONDS, "target_p99_ms": TARGET_P99_MS, "target_rate": TARGET_RATE,
                     "skipped": {}}
    for name in SERVERS:
        results[name], results["skipped"][name] = [], []
        context: Any = baseline_server(args.output) if name == "baseline" else handoff_server(args.output, name)
        with context as server:
            if name == "baseline":
                url, pid = server
                plan = baseline_plan(url, agents, per_agent)
            else:
                pid = server.processes[0].pid
                say(f"relay [{name}]: {agents} agents sign in, {agents * per_agent} conversations are assigned")
                plan = asyncio.run(assigned_conversations(args.output, server, agents, per_agent))
            failed = False
            for rate in rates:
                if failed and rate != TARGET_RATE and name != "baseline":
                    results["skipped"][name].append(rate)
                    continue
                waited = wait_quiet(pid)
                say(f"relay [{name}]: {rate:.0f} messages/s for {seconds:.0f} s, {processes} load processes"
                    + (f" (waited {waited} s for the backlog)" if waited > 2 else ""))
                spy = min(seconds, args.profile_seconds) if name != "baseline" and rate == TARGET_RATE else 0.0
                row, costs = step(plan, pid, rate, seconds, processes, spy,
                                  args.output.build / f"handoff-relay-{name}.pyspy.txt")
                results[name].append(row)
                if costs is not None:
                    results[f"{name}_profile"] = {"run": row, "spy_seconds": spy, **costs}
                failed = failed or not held(row)
                say(f"relay [{name}]: {json.dumps(row)}")
    return results


def at_rate(rows: list[Json], rate: float) -> Json | None:
    return next((r for r in rows if r["offered_rate"] == rate), None)


def rows(result: Json) -> list[TargetRow]:
    base = at_rate(result["baseline"], result["target_rate"])
    found = []
    for profile in PROFILES:
        row = at_rate(result.get(profile, []), result["target_rate"])
        if row:
            found.append(TargetRow(
                f"relay p99 at {row['offered_rate']:.0f} msg/s, {profile}",
                f"{row['p99_ms']:.1f} ms ({row['achieved_rate']:.0f} msg/s sent, {row['lost']} lost)",
                f"{base['p99_ms']:.1f} ms (plain websockets relay)" if base else "n/a",
                ratio(row["p99_ms"], base["p99_ms"]) if base else "n/a", f"< {result['target_p99_ms']:g} ms",
                held(row)))
    return found


def cpu_per_message(row: Json) -> str:
    """The server's CPU per message sent, in ms."""
    return f"{row['server_cpu_cores'] * 1000 / row['achieved_rate']:.2f}" if row["achieved_rate"] else "-"


def lines(result: Json) -> list[str]:
    r = result
    found = [f"**Relay.** {r['agents']} agents with {r['per_agent']} assigned conversations each "
             f"({r['agents'] * r['per_agent']} customer sockets; the handoff servers run without the bot, so each "
             f"conversation was handed to a person by its first message); {r['processes']} load-generator "
             "processes send customer messages round robin on an open-loop schedule (a fixed aggregate rate, "
             "whatever the answers) and time each from the moment its frame is handed to the socket to the agent "
             f"socket's `message` frame. *Lost* = not delivered within {r['drain_seconds']:g} s after the step. A "
             "step starts once the server has used under 0.15 cores for a second. The baseline is a plain "
             "`websockets` relay (no storage; the same frames: ack and echo to the customer, the message to the "
             "agent).", "",
             *table(["server", "offered msg/s", "sent msg/s", "p50 (ms)", "p95 (ms)", "p99 (ms)", "lost", "errors",
                     "server CPU (cores)", "server CPU per message (ms)"],
                    [[name, f"{row['offered_rate']:.0f}", f"{row['achieved_rate']:.0f}", f"{row['p50_ms']:.1f}",
                      f"{row['p95_ms']:.1f}", f"{row['p99_ms']:.1f}", row["lost"], row["errors"] + row["closed"],
                      row["server_cpu_cores"], cpu_per_message(row)]
                     for name in SERVERS for row in r.get(name, [])]), ""]
    skipped = [f"{name} at {', '.join(f'{x:.0f}' for x in rates)} msg/s"
               for name, rates in r.get("skipped", {}).items() if rates]
    if skipped:
        found += [f"Not run, after a lower rate missed the target: {'; '.join(skipped)}.", ""]
    found += [f"![relay latency](img/{CHART})", ""]
    for profile in PROFILES:
        sampled = r.get(f"{profile}_profile")
        if sampled and "self" in sampled:
            found += profile_lines(f"Where the {profile} server's time goes over the first "
                                   f"{sampled['spy_seconds']:.0f} s of the {r['target_rate']:.0f} msg/s step", sampled)
    return found


def chart(result: Json, img: Path) -> None:
    """Latency percentiles at the target rate, and p99 by offered rate, for each server."""
    rate = result["target_rate"]
    names = [n for n in SERVERS if at_rate(result.get(n, []), rate)]
    if not names:
        return
    plt = pyplot()
    fig, (bars, lines_ax) = plt.subplots(1, 2, figsize=(11, 4.6))
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        row = at_rate(result[name], rate)
        assert row is not None
        bars.bar([x + i * width for x in range(3)], [row["p50_ms"], row["p95_ms"], row["p99_ms"]], width, label=name)
        lines_ax.plot([r["offered_rate"] for r in result[name]], [r["p99_ms"] for r in result[name]], marker="o",
                      label=name)
    target = result["target_p99_ms"]
    bars.axhline(target, color="red", linestyle="--", linewidth=1, label=f"p99 target {target:g} ms")
    bars.set_xticks([x + width * (len(names) - 1) / 2 for x in range(3)], ["p50", "p95", "p99"])
    bars.set_yscale("log")
    bars.set_ylabel("customer -> agent latency, ms (log)")
    bars.set_title(f"Relay at {rate:.0f} msg/s")
    bars.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=4)
    lines_ax.axhline(target, color="red", linestyle="--", linewidth=1)
    lines_ax.set_yscale("log")
    lines_ax.set_xlabel("offered messages/s")
    lines_ax.set_ylabel("p99 latency, ms (log)")
    lines_ax.set_title("Relay p99 by offered rate")
    lines_ax.grid(alpha=0.3)
    lines_ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=3)
    save(fig, img / CHART, dpi=110)


BENCHMARK = Benchmark("relay", run, lines, add_arguments=add_arguments, rows=rows, chart=chart)
