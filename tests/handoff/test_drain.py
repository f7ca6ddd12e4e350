"""The Drain behind socket outboxes and bus deliveries: in order, bounded, and no task while idle."""

from __future__ import annotations

import asyncio

from handoff.drain import Drain


def tasks_named(name: str) -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name() == name and not t.done()]


async def test_items_are_handled_in_order_by_a_task_that_ends_when_they_do() -> None:
    seen: list[int] = []
    gate = asyncio.Event()

    async def handle(item: int) -> None:
        await gate.wait()
        seen.append(item)

    drain: Drain[int] = Drain(handle, limit=10, name="drain-under-test")
    assert tasks_named("drain-under-test") == []
    for n in range(3):
        assert drain.put(n)
    assert len(tasks_named("drain-under-test")) == 1  # one task for all waiting items
    gate.set()
    await asyncio.sleep(0.01)
    assert seen == [0, 1, 2]
    assert tasks_named("drain-under-test") == []  # idle again: no task
    assert drain.put(3)
    await asyncio.sleep(0.01)
    assert seen == [0, 1, 2, 3]


async def test_a_full_drain_refuses_an_item_and_keeps_the_others() -> None:
    seen: list[int] = []

    async def handle(item: int) -> None:
        seen.append(item)

    drain: Drain[int] = Drain(handle, limit=2, name="full", running=False)
    assert drain.put(1) and drain.put(2)
    assert not drain.put(3)
    await asyncio.sleep(0.01)
    assert seen == [] and tasks_named("full") == []  # not running yet: items wait without a task
    drain.start()
    await asyncio.sleep(0.01)
    assert seen == [1, 2]


async def test_pause_keeps_items_and_stop_from_inside_the_handler_ends_it() -> None:
    seen: list[str] = []
    drain: Drain[str] = Drain(lambda item: handle(item), limit=10, name="stopping")

    async def handle(item: str) -> None:
        seen.append(item)
        if item == "pause":
            drain.pause()
        if item == "stop":
            await drain.stop()  # from inside: returns, and nothing more is handled

    for item in ("a", "pause", "b"):
        drain.put(item)
    await asyncio.sleep(0.01)
    assert seen == ["a", "pause"]  # "b" waits
    drain.start()
    drain.put("stop")
    drain.put("never")
    await asyncio.sleep(0.01)
    assert seen == ["a", "pause", "b", "stop"]
    assert drain.stopped and not drain.put("after")
    await drain.stop()  # twice is fine
