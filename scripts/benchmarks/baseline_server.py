"""The same-run baseline of the relay and idle benchmarks: a minimal relay on the plain ``websockets`` server,
with no storage and no state machine, speaking the service's frames (the customer gets an ack and the echo,
the agent the message) so that the clients' load is the same.

Run as its own process by :func:`baseline_server`: ``python -m scripts.benchmarks.baseline_server PORT``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from scripts.benchmarks.base import APP_PY, ROOT, Json
from scripts.benchmarks.procfs import raise_file_limit
from scripts.benchmarks.report import Output


@contextmanager
def baseline_server(output: Output, max_files: int = 4096) -> Iterator[tuple[str, int]]:
    """The baseline relay on a free port, as a process of its own: (ws url, pid)."""
    from scripts.servers import free_port, start_logged, stop, wait_until_up

    port = free_port()
    log = output.run_dir("baseline") / "baseline.log"
    process = start_logged([str(APP_PY), "-m", "scripts.benchmarks.baseline_server", str(port),
                            "--max-files", str(max_files)], log, {**os.environ, "PYTHONPATH": str(ROOT)}, ROOT)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/", process, 60, log)
        yield f"ws://127.0.0.1:{port}", process.pid
    finally:
        stop([process])


async def serve(port: int) -> None:
    """Serve until cancelled: ``/agent?id=A`` for agents, ``/customer?conv=C&agent=A`` for customers."""
    from websockets.asyncio.server import ServerConnection
    from websockets.asyncio.server import serve as serve_websockets

    agents: dict[str, ServerConnection] = {}
    ids = itertools.count(1)

    def dumps(frame: Json) -> str:
        return json.dumps(frame, separators=(",", ":"))

    async def handler(ws: ServerConnection) -> None:
        url = urlsplit(ws.request.path if ws.request else "/")
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/agent":
            agents[query["id"]] = ws
            await ws.send(dumps({"type": "hello"}))
            await ws.wait_closed()
            agents.pop(query["id"], None)
            return
        conversation_id, agent_id = query.get("conv", ""), query.get("agent", "")
        await ws.send(dumps({"type": "hello", "conversation_id": conversation_id, "messages": []}))
        async for raw in ws:
            frame = json.loads(raw)
            message = {"id": next(ids), "conversation_id": conversation_id, "sender": "customer",
                       "text": frame.get("text"), "client_id": frame.get("client_id"),
                       "created_at": datetime.now(UTC).isoformat()}
            await ws.send(dumps({"type": "ack", "client_id": frame.get("client_id"), "id": message["id"]}))
            await ws.send(dumps({"type": "message", "message": message}))
            agent = agents.get(agent_id)
            if agent is not None:
                await agent.send(dumps({"type": "message", "conversation_id": conversation_id, "message": message}))

    # the service's socket options: 64 KB frames, no permessage-deflate
    async with serve_websockets(handler, "127.0.0.1", port, max_size=64 * 1024, compression=None):
        await asyncio.Future()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("port", type=int)
    parser.add_argument("--max-files", type=int, default=4096, help="open-file limit to ask for (sockets)")
    args = parser.parse_args()
    raise_file_limit(args.max_files)
    asyncio.run(serve(args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
