"""Idle customer connections, in both profiles: conversations created over REST, then as many customer sockets
opened (each reads its ``hello``) and left idle; the server's RSS and CPU. The same-run baseline is the plain
``websockets`` relay (:mod:`.baseline_server`) holding as many sockets. Target: 10,000 sockets under 1 GB."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from scripts.benchmarks.base import Benchmark, Flags, Json, TargetRow
from scripts.benchmarks.baseline_server import baseline_server
from scripts.benchmarks.handoff_service import PROFILES, handoff_server
from scripts.benchmarks.procfs import cpu_seconds, raise_file_limit, rss_mb
from scripts.benchmarks.report import ratio, say, table

if TYPE_CHECKING:
    from tests.handoff.e2e.harness import HandoffServer

TARGET_CONNECTIONS = 10_000
TARGET_MB = 1024.0
CPU_WINDOW = 10.0  # seconds over which the idle server's CPU is measured


def add_arguments(flags: Flags) -> None:
    flags.add_argument("--connections", type=int, default=TARGET_CONNECTIONS, help="idle customer sockets")
    flags.add_argument("--settle", type=float, default=5.0, help="idle: seconds before RSS is read")


async def create_conversations(server: HandoffServer, count: int) -> list[str]:
    """``count`` conversations over REST; their customer socket URLs."""
    import httpx

    urls: list[str] = []
    gate = asyncio.Semaphore(32)
    async with httpx.AsyncClient(base_url=server.url, timeout=120, limits=httpx.Limits(max_connections=32)) as http:
        async def create() -> None:
            async with gate:
                for attempt in range(3):  # a pooled connection the server closed as idle (keep-alive 5 s): again
                    try:
                        response = await http.post("/api/conversations", json={"channel": "web"})
                        break
                    except httpx.TransportError:
                        if attempt == 2:
                            raise
                response.raise_for_status()
                data = response.json()
                urls.append(f"{server.ws_url}/ws/customer?conversation_id={data['conversation_id']}"
                            f"&token={data['customer_token']}")
                if len(urls) % 2000 == 0:
                    say(f"idle: {len(urls)}/{count} conversations created")

        await asyncio.gather(*(create() for _ in range(count)))
    return urls


async def hold(urls: list[str], pid: int, settle: float) -> Json:
    """Open every socket (offering permessage-deflate, as browsers do; reading its hello), wait ``settle``
    seconds, measure the server, close them all."""
    import websockets

    gate = asyncio.Semaphore(100)
    sockets: list[Any] = []
    failures = Counter[str]()

    async def connect(url: str) -> None:
        async with gate:
            try:
                ws = await websockets.connect(url, open_timeout=120, max_size=None, compression="deflate")
                await asyncio.wait_for(ws.recv(), 120)  # hello
                sockets.append(ws)
            except Exception as exc:
                failures[type(exc).__name__] += 1
            if (len(sockets) + sum(failures.values())) % 2000 == 0:
                say(f"idle: {len(sockets)}/{len(urls)} sockets open")

    before = rss_mb(pid)
    started = time.monotonic()
    await asyncio.gather(*(connect(url) for url in urls))
    opened = time.monotonic() - started
    await asyncio.sleep(settle)
    after = rss_mb(pid)
    cpu = cpu_seconds([pid])
    await asyncio.sleep(CPU_WINDOW)
    idle_cpu = (cpu_seconds([pid]) - cpu) / CPU_WINDOW
    after = max(after, rss_mb(pid))
    deflate = sum(1 for ws in sockets if ws.protocol.extensions)
    for n in range(0, len(sockets), 500):
        await asyncio.gather(*(ws.close() for ws in sockets[n:n + 500]), return_exceptions=True)
    return {"connections": len(sockets), "failed": dict(failures), "deflate_negotiated": deflate,
            "rss_before_mb": round(before, 1), "rss_after_mb": round(after, 1), "delta_mb": round(after - before, 1),
            "kb_per_connection": round((after - before) * 1024 / max(len(sockets), 1), 1),
            "open_seconds": round(opened, 1), "idle_cpu_cores": round(idle_cpu, 3)}


def run(args: argparse.Namespace) -> Json:
    count, settle = args.connections, args.settle
    limit = raise_file_limit(count * 2 + 1000)
    if limit < count + 500:
        raise RuntimeError(f"RLIMIT_NOFILE allows only {limit} files: not enough for {count} sockets")
    results: Json = {"connections": count, "settle_seconds": settle, "cpu_window_seconds": CPU_WINDOW,
                     "target_connections": TARGET_CONNECTIONS, "target_mb": TARGET_MB}
    with baseline_server(args.output, max_files=count * 2 + 1000) as (url, pid):
        say(f"idle [baseline]: {count} sockets to the plain websockets server")
        urls = [f"{url}/customer?conv=c{n}&agent=none" for n in range(count)]
        results["baseline"] = asyncio.run(hold(urls, pid, settle))
        say(f"idle [baseline]: {json.dumps(results['baseline'])}")
    for profile in PROFILES:
        with handoff_server(args.output, profile) as server:
            pid = server.processes[0].pid
            fresh = rss_mb(pid)
            say(f"idle [{profile}]: creating {count} conversations over REST")
            started = time.monotonic()
            urls = asyncio.run(create_conversations(server, count))
            created = time.monotonic() - started
            say(f"idle [{profile}]: opening {count} customer sockets")
            held = asyncio.run(hold(urls, pid, settle))
            results[profile] = {**held, "rss_fresh_mb": round(fresh, 1), "create_seconds": round(created, 1),
                                "kb_per_conversation": round((held["rss_before_mb"] - fresh) * 1024 / count, 1)}
            say(f"idle [{profile}]: {json.dumps(results[profile])}")
    return results


def rows(result: Json) -> list[TargetRow]:
    base, found = result["baseline"], []
    for profile in PROFILES:
        i = result.get(profile)
        if i:
            short = result["connections"] < result["target_connections"]  # a short run: not judged
            met = None if short else i["connections"] >= result["target_connections"] and \
                i["rss_after_mb"] < result["target_mb"]
            found.append(TargetRow(
                f"{i['connections']:,} idle customer sockets, {profile}: server RSS",
                f"{i['rss_after_mb']:.0f} MB ({i['kb_per_connection']:.1f} KB per socket)",
                f"{base['rss_after_mb']:.0f} MB ({base['kb_per_connection']:.1f} KB per socket)",
                f"{ratio(i['kb_per_connection'], base['kb_per_connection'])} per socket",
                f"{result['target_connections']:,} sockets < {result['target_mb'] / 1024:g} GB", met))
    return found


def lines(result: Json) -> list[str]:
    r = result
    measured = [(name, r[name]) for name in ("baseline", *PROFILES) if name in r]
    return [f"**Idle connections.** {r['connections']:,} conversations created over REST first (the handoff "
            "servers, without the bot), then as many customer sockets opened (each reads its `hello`, offering "
            "permessage-deflate) and left idle; the server's RSS (`VmRSS`) when fresh, before the sockets and "
            f"{r['settle_seconds']:g} s after they are open (the larger of that and the reading "
            f"{r['cpu_window_seconds']:g} s later), and its CPU between those two readings.", "",
            *table(["server", "sockets open", "failed", "deflate negotiated", "RSS fresh (MB)", "KB per conversation",
                    "RSS before sockets (MB)", "RSS after (MB)", "KB per socket", "opening took (s)",
                    "idle CPU (cores)"],
                   [[name, f"{i['connections']:,}", sum(i["failed"].values()), i.get("deflate_negotiated", "-"),
                     f"{i['rss_fresh_mb']:.0f}" if "rss_fresh_mb" in i else "-",
                     f"{i['kb_per_conversation']:.1f}" if "kb_per_conversation" in i else "-",
                     f"{i['rss_before_mb']:.0f}", f"{i['rss_after_mb']:.0f}", f"{i['kb_per_connection']:.1f}",
                     i["open_seconds"], i["idle_cpu_cores"]] for name, i in measured]), ""]


BENCHMARK = Benchmark("idle", run, lines, add_arguments=add_arguments, rows=rows)
