"""The demo month played (``python -m handoff demo-history``, docs/demo-history.md): cut into parts of
consecutive days, the parts shared out among worker processes, each playing its parts side by side with the
simulation of :mod:`handoff.cli.demo`; and ``--clear``.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import random
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event
from starlette.datastructures import Secret

from handoff.adapters.store import MemoryStore
from handoff.adapters.tickets import TicketLog
from handoff.cli.demo import HOURS, SHIFTS, WEEKDAY, DemoBot, Outcome, Simulation, Texts
from handoff.core.errors import BadRequest
from handoff.core.model import Presence
from handoff.core.routing import build_business_hours, build_queue_order, build_router, load_routing_config
from handoff.service import HandoffService
from handoff.service.auth import Principal
from handoff.service.insights import WEEK, week_of
from handoff.settings import HandoffSettings

logger = logging.getLogger(__name__)

PARTS = 6
"""The month is played in this many parts side by side (consecutive days each, with a live store and a clock of
their own, on the one ticket log): while one waits for the database another works."""
PROCESSES = 2
"""The parts are shared out among this many processes (at most one a core), each playing its parts side by side:
the simulation is CPU-bound, and a small machine has two cores. The database takes writers from several
processes: PostgreSQL; SQLite in its write-ahead log mode, a writer waiting up to its busy timeout for another's
lock (:data:`handoff.adapters.tickets.database.SQLITE_BUSY_TIMEOUT`)."""
READY_TIMEOUT = 120.0
"""Seconds a worker process waits for the others' services to start before it gives up."""
COUNTS = ("conversations", "handoffs", "offline", "resolved", "handed_back", "transferred", "abandoned", "ratings",
          "votes")
"""The fields of :class:`Outcome` that add up over the parts."""

async def demo_history(settings: HandoffSettings, *, days: int = 30, conversations: int = 2000, seed: int | None = None,
                       once: bool = False, progress: Callable[[str], None] = print) -> Outcome | None:
    """Write the demo history into the ticket log of ``settings`` (migrated, with the seeded team); None when
    ``once`` and the log has conversations already (the demo or real ones: nothing is added to those)."""
    if days < 1 or conversations < 1:
        raise BadRequest("--days and --conversations must be at least 1.")
    Texts.load()  # without the knowledge base or the training data, before anything is written
    log = await open_log(settings)
    try:
        if once and not await log.demo.is_empty():
            return None
        team = {a.username: Principal(a.agent_id, a.username, a.name, a.role)
                for a in await log.people.list_agents(active_only=True) if a.username in SHIFTS}
        if not team:
            raise BadRequest("The demo history needs the demo team: run `python -m handoff seed data/demo` first.")
        start = (time.time() // 86400 - days) * 86400  # midnight (UTC) ``days`` ago; the month ends last midnight
        parts = month_parts(start, days, conversations)
        month = Month(settings, team, start, start + days * 86400, seed,
                      logging.getLogger("handoff").getEffectiveLevel())
        shown = Shown(conversations, lambda done: progress(f"demo history: {done}/{conversations} conversations"))
        began = time.perf_counter()
        # one process unless the database can be reached from others (not an in-memory SQLite one)
        processes = min(PROCESSES, len(parts), os.cpu_count() or 1)
        if log.engine.dialect.name == "sqlite" and log.engine.url.database in (None, "", ":memory:"):
            processes = 1
        if processes > 1:
            outcomes = await in_processes(month, [parts[i::processes] for i in range(processes)], shown)
        else:
            outcomes = [await month.play(parts, shown)]
            await month.find_topics(month.weeks())
    finally:
        await log.close()
    outcome = Outcome(seconds=time.perf_counter() - began)
    for played in outcomes:
        for name in COUNTS:
            setattr(outcome, name, getattr(outcome, name) + getattr(played, name))
    return outcome


Part = tuple[int, range, int]
"""One part of the month: its number (which seeds its randomness), its days (since the start), its conversations."""


def month_parts(start: float, days: int, conversations: int) -> list[Part]:
    """The month cut into :data:`PARTS` runs of consecutive days, the conversations shared by the days' weights."""
    parts = min(PARTS, days)
    spans = [range(i * days // parts, (i + 1) * days // parts) for i in range(parts)]
    day0 = datetime.fromtimestamp(start, UTC)
    weight = [sum(WEEKDAY[(day0 + timedelta(days=d)).weekday()] for d in span) for span in spans]
    counts = [round(conversations * sum(weight[:i + 1]) / sum(weight)) for i in range(parts)]
    return [(i, span, counts[i] - (counts[i - 1] if i else 0)) for i, span in enumerate(spans)]


async def open_log(settings: HandoffSettings) -> TicketLog:
    """The ticket log for the load: on SQLite it syncs the write-ahead log at checkpoints rather than at every
    commit (still safe if the process stops; only a power cut could lose the last transactions of the load)."""
    log = await TicketLog.open(settings.database_url)
    if log.engine.dialect.name == "sqlite":
        event.listen(log.engine.sync_engine, "connect", sync_at_checkpoints)
    return log


class Shown:
    """The conversations played so far, told about twenty times over the month."""

    def __init__(self, total: int, tell: Callable[[int], None]) -> None:
        self.total, self.tell, self.shown = total, tell, 0

    def __call__(self, done: int) -> None:
        if done >= self.shown + max(100, self.total // 20):
            self.shown = done
            self.tell(done)


@dataclass(frozen=True)
class Month:
    """What each process needs to play its parts of the month (pickled to the worker processes)."""

    settings: HandoffSettings
    team: dict[str, Principal]
    start: float
    end: float  # the last midnight (UTC)
    seed: int | None
    level: int  # the level of the ``handoff`` loggers (at least WARNING while playing)

    async def play(self, parts: list[Part], progress: Callable[[int], None],
                   ready: Callable[[], None] = lambda: None) -> Outcome:
        """Play ``parts`` side by side in this process, each with a service, live store and clock of its own on
        one ticket log; ``ready`` (blocking, in a thread) once their services have started, before anything is
        played (all processes rebuild their live stores from the log as it was before the month); ``progress``
        gets the conversations played so far."""
        texts = Texts.load()
        log = await open_log(self.settings)
        simulations = [simulation_of(self.settings, log, texts, self.team,
                                     random.Random(f"{self.seed}-{i}" if self.seed is not None else None), self.start)
                       for i, _, _ in parts]
        chatter = logging.getLogger("handoff")
        level = chatter.level
        chatter.setLevel(max(logging.WARNING, self.level))  # not a line per simulated transition
        try:
            for simulation in simulations:
                await simulation.service.start(sweeper=False)  # the live store from the log, as at start-up
            await asyncio.to_thread(ready)
            for simulation, (_, span, count) in zip(simulations, parts, strict=True):
                simulation.schedule(span, count)

            def played(_: int) -> None:
                progress(sum(s.outcome.conversations for s in simulations))

            await asyncio.gather(*(simulation.run(played) for simulation in simulations))
            for simulation in simulations:
                await simulation.wind_up()
                for principal in self.team.values():
                    await simulation.service.desk.set_presence(principal, Presence.OFFLINE)
        finally:
            chatter.setLevel(level)
            for simulation in simulations:
                await simulation.service.close()  # each closes the shared log too: the second time does nothing
            await log.close()
        outcome = Outcome()
        for simulation in simulations:
            for name in COUNTS:
                setattr(outcome, name, getattr(outcome, name) + getattr(simulation.outcome, name))
        return outcome


    def weeks(self) -> list[datetime]:
        """The first days (Mondays, UTC) of the weeks the month touches."""
        week, _ = week_of(datetime.fromtimestamp(self.start, UTC))
        weeks = []
        while week.timestamp() < self.end:
            weeks.append(week)
            week += WEEK
        return weeks

    async def find_topics(self, weeks: list[datetime]) -> None:
        """The topics of ``weeks``, found once at the end of the month (on the fake clock) as the topics command
        finds them: what the sweeper's daily runs would have left, without encoding every week's texts again on
        each simulated day."""
        log = await open_log(self.settings)
        service = simulation_of(self.settings, log, Texts.load(), self.team, random.Random(), self.end).service
        try:
            for week in weeks:
                await service.insights.find_topics(week, week + WEEK)
        finally:
            await service.close()  # and the log


async def in_processes(month: Month, groups: list[list[Part]], progress: Callable[[int], None]) -> list[Outcome]:
    """Each group of parts played in a process of its own, all at once, then the weeks' topics found in the same
    processes; ``progress`` gets the conversations played so far in all of them, twice a second."""
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no event loop or connection inherited
    done = context.Array("i", len(groups))
    ready = context.Barrier(len(groups))
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(len(groups), mp_context=context, initializer=join_month,
                             initargs=(done, ready, logging.getLevelName(month.level))) as pool:
        playing = [loop.run_in_executor(pool, play_in_process, month, slot, group)
                   for slot, group in enumerate(groups)]
        while not all(future.done() for future in playing):
            await asyncio.wait(playing, timeout=0.5)
            progress(sum(done[:]))
        outcomes = [future.result() for future in playing]  # a worker's error is raised here
        weeks = month.weeks()  # their topics shared out among the processes too
        await asyncio.gather(*(loop.run_in_executor(pool, topics_in_process, month, weeks[slot::len(groups)])
                               for slot in range(len(groups))))
        return outcomes


_shared: tuple[Any, Any] | None = None
"""In a worker process: the conversations each process has played, and the barrier they all start at."""


def join_month(done: Any, ready: Any, level: str) -> None:
    """The worker process's start: what it shares with the others (they can be handed over only now), and the
    command line's log lines."""
    global _shared
    _shared = (done, ready)
    from handoff.cli import configure_logging

    configure_logging(level)


def topics_in_process(month: Month, weeks: list[datetime]) -> None:
    """A worker process finds the topics of ``weeks``."""
    asyncio.run(month.find_topics(weeks))


def play_in_process(month: Month, slot: int, parts: list[Part]) -> Outcome:
    """A worker process plays its parts; the others wait for its services to start (or hear it failed)."""
    assert _shared is not None, "join_month() starts every worker process"
    done, ready = _shared

    def progress(played: int) -> None:
        done[slot] = played

    try:
        return asyncio.run(month.play(parts, progress, lambda: ready.wait(timeout=READY_TIMEOUT)))
    except BaseException:
        ready.abort()  # the others stop waiting for this one
        raise


def simulation_of(settings: HandoffSettings, log: TicketLog, texts: Texts, team: dict[str, Principal],
                  rng: random.Random, start: float) -> Simulation:
    """One part of the month: a service of its own on the shared ticket log (its own live store, bot and
    clock), so that the parts run side by side and the message writer commits their messages together."""
    clock = [start]
    widget_secret = secrets.token_urlsafe(24)
    config = load_routing_config(settings.routing_config)
    store = MemoryStore()  # no TTLs: its idle timers run on the machine's clock, not the simulation's
    bot = DemoBot()
    # no daily topics run in the simulated sweeper: :func:`find_topics` finds them once, at the end of the month
    service = HandoffService(replace(settings, widget_secret=Secret(widget_secret), insights_hour=None), store=store,
                             log=log, bot=bot, knowledge=NoSuggestions(), router=build_router(config),
                             hours=build_business_hours({"business_hours": HOURS}),
                             queue_order=build_queue_order(config), clock=lambda: clock[0])
    return Simulation(service, store, bot, texts, team, rng, start, clock, widget_secret)


def sync_at_checkpoints(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class NoSuggestions:
    """The Knowledge port without suggestions: nobody reads the console during the simulation."""

    async def for_text(self, text: str, k: int = 3) -> list[dict[str, Any]]:
        return []


async def clear_demo(settings: HandoffSettings) -> dict[str, int]:
    """Delete exactly the demo's data (:mod:`handoff.adapters.tickets.demo`); the rows deleted by table."""
    log = await TicketLog.open(settings.database_url)
    try:
        return await log.demo.delete_demo()
    finally:
        await log.close()
