"""What a deployment costs per unit of work, measured on the load-balanced production profile, and the sizing
table of docs/deployment.md computed from it (``make bench-servers``; ``make bench`` runs it last).

The deployment is the one docs/deployment.md describes and ``tests/deploy/test_haproxy.py`` tests: HAProxy
(``deploy/haproxy.cfg``) in front of two handoff instances and two Rasa servers, one action server, Redis and
PostgreSQL, all on this machine (scripts/cluster.py). Each process's CPU time (user plus system, its children
included) and resident memory are read from ``/proc`` around three loads, all sent through the balancer:

1. **bot replies**: ``--customers`` customers on the widget's socket, each asking the knowledge questions of
   the replies benchmark one after another (a new conversation every 20 turns), for ``--seconds``;
2. **relayed messages**: ``--agents`` agents with ``--per-agent`` conversations each (handed to them by the bot
   when the customer asked for a person), customers' messages sent at ``--rate`` per second for ``--seconds``
   and delivered to the agents' sockets;
3. **open sockets**: ``--sockets`` idle customer sockets, and the resident memory they add.

The idle cost of the same processes, measured over ``--seconds`` before the loads, is the baseline: each load's
cost is what it adds to it. The figures are per core-second of one process tier, so they carry to other
machines only as far as their cores are alike; the sizing table adds the headroom stated beside it.

    .venv/app/bin/python scripts/bench_servers.py [--seconds 20] [--customers 8] [--rate 200] [--sockets 2000]
        [--json build/bench/servers.json] [--doc docs/deployment.md]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
import sys  # noqa: E402

sys.path.insert(0, str(ROOT))

from scripts.benchmarks.assistants import NEW_CONVERSATION_EVERY, PRODUCT_MESSAGES  # noqa: E402
from scripts.benchmarks.idle import create_conversations  # noqa: E402
from scripts.benchmarks.load import drive  # noqa: E402
from scripts.benchmarks.procfs import cpu_seconds, load_average, process_tree, pss_mb  # noqa: E402
from scripts.benchmarks.report import say, table  # noqa: E402
from scripts.cluster import Cluster, Postgres, Process, build_cluster, stop_cluster  # noqa: E402

Json = dict[str, Any]
PASSWORD = "bench-" + uuid.uuid4().hex[:10]
TIERS = ("haproxy", "handoff", "rasa", "actions", "redis", "postgres")
BEGIN, END = "<!-- sizing: begin (scripts/bench_servers.py writes this part) -->", "<!-- sizing: end -->"
# The workload the sizing table assumes per conversation in progress (docs/deployment.md states it).
MESSAGE_EVERY = 30.0  # seconds between a customer's messages
BOT_SHARE = 0.7  # of conversations in progress, with the bot (the rest with an agent)
REPLIES_PER_AGENT_MESSAGE = 1.0  # an agent answers each customer message once
HEADROOM = 0.6  # CPU a tier is sized to use at the peak (the rest absorbs bursts and a lost instance)
SIZES = (100, 1_000, 5_000)  # conversations in progress at the peak
PAIRED = ("handoff", "rasa")  # one process per core, at least two (the measured deployment runs two of each)
NOISE = 0.005  # cores a tier must add to a load for its cost per unit to be measured


def tier_pids(cluster: Cluster) -> dict[str, Callable[[], list[int]]]:
    """Each tier's processes (looked up at each reading: a Rasa server's workers, PostgreSQL's backends)."""
    def tree(processes: list[Process]) -> Callable[[], list[int]]:
        return lambda: [pid for p in processes for pid in process_tree(p.pid)]

    assert cluster.balancer is not None
    return {"haproxy": tree([cluster.balancer]), "handoff": tree(cluster.handoff), "rasa": tree(cluster.rasa),
            "actions": tree([cluster.actions]), "redis": tree([cluster.redis]), "postgres": cluster.postgres.pids}


class Meter:
    """CPU seconds of every tier between ``start`` and ``stop``."""

    def __init__(self, pids: dict[str, Callable[[], list[int]]]) -> None:
        self.pids = pids
        self.before: dict[str, float] = {}
        self.began = 0.0

    def start(self) -> None:
        self.before = {tier: cpu_seconds(find()) for tier, find in self.pids.items()}
        self.began = time.monotonic()

    def stop(self) -> Json:
        wall = time.monotonic() - self.began
        used = {tier: cpu_seconds(find()) - self.before[tier] for tier, find in self.pids.items()}
        return {"wall_s": round(wall, 2), "cpu_s": {tier: round(value, 3) for tier, value in used.items()}}


def memory(pids: dict[str, Callable[[], list[int]]]) -> dict[str, float]:
    """Each tier's memory in MB: the sum of its processes' proportional set sizes."""
    out = {}
    for tier, find in pids.items():
        total = 0.0
        for pid in find():
            try:
                total += pss_mb(pid)
            except (OSError, RuntimeError):
                continue  # ended while read
        out[tier] = round(total, 1)
    return out


async def bot_load(url: str, customers: int, seconds: float) -> int:
    """Customers asking the bot through the balancer; the number of bot replies received within ``seconds``."""
    import httpx
    import websockets

    replies = 0
    deadline = time.monotonic() + seconds
    ws_url = url.replace("http://", "ws://")

    async def customer(n: int) -> None:
        nonlocal replies
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            while time.monotonic() < deadline:
                data = (await http.post("/api/conversations", json={"name": f"Bench {n}"})).json()
                query = f"conversation_id={data['conversation_id']}&token={data['customer_token']}"
                async with websockets.connect(f"{ws_url}/ws/customer?{query}", max_size=None, close_timeout=1) as ws:
                    for turn in range(NEW_CONVERSATION_EVERY):
                        if time.monotonic() >= deadline:
                            return
                        text = PRODUCT_MESSAGES[(n + turn) % len(PRODUCT_MESSAGES)]
                        await ws.send(json.dumps({"type": "message", "client_id": uuid.uuid4().hex, "text": text}))
                        while True:
                            frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
                            if frame.get("type") == "message" and frame["message"]["sender"] == "bot":
                                break
                        if time.monotonic() < deadline:
                            replies += 1

    await asyncio.gather(*(customer(n) for n in range(customers)))
    return replies


async def relay_plan(cluster: Cluster, agents: int, per_agent: int) -> list[Json]:
    """``agents`` bench agents, each given ``per_agent`` conversations through the bot's hand-off: the plan of
    :func:`scripts.benchmarks.load.drive`, every URL the balancer's."""
    import subprocess

    import httpx
    import websockets

    folder = cluster.folder / "bench-agents"
    folder.mkdir(exist_ok=True)
    names = [f"bench{n:02d}" for n in range(1, agents + 1)]
    (folder / "agents.yml").write_text(json.dumps({"agents": [
        {"username": name, "name": f"Bench Agent {name[5:]}", "capacity": per_agent, "tiers": [1, 2, 3],
         "languages": ["en"], "skills": []} for name in names]}))
    done = subprocess.run([str(ROOT / ".venv/app/bin/python"), "-m", "handoff", "seed", str(folder)], cwd=ROOT,
                          env={**cluster.handoff[0].env, "HANDOFF_DEMO_PASSWORD": PASSWORD}, capture_output=True,
                          text=True)
    if done.returncode:
        raise RuntimeError(f"seeding bench agents failed:\n{done.stdout}{done.stderr}")
    url, ws_url = cluster.public_url, cluster.public_url.replace("http://", "ws://")
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        tokens = {}
        for name in names:
            response = await http.post("/api/auth/login", json={"username": name, "password": PASSWORD})
            response.raise_for_status()
            tokens[name] = response.json()["token"]
        # the agents go online: their consoles' sockets stay open while the conversations are handed out
        consoles = [await websockets.connect(f"{ws_url}/ws/agent?token={tokens[n]}", max_size=None) for n in names]
        customers: dict[str, str] = {}
        gate = asyncio.Semaphore(8)

        async def escalate(n: int) -> None:
            async with gate:
                data = (await http.post("/api/conversations", json={"name": f"Relay {n}"})).json()
                customers[data["conversation_id"]] = data["customer_token"]
                said = await http.post(f"/api/conversations/{data['conversation_id']}/messages",
                                       json={"text": "I want to talk to a human", "client_id": uuid.uuid4().hex},
                                       headers={"Authorization": f"Bearer {data['customer_token']}"})
                said.raise_for_status()

        await asyncio.gather(*(escalate(n) for n in range(agents * per_agent)))
        plan: list[Json] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            plan = []
            for name in names:
                mine = (await http.get("/api/agent/conversations",
                                       headers={"Authorization": f"Bearer {tokens[name]}"})).json()["conversations"]
                plan.append({"agent": f"{ws_url}/ws/agent?token={tokens[name]}",
                             "customers": [[f"{ws_url}/ws/customer?conversation_id={c['conversation_id']}"
                                            f"&token={customers[c['conversation_id']]}&after={2**31 - 1}",
                                            c["conversation_id"]] for c in mine if c["conversation_id"] in customers]})
            if sum(len(entry["customers"]) for entry in plan) == agents * per_agent:
                break
            await asyncio.sleep(1)
        else:
            raise RuntimeError(f"only {sum(len(e['customers']) for e in plan)} of {agents * per_agent} "
                               "conversations were assigned to the bench agents")
        for console in consoles:
            await console.close()
    return plan


async def open_sockets(cluster: Cluster, count: int, pids: dict[str, Callable[[], list[int]]],
                       settle: float) -> Json:
    """``count`` idle customer sockets through the balancer; the memory each tier holds before and after."""
    import websockets

    from tests.handoff.e2e.harness import HandoffServer

    server = HandoffServer(cluster.public_url, cluster.folder / "handoff-0.log", cluster.handoff[0].env)
    urls = await create_conversations(server, count)
    await asyncio.sleep(settle)
    before = memory(pids)
    gate, sockets, failed = asyncio.Semaphore(100), [], 0

    async def connect(url: str) -> None:
        nonlocal failed
        async with gate:
            try:
                ws = await websockets.connect(url, open_timeout=120, max_size=None, compression="deflate")
                await asyncio.wait_for(ws.recv(), 120)  # hello
                sockets.append(ws)
            except Exception:
                failed += 1

    await asyncio.gather(*(connect(url) for url in urls))
    await asyncio.sleep(settle)
    after = memory(pids)
    for n in range(0, len(sockets), 500):
        await asyncio.gather(*(ws.close() for ws in sockets[n:n + 500]), return_exceptions=True)
    return {"sockets": len(sockets), "failed": failed, "memory_before_mb": before, "memory_after_mb": after}


def measure(args: argparse.Namespace) -> Json:
    folder = Path(tempfile.mkdtemp(prefix="bench-servers-"))
    started: list[Process | Postgres] = []
    try:
        say("starting the balanced deployment (HAProxy, 2 handoff instances, 2 Rasa servers, the action server, "
            "Redis, PostgreSQL)")
        # the bench agents never accept or answer: their conversations must stay theirs for the relay's load
        cluster = build_cluster(folder, 2, started, PASSWORD, rasa_instances=2, balanced=True,
                                extra_env={"HANDOFF_ACCEPT_TIMEOUT": "86400", "HANDOFF_ABANDON_AFTER": "86400"})
        pids = tier_pids(cluster)
        meter = Meter(pids)
        result: Json = {"date": date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                        "load_before": round(load_average(), 2), "args": vars(args) | {"json": str(args.json),
                                                                                     "doc": str(args.doc)}}
        say(f"idle baseline, {args.seconds:.0f} s")
        time.sleep(2)
        meter.start()
        time.sleep(args.seconds)
        result["idle"] = meter.stop() | {"memory_mb": memory(pids)}

        say(f"bot replies: {args.customers} customers through the balancer, {args.seconds:.0f} s")
        asyncio.run(bot_load(cluster.public_url, 2, 3))  # warm-up: each Rasa server's first turns load lazily
        meter.start()
        replies = asyncio.run(bot_load(cluster.public_url, args.customers, args.seconds))
        result["bot"] = meter.stop() | {"replies": replies}

        say(f"relayed messages: {args.agents} agents x {args.per_agent} conversations, {args.rate:.0f} msg/s, "
            f"{args.seconds:.0f} s")
        plan = asyncio.run(relay_plan(cluster, args.agents, args.per_agent))
        time.sleep(2)
        meter.start()
        row = drive(plan, args.rate, args.seconds, 2, cluster.handoff[0].pid)
        result["relay"] = meter.stop() | {"sent": row["sent"], "received": row["received"], "lost": row["lost"],
                                          "p50_ms": row["p50_ms"], "p99_ms": row["p99_ms"]}

        say(f"open sockets: {args.sockets} idle customer sockets")
        result["sockets"] = asyncio.run(open_sockets(cluster, args.sockets, pids, 5.0))
        result["load_after"] = round(load_average(), 2)
        return result
    finally:
        stop_cluster(started)
        shutil.rmtree(folder, ignore_errors=True)


def costs(result: Json) -> Json:
    """Units of work per core-second of each tier, over the idle baseline; memory per thousand sockets."""
    idle = result["idle"]
    idle_rate = {tier: idle["cpu_s"][tier] / idle["wall_s"] for tier in TIERS}

    def per_core_second(phase: Json, units: int) -> dict[str, float | None]:
        """Units per added core-second; None where the tier added too little CPU to measure (under NOISE)."""
        added = {tier: phase["cpu_s"][tier] - idle_rate[tier] * phase["wall_s"] for tier in TIERS}
        return {tier: round(units / added[tier], 1) if added[tier] > NOISE * phase["wall_s"] else None
                for tier in TIERS}

    sockets = result["sockets"]
    thousand = max(sockets["sockets"], 1) / 1000
    return {
        "bot_replies_per_core_s": per_core_second(result["bot"], result["bot"]["replies"]),
        "relayed_per_core_s": per_core_second(result["relay"], result["relay"]["received"]),
        "mb_per_thousand_sockets": {tier: round((sockets["memory_after_mb"][tier] - sockets["memory_before_mb"][tier])
                                                / thousand, 1) for tier in TIERS},
        "idle_cores": {tier: round(idle_rate[tier], 3) for tier in TIERS},
        "idle_mb": result["idle"]["memory_mb"],
    }


def sizing(unit: Json) -> list[Json]:
    """Cores and memory per tier for each size in :data:`SIZES`, under the workload of the module's constants."""
    rows = []
    for conversations in SIZES:
        bot_replies = conversations * BOT_SHARE / MESSAGE_EVERY
        relayed = conversations * (1 - BOT_SHARE) * (1 + REPLIES_PER_AGENT_MESSAGE) / MESSAGE_EVERY
        row: Json = {"conversations": conversations, "bot_replies_per_s": round(bot_replies, 1),
                     "relayed_per_s": round(relayed, 1), "tiers": {}}
        for tier in TIERS:
            bot_cost, relay_cost = unit["bot_replies_per_core_s"][tier], unit["relayed_per_core_s"][tier]
            cores = ((bot_replies / bot_cost if bot_cost else 0) + (relayed / relay_cost if relay_cost else 0)
                     + unit["idle_cores"][tier]) / HEADROOM
            # handoff instances and Rasa workers use one core each, and come in pairs at least (one can be lost);
            # each Rasa worker holds the model, so its memory grows with their number
            processes = max(2, math.ceil(cores)) if tier in PAIRED else 1
            at_rest = unit["idle_mb"][tier] / 2 * processes if tier in PAIRED else unit["idle_mb"][tier]
            memory = at_rest + max(unit["mb_per_thousand_sockets"][tier], 0) * conversations / 1000
            row["tiers"][tier] = {"cores": round(cores, 2), "processes": processes, "memory_mb": round(memory)}
        rows.append(row)
    return rows


def number(value: float | None) -> str:
    return f"{value:,.0f}" if value is not None else "too little to measure"


def per_thousand(mb: float) -> str:
    """Memory per thousand sockets; a tier whose memory did not grow (or shrank by chance) holds none for them."""
    return f"{mb:,.1f}" if mb > 0.5 else "none"


def demand(tier: Json, name: str) -> str:
    cores = f"{tier['cores']:.2f} cores" if tier["cores"] >= 0.01 else "< 0.01 cores"
    processes = f"{tier['processes']} {'instances' if name == 'handoff' else 'workers'}, " if name in PAIRED else ""
    return f"{processes}{cores}, {tier['memory_mb']:,} MB"


TIER_NAMES = {"haproxy": "HAProxy", "handoff": "handoff instances", "rasa": "Rasa servers",
              "actions": "action server", "redis": "Redis", "postgres": "PostgreSQL"}


def section(result: Json) -> list[str]:
    unit, rows = costs(result), sizing(costs(result))
    bot, relay, sockets = result["bot"], result["relay"], result["sockets"]
    lines = [BEGIN, "",
             f"Measured by `make bench-servers` (`scripts/bench_servers.py`) on {result['machine']}, {result['date']}; "
             f"load average (5 min) {result['load_before']} at the start, {result['load_after']} at the end. Every "
             "process of the deployment and the load generators share the machine's cores.", "",
             f"- **bot replies**: {bot['replies']:,} in {bot['wall_s']:.0f} s from {result['args']['customers']} "
             "customers on the widget's socket, each asking a knowledge question as soon as the last was answered;",
             f"- **relayed messages**: {relay['received']:,} of {relay['sent']:,} customer messages delivered to "
             f"agents' sockets ({relay['lost']} lost; p50 {relay['p50_ms']} ms, p99 {relay['p99_ms']} ms) in "
             f"{relay['wall_s']:.0f} s at {result['args']['rate']:.0f} msg/s;",
             f"- **open sockets**: {sockets['sockets']:,} idle customer sockets ({sockets['failed']} failed).", "",
             "Units of work per core-second of each tier: the load's CPU time less the same tier's idle CPU time "
             "over as long (the baseline, measured in the same run before the loads); memory is the proportional set "
             "size (shared pages split between the processes sharing them), summed over the tier's processes.", ""]
    lines += table(["tier", "bot replies per core-second", "relayed messages per core-second",
                    "MB per 1,000 open sockets", "idle (cores)", "memory at rest (MB)"],
                   [[TIER_NAMES[t], number(unit["bot_replies_per_core_s"][t]), number(unit["relayed_per_core_s"][t]),
                     per_thousand(unit["mb_per_thousand_sockets"][t]), unit["idle_cores"][t], unit["idle_mb"][t]]
                    for t in TIERS])
    lines += ["", f"The sizing table: conversations in progress at the peak, each customer writing every "
              f"{MESSAGE_EVERY:.0f} s, {BOT_SHARE:.0%} of conversations with the bot (one reply per message) and the "
              f"rest with an agent (who answers each message: two relayed messages). Cores are what the tier uses "
              f"at that peak divided by {HEADROOM}, so that it runs at {HEADROOM:.0%} (room for bursts, and for "
              "one instance of a pair to carry the other's load for a while). A handoff instance and a Rasa worker "
              "use one core each, so each of those tiers runs as many as its cores, two at least (one can be "
              "lost); each Rasa worker holds the model (most of its memory), so Rasa's memory grows with them. "
              "Memory is the tier at rest plus the open sockets.", ""]
    lines += table(["tier", *[f"{r['conversations']:,} conversations ({r['bot_replies_per_s']} bot replies/s, "
                              f"{r['relayed_per_s']} relayed/s)" for r in rows]],
                   [[TIER_NAMES[t], *[demand(r["tiers"][t], t) for r in rows]] for t in TIERS])
    total = [(sum(r["tiers"][t]["cores"] for t in TIERS), sum(r["tiers"][t]["memory_mb"] for t in TIERS))
             for r in rows]
    lines += ["| **all** | " + " | ".join(f"**{c:.1f} cores, {m / 1024:.1f} GB**" for c, m in total) + " |",
              "", END]
    return lines


def write_doc(doc: Path, lines: list[str]) -> None:
    text = doc.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{doc} has no sizing markers ({BEGIN} ... {END})")
    head, rest = text.split(BEGIN, 1)
    doc.write_text(head + "\n".join(lines) + rest.split(END, 1)[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="duration of the idle baseline and of each load")
    parser.add_argument("--customers", type=int, default=8, help="bot replies: concurrent customers")
    parser.add_argument("--agents", type=int, default=10, help="relayed messages: bench agents")
    parser.add_argument("--per-agent", type=int, default=10, help="relayed messages: conversations per agent")
    parser.add_argument("--rate", type=float, default=200.0, help="relayed messages: customer messages per second")
    parser.add_argument("--sockets", type=int, default=2000, help="open sockets: idle customer sockets")
    parser.add_argument("--json", type=Path, default=ROOT / "build" / "bench" / "servers.json")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "deployment.md",
                        help="rewrite its sizing part ('-': print it instead)")
    parser.add_argument("--reuse", action="store_true", help="rewrite the doc from --json without measuring")
    args = parser.parse_args(argv)
    result = json.loads(args.json.read_text()) if args.reuse else measure(args)
    if not args.reuse:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    lines = section(result)
    if str(args.doc) == "-":
        print("\n".join(lines))
    else:
        write_doc(args.doc, lines)
        say(f"wrote {args.json} and the sizing part of {args.doc}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
