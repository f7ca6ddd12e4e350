"""What one change of the queue costs with 10, 100 and 1,000 conversations waiting, in process, in both
profiles: the service as built (the read model) beside the design it replaced, rebuilt here as it was, in
the same run.

- **queue update**: what the consoles are sent when a conversation enters the queue. Now: the conversation's
  summary, rendered from its live record, in one ``queue_entry`` frame (``Board.moved``). Before: the whole
  queue rebuilt (every queued record read from the store one by one, sorted, and one ticket-log transaction
  per conversation for its customer, ticket and newest message) and published as one ``queue`` frame.
- **position**: a waiting customer's place and wait estimate (every 5 s per waiting customer). Now: one
  sorted-set rank. Before: every queued record read and sorted.
- **escalation**: one more customer handed off (bot down, nobody free) with the queue at that length, as the
  service does it now, end to end in process (ticket, queue, notices, frames).

One console socket's worth of subscriber listens on the queue channel, so the frames are really delivered.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from scripts.benchmarks.base import Benchmark, Flags, Json, TargetRow
from scripts.benchmarks.handoff_service import PROFILES
from scripts.benchmarks.report import line_chart, ratio, say, table
from scripts.benchmarks.stats import summary

SAMPLES = 30  # measurements of each operation per queue length (fewer when one takes over BUDGET seconds)
BUDGET = 15.0


def add_arguments(flags: Flags) -> None:
    flags.add_argument("--queue-sizes", default="10,100,1000", help="queue lengths measured (comma-separated)")


async def timed(action: Callable[[], Awaitable[object]], samples: int = SAMPLES) -> list[float]:
    """Milliseconds per call of ``action``, ``samples`` times or until ``BUDGET`` seconds are spent."""
    found: list[float] = []
    spent = 0.0
    while len(found) < samples and (spent < BUDGET or len(found) < 3):
        started = time.perf_counter()
        await action()
        found.append((time.perf_counter() - started) * 1000)
        spent += found[-1] / 1000
    return found


async def old_queue_frame(service: Any, log: Any, store: Any, order: Any, clock: Callable[[], float]) -> Json:
    """The queue frame as the replaced design built it on every queue change (``Views.queue_summaries``)."""
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from handoff.adapters.tickets.conversations import read_last_message
    from handoff.adapters.tickets.models import Customer
    from handoff.adapters.tickets.ticketing import read_ticket
    from handoff.core.model import State
    from handoff.service.board import summary as render

    records = [record for record in [await store.get_conversation(cid) for cid in await store.queue()]
               if record is not None and record.state is State.QUEUED]
    sessions = async_sessionmaker(log.engine, expire_on_commit=False)
    summaries = []
    for position, record in enumerate(order.sort(records, clock()), start=1):
        async with sessions() as session:  # one transaction per conversation, as ``summary_facts`` did
            customer = await session.get(Customer, record.customer_id)
            ticket = await read_ticket(session, record.ticket_id) if record.ticket_id is not None else None
            last = await read_last_message(session, record.conversation_id)
        shown = render(record, service.settings.accept_timeout, position=position, last_message=last)
        shown["customer"].update(name=customer.name if customer else None,
                                 email=customer.email if customer else None,
                                 value_tier=customer.value_tier if customer else "standard")
        shown["reasons"] = [r.get("code") for r in (ticket.reasons if ticket else [])]
        summaries.append(shown)
    frame = {"type": "queue", "queue": summaries}
    await store.publish("queue", frame)
    return frame


async def old_position(store: Any, order: Any, clock: Callable[[], float], record: Any) -> Any:
    """A customer's place as the replaced design found it: every queued record read, then sorted."""
    from handoff.core.model import State

    records = [r for r in [await store.get_conversation(cid) for cid in await store.queue()]
               if r is not None and r.state is State.QUEUED]
    await store.agents()
    await store.average_handle_time(300.0)
    return order.position_of(record.conversation_id, records, clock())


async def measure_profile(profile: str, sizes: list[int], folder: Path) -> Json:
    """Build the service in process on the profile's store and database, fill the queue, measure."""
    from dataclasses import replace

    from handoff.adapters.knowledge import Suggestions
    from handoff.adapters.rasa import RasaClient
    from handoff.adapters.store import open_store
    from handoff.adapters.tickets import TicketLog, migrate
    from handoff.core.routing import build_business_hours, build_queue_order, build_router, load_routing_config
    from handoff.service import HandoffService
    from handoff.settings import HandoffSettings
    from scripts.servers import free_port
    from tests.handoff.e2e.harness import profile_env

    env, clean = profile_env(profile, folder)
    try:
        settings = replace(HandoffSettings(), database_url=env["DATABASE_URL"], redis_url=env.get("REDIS_URL"),
                           key_prefix=env.get("HANDOFF_KEY_PREFIX", "handoff:"))
        await migrate(settings.database_url)
        config = load_routing_config(settings.routing_config)
        store, log, order = await open_store(settings.redis_url, settings.key_prefix), \
            await TicketLog.open(settings.database_url), build_queue_order(config)
        service = HandoffService(  # a bot that does not answer: every customer escalates (bot_unavailable)
            settings, store=store, log=log, bot=RasaClient(f"http://127.0.0.1:{free_port()}", "", 5.0),
            knowledge=Suggestions(False), router=build_router(config), hours=build_business_hours(config),
            queue_order=order)
        await service.start(sweeper=False)
        delivered: list[int] = []

        async def console(frame: Json) -> None:
            delivered.append(len(frame.get("queue", [1])))

        subscription = await store.subscribe("queue", console)
        try:
            return {"sizes": [await measure_size(service, store, log, order, size) for size in sizes],
                    "frames_delivered": len(delivered)}
        finally:
            await subscription.close()
            await service.close()
    finally:
        clean()


async def escalate_one(service: Any) -> Any:
    record = await service.customers.open(name=f"Bench {uuid.uuid4().hex[:6]}", email="bench@example.com")
    said = await service.customers.says(record.conversation_id, "hello?", uuid.uuid4().hex)
    await service.customers.bot_turn(said)
    return record


async def measure_size(service: Any, store: Any, log: Any, order: Any, size: int) -> Json:
    """Fill the queue to ``size``, time each operation on it, then time escalations there."""
    from handoff.core.model import State

    clock = time.time
    while len(await store.queue()) < size:
        await escalate_one(service)
    say(f"queue update: {size} waiting, measuring")
    record = (await store.queued(size // 2, 1))[0]  # one in the middle of the queue
    result = {
        "queued": len(await store.queue()),
        "update_new": summary(await timed(lambda: service.board.moved(State.BOT, record))),
        "update_old": summary(await timed(lambda: old_queue_frame(service, log, store, order, clock))),
        "position_new": summary(await timed(lambda: service.board.queue_status(record))),
        "position_old": summary(await timed(lambda: old_position(store, order, clock, record))),
        "escalation": summary(await timed(lambda: escalate_one(service), samples=10)),
    }
    for extra in await store.queued(size):  # the ten escalations leave again: the next length starts at size
        await store.update_conversation(extra.conversation_id, [State.QUEUED], {"state": State.ABANDONED})
    return result


def run(args: argparse.Namespace) -> Json:
    logging.getLogger("handoff").setLevel(logging.ERROR)  # every escalation here finds the bot down, on purpose
    sizes = sorted(int(s) for s in args.queue_sizes.split(","))
    found: Json = {"sizes": sizes, "profiles": {}}
    for profile in PROFILES:
        say(f"queue update: {profile} profile, queue lengths {sizes}")
        found["profiles"][profile] = asyncio.run(measure_profile(profile, sizes, args.output.run_dir(
            f"queue-{profile}")))
    return found


def rows(result: Json) -> list[TargetRow]:
    found = []
    for profile, measured in result["profiles"].items():
        largest = measured["sizes"][-1]
        new, old = largest["update_new"]["p50_ms"], largest["update_old"]["p50_ms"]
        found.append(TargetRow(f"queue update p50 with {largest['queued']:,} waiting, {profile}", f"{new:.3f} ms",
                               f"{old:.1f} ms (the replaced design)", f"1/{old / new:,.0f}" if new else "",
                               "flat in the queue length", None))
    return found


def lines(result: Json) -> list[str]:
    out = ["**Queue updates.** What one change of the queue costs, in process, with the queue at each length "
           "(`scripts/benchmarks/queue_update.py`): the read model beside the design it replaced, rebuilt in the "
           "benchmark as it was, in the same run. *Update*: the consoles' frame when a conversation enters the "
           "queue (now one `queue_entry`; before, the whole queue read back and one ticket-log transaction per "
           "conversation). *Position*: a waiting customer's place and wait. *Escalation*: one more customer "
           "handed off at that length, end to end (bot down, nobody free). p50 / p95 in ms over up to "
           f"{SAMPLES} runs each.", ""]
    for profile, measured in result["profiles"].items():
        out += [f"{profile}:", ""]
        out += table(["waiting", "update now", "update before", "before / now", "position now", "position before",
                      "escalation now"],
                     [[f"{m['queued']:,}", _ms(m["update_new"]), _ms(m["update_old"]),
                       ratio(m["update_old"]["p50_ms"], m["update_new"]["p50_ms"], 0),
                       _ms(m["position_new"]), _ms(m["position_old"]), _ms(m["escalation"])]
                      for m in measured["sizes"]])
        out += [""]
    return [*out, "![Queue update cost by queue length](img/handoff-queue-update.png)", ""]


def _ms(s: Json) -> str:
    return f"{s['p50_ms']:.3f} / {s['p95_ms']:.3f}"


def chart(result: Json, img: Path) -> None:
    series = []
    for profile, measured in result["profiles"].items():
        waiting = [m["queued"] for m in measured["sizes"]]
        series += [(waiting, [m["update_new"]["p50_ms"] for m in measured["sizes"]], f"{profile}: now"),
                   (waiting, [m["update_old"]["p50_ms"] for m in measured["sizes"]], f"{profile}: before")]
    line_chart(img / "handoff-queue-update.png", series, "conversations waiting", "ms per queue update (p50)",
               "One queue update", log_x=True, log_y=True)


BENCHMARK = Benchmark("queue_update", run, lines, add_arguments=add_arguments, rows=rows, chart=chart)
