"""The console's read model: the queue as consoles see it, and what one event costs however long it is."""

from __future__ import annotations

import inspect
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import event

from handoff.adapters.tickets import TicketLog
from handoff.service import HandoffService
from handoff.service.ports import Store
from tests.handoff.conftest import OpenService
from tests.handoff.frames import of_type
from tests.handoff.world import SUPERVISOR, Agent, Customer, FakeClock


class Counted:
    """The real store, with a count of the calls made to it (round trips) and of the items in the lists it
    returns (what was read)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._store, name)
        if not inspect.iscoroutinefunction(attribute):
            return attribute

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            result = await attribute(*args, **kwargs)
            if isinstance(result, list):
                self.calls[f"{name} items"] += len(result)
            return result
        return counted


class Statements:
    """The SQL statements the ticket log sends to its database."""

    def __init__(self) -> None:
        self.count = 0

    def watch(self, log: TicketLog) -> None:
        event.listen(log.engine.sync_engine, "before_cursor_execute", self._one)

    def _one(self, *args: Any) -> None:
        self.count += 1


async def test_consoles_hear_the_queue_change_one_conversation_at_a_time(service: HandoffService,
                                                                         clock: FakeClock) -> None:
    grace = await Agent.sign_in(service, "grace")
    await grace.presence("away")
    customers = [await Customer.start(service) for _ in range(3)]
    for customer in customers:
        await customer.say("a person please")
        clock.advance(1)
    entries = [(await grace.inbox.next(of_type("queue_entry")))["conversation"] for _ in customers]
    assert [e["conversation_id"] for e in entries] == [c.conversation_id for c in customers]
    assert [e["rank"] for e in entries] == sorted(e["rank"] for e in entries)
    hello = await service.desk.hello(grace.principal)
    assert [(s["conversation_id"], s["position"]) for s in hello["queue"]] == [
        (c.conversation_id, n) for n, c in enumerate(customers, start=1)]
    await grace.presence("online")
    exits = [await grace.inbox.next(of_type("queue_exit")) for _ in customers]
    by_id = {e["conversation_id"]: e["version"] for e in exits}
    assert set(by_id) == {c.conversation_id for c in customers}
    for entry in entries:  # each exit is newer than the entry it ends
        assert by_id[entry["conversation_id"]] > entry["version"]
    assert await service.desk.queue(SUPERVISOR) == []


async def test_one_event_costs_the_same_with_ten_or_two_hundred_waiting(open_service: OpenService,
                                                                       clock: FakeClock) -> None:
    counted: list[Counted] = []
    statements = Statements()

    def count(store: Store) -> Store:
        counted.append(Counted(store))
        return counted[-1]  # type: ignore[return-value]

    service = await open_service(wrap_store=count, on_log=statements.watch)
    grace = await Agent.sign_in(service, "grace")
    await grace.presence("away")

    async def cost(action: Callable[[], Awaitable[object]]) -> tuple[dict[str, int], int]:
        counted[0].calls.clear()
        before = statements.count
        await action()
        return dict(counted[0].calls), statements.count - before

    async def queue_up(size: int) -> None:
        for _ in range(size - len(await service.desk.queue(SUPERVISOR))):
            await (await Customer.start(service)).say("a person please")
            clock.advance(1)

    async def one_event_each(newcomer: Customer) -> dict[str, tuple[dict[str, int], int]]:
        escalation = await cost(lambda: newcomer.say("a person please"))  # queued behind the others
        record = await newcomer.record()
        status = await cost(lambda: service.customers.queue_status(record))
        routing = await cost(lambda: grace.presence("online"))  # she takes three, then has no room
        return {"escalation": escalation, "position": status, "routing": routing}

    measured = []
    for size in (10, 200):
        await queue_up(size)
        measured.append(await one_event_each(await Customer.start(service)))
        await grace.presence("away")
        for summary in await service.desk.mine(grace.principal):
            await service.desk.resolve(grace.principal, summary["conversation_id"])
    assert measured[0] == measured[1]
    assert measured[0]["escalation"][1] > 0  # it did write: the ticket, the messages
