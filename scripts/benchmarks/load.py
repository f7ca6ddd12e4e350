"""The relay benchmark's load: processes that open the agents' and customers' sockets of a plan and send
customer messages at a fixed aggregate rate on an open-loop schedule (whatever the answers), timing each from
the moment its frame is handed to the socket to the agent socket's ``message`` frame.

A plan is ``[{"agent": ws url, "customers": [[ws url, conversation id], ...]}, ...]``.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from scripts.benchmarks.base import Json
from scripts.benchmarks.procfs import cpu_seconds
from scripts.benchmarks.stats import percentile, summary

DEFLATE = os.environ.get("BENCH_DEFLATE", "1") != "0"  # clients offer permessage-deflate, as browsers do
DRAIN_SECONDS = 10.0  # a message not delivered this long after the load ends counts as lost


class Generator:
    """One load generator's sockets and counts, in its own process and event loop."""

    def __init__(self, wid: int, deflate: bool) -> None:
        self.prefix = f"w{wid}-{uuid.uuid4().hex[:8]}-"  # fresh per step: a client_id seen before is a resend
        self.options: Json = {"max_size": None, "compression": "deflate" if deflate else None}
        self.sent_at: dict[int, float] = {}
        self.latencies: list[float] = []
        self.counts = Counter[str]()

    async def connect(self, url: str) -> Any:
        """An open socket that has read its ``hello`` (the server has subscribed it), or None after 3 tries."""
        import websockets
        from websockets.exceptions import ConnectionClosed

        for _ in range(3):
            try:
                ws = await websockets.connect(url, **self.options)
                await ws.recv()
                return ws
            except (OSError, ConnectionClosed):
                self.counts["connect_failed"] += 1
        return None

    async def read_agent(self, ws: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for raw in ws:
                now = time.monotonic()
                if self.prefix not in raw:
                    continue
                frame = json.loads(raw)
                client_id = (frame.get("message") or {}).get("client_id") or ""
                if frame.get("type") == "message" and client_id.startswith(self.prefix):
                    started = self.sent_at.pop(int(client_id[len(self.prefix):]), None)
                    if started is not None:
                        self.latencies.append((now - started) * 1000)
        except ConnectionClosed:
            self.counts["closed"] += 1

    async def read_customer(self, ws: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for raw in ws:
                if '"ack"' in raw:
                    self.counts["acks"] += 1
                elif '"error"' in raw:
                    self.counts["errors"] += 1
        except ConnectionClosed:
            self.counts["closed"] += 1

    async def send(self, targets: list[Any], begin: float, rate: float, seconds: float) -> tuple[int, list[float]]:
        """Send round robin on the schedule; how many were sent and how late each left (ms)."""
        from websockets.exceptions import ConnectionClosed

        interval, end, lags, k = 1 / rate, begin + seconds, [], 0
        while (due := begin + k * interval) < end:
            now = time.monotonic()
            if due > now:
                await asyncio.sleep(due - now)
            self.sent_at[k] = now = time.monotonic()
            lags.append((now - due) * 1000)
            try:
                await targets[k % len(targets)].send(json.dumps(
                    {"type": "message", "client_id": f"{self.prefix}{k}", "text": f"relay benchmark message {k}"}))
            except ConnectionClosed:
                self.counts["send_failed"] += 1
            k += 1
        return k, lags


async def generate(wid: int, plan: list[Json], rate: float, seconds: float, deflate: bool, ready: Any, go: Any,
                   start: Any) -> Json:
    """One load generator: open its sockets, report ready, wait for ``go``, send from ``start.value``."""
    gen = Generator(wid, deflate)
    agent_sockets = [ws for entry in plan if (ws := await gen.connect(entry["agent"])) is not None]
    targets = [ws for entry in plan for url, _ in entry["customers"] if (ws := await gen.connect(url)) is not None]
    readers = [asyncio.create_task(gen.read_agent(ws)) for ws in agent_sockets]
    readers += [asyncio.create_task(gen.read_customer(ws)) for ws in targets]
    ready.put(wid)
    await asyncio.to_thread(go.wait)
    begin = start.value
    sent, lags = await gen.send(targets, begin, rate, seconds)
    sending = time.monotonic() - begin
    drain = time.monotonic() + DRAIN_SECONDS
    while gen.sent_at and time.monotonic() < drain:
        await asyncio.sleep(0.05)
    for task in readers:
        task.cancel()
    await asyncio.gather(*(ws.close() for ws in agent_sockets + targets), return_exceptions=True)
    c = gen.counts
    return {"sent": sent, "received": len(gen.latencies), "latencies": gen.latencies, "send_seconds": sending,
            "lag_p99_ms": percentile(lags, 99), "acks": c["acks"], "errors": c["errors"] + c["send_failed"],
            "closed": c["closed"], "connect_failed": c["connect_failed"], "conversations": len(targets)}


def generator_process(wid: int, plan: list[Json], rate: float, seconds: float, deflate: bool, ready: Any, go: Any,
                      start: Any, results: Any) -> None:
    try:
        results.put(asyncio.run(generate(wid, plan, rate, seconds, deflate, ready, go, start)))
    except Exception as exc:  # reported by the parent
        ready.put(wid)
        results.put({"failed": f"{type(exc).__name__}: {exc}"})


def drive(plan: list[Json], rate: float, seconds: float, processes: int, server_pid: int,
          deflate: bool = DEFLATE, on_start: Callable[[], None] | None = None) -> Json:
    """Split ``plan`` over ``processes`` load generators and run them at ``rate`` messages/s in total;
    ``on_start`` is called once every socket is open, as the load begins. Also measures the server's CPU."""
    ctx = mp.get_context("spawn")
    ready, results, go, start = ctx.Queue(), ctx.Queue(), ctx.Event(), ctx.Value("d", 0.0)
    workers = [ctx.Process(target=generator_process, args=(n, plan[n::processes], rate / processes, seconds,
                                                           deflate, ready, go, start, results))
               for n in range(processes)]
    for worker in workers:
        worker.start()
    for _ in workers:
        ready.get(timeout=300)
    start.value = time.monotonic() + 1.0
    cpu_before, wall_before = cpu_seconds([server_pid]), time.monotonic()
    if on_start is not None:
        on_start()
    go.set()
    outcomes = [results.get(timeout=seconds + 300) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    failed = [o["failed"] for o in outcomes if "failed" in o]
    if failed:
        raise RuntimeError(f"a load generator failed: {failed[0]}")
    cpu = (cpu_seconds([server_pid]) - cpu_before) / (time.monotonic() - wall_before)
    sent, received = sum(o["sent"] for o in outcomes), sum(o["received"] for o in outcomes)
    return {"offered_rate": rate, "seconds": seconds, "processes": processes,
            "conversations": sum(o["conversations"] for o in outcomes), "sent": sent, "received": received,
            "achieved_rate": round(sent / max(o["send_seconds"] for o in outcomes), 1), "lost": sent - received,
            "errors": sum(o["errors"] for o in outcomes), "closed": sum(o["closed"] for o in outcomes),
            "connect_failed": sum(o["connect_failed"] for o in outcomes),
            "schedule_lag_p99_ms": round(max(o["lag_p99_ms"] for o in outcomes), 2),
            "server_cpu_cores": round(cpu, 2), **summary([x for o in outcomes for x in o["latencies"]])}
