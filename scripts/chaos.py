"""``make chaos``: the production profile under faults, with conversations in flight; checks nothing is lost.

Starts a private Redis (no persistence, as the test services run it) and a private PostgreSQL cluster, each on
a free port in a temporary folder (the shared ones on 6379 and 5432 are never touched), the real action
server and Rasa server (on that Redis), and two handoff instances; then customers (the widget's socket,
split between the instances), and the demo agents on the console's socket, answering and resolving. While
they talk, it injects in turn: kill -9 of a handoff instance, of the Rasa server, of the action server, a
restart of Redis (which loses everything it held) and of PostgreSQL (an immediate stop, like a crash), each
process restarted at once. After each fault it measures the time until a new customer is answered by the
bot through every instance (time to recover); at the end, after the customers caught up as the widget does,
it checks against the ticket log that every acknowledged message is stored once and reached the other side,
and that every conversation's live record agrees with the ticket log within ``--settle`` seconds.

    .venv/app/bin/python scripts/chaos.py [--conversations 100] [--faults all] [--short] [--json out.json]
        [--report docs/reliability.md]

Exit status 0 when nothing was lost, duplicated, left undelivered or inconsistent.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402

from scripts.chaos_clients import Agent, Customer, Instances, Ledger, progress_line  # noqa: E402
from scripts.cluster import Cluster, Postgres, Process, build_cluster, stop_cluster  # noqa: E402

PASSWORD = "chaos-password-" + uuid.uuid4().hex[:8]
AGENTS = ["grace", "linus", "ada", "admin"]
FAULTS = ["handoff", "rasa", "actions", "postgres", "redis"]
SHORT_FAULTS = ["handoff", "redis"]


async def probe(url: str) -> bool:
    """A new customer on this instance asks the bot something and the bot answers it (within 15 s)."""
    with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
        async with httpx.AsyncClient(base_url=url, timeout=15) as http:
            started = await http.post("/api/conversations", json={"name": "Probe"})
            if started.status_code != 201:
                return False
            data = started.json()
            said = await http.post(f"/api/conversations/{data['conversation_id']}/messages",
                                   json={"text": "how much is shipping?", "client_id": uuid.uuid4().hex},
                                   headers={"Authorization": f"Bearer {data['customer_token']}"})
            if said.status_code != 200:
                return False
            history = await http.get(f"/api/conversations/{data['conversation_id']}/messages",
                                     headers={"Authorization": f"Bearer {data['customer_token']}"})
            answer = history.json()  # the bot's answer, not its stand-in (a hand-off when Rasa is down)
            return answer["state"] == "bot" and any(m["sender"] == "bot" for m in answer["messages"])
    return False


async def recovered(cluster: Cluster, customers: list[Customer], deadline: float) -> float | None:
    """Seconds until every instance answers a new customer's probe and no customer in flight has a message
    waiting for its acknowledgement (None: not within ``deadline`` seconds)."""
    started = time.monotonic()
    while time.monotonic() - started < deadline:
        if not any(c.pending for c in customers) and all(
                await asyncio.gather(*(probe(url) for url in cluster.urls()))):
            return time.monotonic() - started
        await asyncio.sleep(1)
    return None


def fault_actions(cluster: Cluster) -> dict[str, Callable[[], Awaitable[None]]]:
    """How each fault is done: kill -9 (or an immediate stop) and a restart straight away."""
    async def restart(process: Process) -> None:
        process.kill()
        await asyncio.to_thread(process.start, False)

    async def redis() -> None:
        await restart(cluster.redis)
        await asyncio.sleep(0.5)

    async def postgres() -> None:
        await asyncio.to_thread(cluster.postgres.stop, "immediate")
        await asyncio.sleep(2)
        await asyncio.to_thread(cluster.postgres.start)

    return {"handoff": lambda: restart(cluster.handoff[0]), "rasa": lambda: restart(cluster.rasa[0]),
            "actions": lambda: restart(cluster.actions), "redis": redis, "postgres": postgres}


FAULT_NAMES = {"handoff": "kill -9 a handoff instance", "rasa": "kill -9 the Rasa server",
               "actions": "kill -9 the action server", "redis": "restart Redis (no persistence)",
               "postgres": "restart PostgreSQL (immediate stop)"}


@dataclass
class Outcome:
    fault: str
    sent: int = 0
    acknowledged: int = 0
    lost: int = 0
    duplicated: int = 0
    undelivered: int = 0
    recover_seconds: float | None = None


async def check(cluster: Cluster, ledger: Ledger, customers: list[Customer], agents: list[Agent],
                outcomes: dict[str, Outcome], settle: float) -> dict[str, Any]:
    """Compare what the clients were told with the ticket log; wait up to ``settle`` s for consistency."""
    await asyncio.gather(*(c.catch_up() for c in customers))
    database = await asyncpg.connect(cluster.postgres.url())
    try:
        rows = await database.fetch("SELECT id, conversation_id, sender, client_id FROM messages")
        states = {r["id"]: r["state"] for r in await database.fetch("SELECT id, state FROM conversations")}
    finally:
        await database.close()
    stored: dict[tuple[str, str], list[int]] = {}
    bot_after: dict[str, int] = {}  # conversation -> id of its last bot message
    for row in rows:
        if row["client_id"]:
            stored.setdefault((row["conversation_id"], row["client_id"]), []).append(row["id"])
        if row["sender"] == "bot":
            bot_after[row["conversation_id"]] = max(bot_after.get(row["conversation_id"], 0), row["id"])
    for ack in ledger.acked.values():
        outcome = outcomes[ack.phase]
        outcome.acknowledged += 1
        ids = stored.get((ack.conversation_id, ack.client_id), [])
        if ack.message_id not in ids:
            outcome.lost += 1
        if len(ids) > 1:
            outcome.duplicated += 1
        if ack.sender == "agent":
            delivered = ack.message_id in ledger.seen_by_customer.get(ack.conversation_id, set())
        else:
            delivered = (ack.message_id in ledger.seen_by_agents or bot_after.get(ack.conversation_id, 0)
                         > ack.message_id or states.get(ack.conversation_id) in ("queued", "offline"))
        outcome.undelivered += not delivered
    for phase in ledger.sent.values():
        outcomes[phase].sent += 1
    every = list(ledger.seen_by_customer)  # every conversation the customers started, forgotten ones too
    started, inconsistent = time.monotonic(), await inconsistent_conversations(cluster, every)
    while inconsistent and time.monotonic() - started < settle:
        await asyncio.sleep(2)
        inconsistent = await inconsistent_conversations(cluster, every)
    return {"inconsistent": inconsistent, "consistent_after": round(time.monotonic() - started, 1),
            "forgotten": sorted(ledger.forgotten)}


async def inconsistent_conversations(cluster: Cluster, conversations: list[str]) -> list[str]:
    """Conversations whose live record (as a supervisor sees it) and ticket log disagree on the state."""
    async with httpx.AsyncClient(base_url=cluster.urls()[-1], timeout=15) as http:
        login = await http.post("/api/auth/login", json={"username": "ada", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        database = await asyncpg.connect(cluster.postgres.url())
        try:
            logged = {r["id"]: r["state"] for r in await database.fetch("SELECT id, state FROM conversations")}
        finally:
            await database.close()
        wrong = []
        for conversation_id in conversations:
            live = await http.get(f"/api/agent/conversations/{conversation_id}", headers=headers)
            state = live.json().get("state") if live.status_code == 200 else f"HTTP {live.status_code}"
            if state != logged.get(conversation_id):
                wrong.append(f"{conversation_id}: live {state}, ticket log {logged.get(conversation_id)}")
        return wrong


async def chaos(cluster: Cluster, conversations: int, faults: list[str], steady: float, settle: float,
                interval: float, recover_within: float) -> dict[str, Any]:
    ledger, instances, started = Ledger(), Instances(cluster.urls()), time.monotonic()
    random.seed(7)
    customers = [Customer(n, instances, ledger, wants_person=n % 4 == 0, interval=interval)
                 for n in range(conversations)]
    agents = [Agent(name, PASSWORD, n, instances, ledger) for n, name in enumerate(AGENTS)]
    tasks = [asyncio.create_task(a.run()) for a in agents] + [asyncio.create_task(c.run()) for c in customers]
    outcomes = {"start": Outcome("steady (no fault)")}

    async def report() -> None:
        while True:
            print(progress_line(ledger, customers, started), flush=True)
            await asyncio.sleep(5)

    reporter = asyncio.create_task(report())
    await asyncio.sleep(steady)
    actions = fault_actions(cluster)
    for fault in faults:
        ledger.phase = fault
        outcomes[fault] = Outcome(FAULT_NAMES[fault])
        print(f"== fault: {FAULT_NAMES[fault]}", flush=True)
        await actions[fault]()
        outcomes[fault].recover_seconds = await recovered(cluster, customers, recover_within)
        print(f"== recovered from {fault} in {outcomes[fault].recover_seconds} s", flush=True)
        await asyncio.sleep(steady)
    ledger.phase = "end"
    outcomes["end"] = Outcome("after the last fault")
    for customer in customers:
        customer.stopping = True
    for agent in agents:
        agent.stopping = True
    await asyncio.sleep(interval * 2)  # the last messages get their acks and answers
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    reporter.cancel()
    print("== checking against the ticket log", flush=True)
    final = await check(cluster, ledger, customers, agents, outcomes, settle)
    return {"outcomes": [vars(o) for o in outcomes.values()], "errors": ledger.errors,
            "reconnects": ledger.reconnects, "conversations": conversations, "settle": settle,
            "recover_within": recover_within, **final}


def table(result: dict[str, Any]) -> str:
    rows = ["| fault | messages sent | acknowledged | lost | duplicated | undelivered | time to recover |",
            "|---|---|---|---|---|---|---|"]
    for o in result["outcomes"]:
        recover = "-" if o["fault"].startswith(("steady", "after")) else (
            f"not within {result['recover_within']:.0f} s" if o["recover_seconds"] is None
            else f"{o['recover_seconds']:.1f} s")
        rows.append(f"| {o['fault']} | {o['sent']} | {o['acknowledged']} | {o['lost']} | {o['duplicated']} | "
                    f"{o['undelivered']} | {recover} |")
    return "\n".join(rows)


def passed(result: dict[str, Any]) -> bool:
    """Nothing lost, duplicated or undelivered, every fault recovered from, every conversation consistent."""
    return not (result["inconsistent"] or result["forgotten"] or any(
        o["lost"] or o["duplicated"] or o["undelivered"] or (o["recover_seconds"] is None and not o["fault"].startswith(
            ("steady", "after"))) for o in result["outcomes"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--faults", default=",".join(FAULTS), help=f"comma list of {', '.join(FAULTS)}")
    parser.add_argument("--short", action="store_true",
                        help=f"10 conversations, faults {', '.join(SHORT_FAULTS)}, shorter phases (make test)")
    parser.add_argument("--steady", type=float, default=20.0, help="seconds of talk before and after each fault")
    parser.add_argument("--settle", type=float, default=60.0,
                        help="seconds the conversations have to agree with the ticket log (30 with --short)")
    parser.add_argument("--interval", type=float, default=8.0, help="seconds between a customer's messages")
    parser.add_argument("--recover-within", type=float, default=180.0,
                        help="seconds a fault has to be recovered from (60 with --short)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    args = parser.parse_args(argv)
    faults = SHORT_FAULTS if args.short and args.faults == ",".join(FAULTS) else args.faults.split(",")
    conversations = 10 if args.short and args.conversations == 100 else args.conversations
    steady = 10.0 if args.short and args.steady == 20.0 else args.steady
    interval = 4.0 if args.short and args.interval == 8.0 else args.interval
    recover_within = 60.0 if args.short and args.recover_within == 180.0 else args.recover_within
    settle = 30.0 if args.short and args.settle == 60.0 else args.settle
    unknown = set(faults) - set(FAULTS)
    if unknown:
        parser.error(f"unknown faults {sorted(unknown)}; valid: {', '.join(FAULTS)}")
    folder = Path(tempfile.mkdtemp(prefix="chaos-"))
    print(f"== starting Redis, PostgreSQL, the action server, Rasa and 2 handoff instances (logs in {folder})",
          flush=True)
    started: list[Process | Postgres] = []
    try:
        cluster = build_cluster(folder, 2, started, PASSWORD)
        result = asyncio.run(chaos(cluster, conversations, faults, steady, settle, interval, recover_within))
    finally:
        stop_cluster(started)
        if not args.keep:
            subprocess.run(["rm", "-rf", str(folder)], check=False)
    result["command"] = "scripts/chaos.py " + " ".join(argv if argv is not None else sys.argv[1:])
    print(table(result))
    print(f"conversations forgotten by the service: {len(result['forgotten'])}; inconsistent after "
          f"{result['settle']:.0f} s: {len(result['inconsistent'])}")
    for line in result["inconsistent"][:10]:
        print("  " + line)
    print(f"errors seen by clients: {result['errors']}; reconnects: {result['reconnects']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if passed(result) else 1


if __name__ == "__main__":
    raise SystemExit(main())
