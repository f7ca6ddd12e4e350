"""Escalation to the agent's console, in both profiles: real Rasa, action server and handoff server;
customers ask for a person and the four demo agents, online, resolve each conversation as it arrives.
Target: p95 under 100 ms from the ticket's ``created_at`` to the agent socket's ``assigned`` frame."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from scripts.benchmarks.base import Benchmark, Flags, Json, TargetRow
from scripts.benchmarks.handoff_service import PROFILES, handoff_server
from scripts.benchmarks.profiling import profile_lines, py_spy, stop_spy, top_costs
from scripts.benchmarks.report import say, table
from scripts.benchmarks.stats import percentile, summary

if TYPE_CHECKING:
    from tests.handoff.e2e.harness import HandoffServer

TARGET_P95_MS = 100.0
ASK_FOR_A_PERSON = "I want to talk to a human"
DEMO_AGENTS = ("ada", "grace", "linus", "admin")
PROFILED = 20  # escalations sampled by py-spy when the target is missed


def add_arguments(flags: Flags) -> None:
    flags.add_argument("--escalations", type=int, default=60, help="escalations per profile")
    flags.add_argument("--concurrency", type=int, default=2, help="escalations in flight at once")


async def escalations(server: HandoffServer, count: int, concurrency: int, warmup: int = 3) -> Json:
    """``count`` customers ask for a person, ``concurrency`` at a time, after ``warmup`` uncounted ones."""
    import websockets

    from tests.handoff.e2e.harness import Agent, Customer

    agents = [await Agent.sign_in(server, name) for name in DEMO_AGENTS]
    loop = asyncio.get_running_loop()
    arrivals: dict[str, asyncio.Future[tuple[float, Json, Agent]]] = {}

    async def listen(agent: Agent) -> None:
        async with websockets.connect(f"{server.ws_url}/ws/agent?token={agent.token}") as ws:
            async for raw in ws:
                received = time.time()
                frame = json.loads(raw)
                if frame.get("type") == "assigned":
                    future = arrivals.setdefault(frame["conversation"]["conversation_id"], loop.create_future())
                    if not future.done():
                        future.set_result((received, frame, agent))

    listeners = [asyncio.create_task(listen(agent)) for agent in agents]
    rows: list[dict[str, float]] = []

    async def one(n: int) -> None:
        customer = await Customer.start(server, name=f"Bench {n}", email=f"bench{n}@example.com")
        url = f"{server.ws_url}/ws/customer?conversation_id={customer.conversation_id}&token={customer.token}"
        async with websockets.connect(url) as ws:
            await ws.recv()  # hello
            future = arrivals.setdefault(customer.conversation_id, loop.create_future())
            sent = time.time()
            await ws.send(json.dumps({"type": "message", "client_id": uuid.uuid4().hex, "text": ASK_FOR_A_PERSON}))
            received, frame, agent = await asyncio.wait_for(future, 60)
            ticket = (await agent.call("GET", f"/api/tickets/{frame['conversation']['ticket_id']}")).json()
            resolved = await agent.call("POST", f"/api/agent/conversations/{customer.conversation_id}/resolve")
            resolved.raise_for_status()
        created = datetime.fromisoformat(ticket["created_at"]).timestamp()
        if not any(t["cause"] == "handoff_requested" for t in ticket["transitions"]):
            raise RuntimeError(f"ticket {ticket['id']} has no handoff_requested transition")
        if n >= warmup:
            rows.append({"service_ms": (received - created) * 1000, "end_to_end_ms": (received - sent) * 1000})
            if len(rows) % 10 == 0:
                say(f"escalation: {len(rows)}/{count}, service p95 so far "
                    f"{percentile([r['service_ms'] for r in rows], 95):.1f} ms")

    numbers = iter(range(count + warmup))

    async def worker() -> None:
        for n in numbers:
            await one(n)

    try:
        for _ in range(warmup):  # the first turns load Rasa's and the service's lazy parts
            await one(next(numbers))
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        for task in listeners:
            task.cancel()
        await asyncio.gather(*listeners, return_exceptions=True)
    return {"escalations": len(rows), "concurrency": concurrency,
            "service": summary([r["service_ms"] for r in rows]),
            "end_to_end": summary([r["end_to_end_ms"] for r in rows])}


def run(args: argparse.Namespace) -> Json:
    """Each profile in turn against one Rasa; where the target is missed (and ``--profile-seconds`` is not 0),
    py-spy samples the server during some more escalations."""
    from tests.servers import running_assistant

    count, concurrency = args.escalations, args.concurrency
    say("escalation: starting Rasa and the action server (about a minute)")
    results: Json = {"target_p95_ms": TARGET_P95_MS, "question": ASK_FOR_A_PERSON, "agents": len(DEMO_AGENTS)}
    with running_assistant(args.output.run_dir("assistant")) as bot:
        for profile in PROFILES:
            say(f"escalation [{profile}]: {count} customers ask for a person, {concurrency} at a time")
            with handoff_server(args.output, profile, bot.rasa_url, bot.token) as server:
                results[profile] = asyncio.run(escalations(server, count, concurrency))
                say(f"escalation [{profile}]: {json.dumps(results[profile])}")
                if args.profile_seconds > 0 and results[profile]["service"]["p95_ms"] >= TARGET_P95_MS:
                    say(f"escalation [{profile}]: target missed; {PROFILED} more escalations with py-spy")
                    out = args.output.build / f"handoff-escalation-{profile}.pyspy.txt"
                    spy = py_spy(server.processes[0].pid, out)
                    asyncio.run(escalations(server, PROFILED, concurrency, warmup=0))
                    stop_spy(spy)
                    results[f"{profile}_profile"] = top_costs(out)
    return results


def rows(result: Json) -> list[TargetRow]:
    found = []
    for profile in PROFILES:
        e = result.get(profile)
        if e:
            p95 = e["service"]["p95_ms"]
            found.append(TargetRow(f"escalation to the console p95, {profile} (hand-off -> `assigned`)",
                                   f"{p95:.1f} ms", f"end to end from the customer's message: "
                                   f"{e['end_to_end']['p95_ms']:.0f} ms", "", f"< {result['target_p95_ms']:g} ms",
                                   p95 < result["target_p95_ms"]))
    return found


def lines(result: Json) -> list[str]:
    measured = [(p, result[p]) for p in PROFILES if p in result]
    found = [f"**Escalation.** Real Rasa, action server and handoff server; customers say \"{result['question']}\", "
             f"{measured[0][1]['concurrency'] if measured else '?'} at a time, with the {result['agents']} demo "
             "agents online (they resolve each conversation as it arrives). *Service* is from the ticket's "
             "`created_at` to the agent socket's `assigned` frame; *end to end* is from the customer's frame (the "
             "bot's turn included) to the same `assigned` frame.", "",
             *table(["profile", "escalations", "service p50 / p95 / p99 (ms)", "end to end p50 / p95 (ms)"],
                    [[p, e["escalations"], f"{e['service']['p50_ms']:.1f} / {e['service']['p95_ms']:.1f} / "
                      f"{e['service']['p99_ms']:.1f}", f"{e['end_to_end']['p50_ms']:.0f} / "
                      f"{e['end_to_end']['p95_ms']:.0f}"] for p, e in measured]), ""]
    for profile in PROFILES:
        sampled: Any = result.get(f"{profile}_profile")
        if sampled and "self" in sampled:
            found += profile_lines(f"Where the {profile} server's time goes during {PROFILED} more escalations",
                                   sampled)
    return found


BENCHMARK = Benchmark("escalation", run, lines, add_arguments=add_arguments, rows=rows)
