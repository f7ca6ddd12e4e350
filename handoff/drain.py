"""A queue handled in order by a task that exists only while items wait.

Most sockets and bus subscriptions are idle most of the time (a customer reading,
an agent thinking). An ``asyncio.Queue`` with a consumer task for each would hold a
task, its frame and the queue's futures for every one of them, for as long as they
live; a :class:`Drain` holds nothing but itself while empty. Used by the gateway's
socket outboxes and the bus's local deliveries (docs/architecture.md, "Idle
connections").
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Drain(Generic[T]):
    """Items handed to ``handle`` one at a time, in the order they were put.

    ``handle`` should not raise: an exception ends the task (the items left wait for the next :meth:`put`).
    Items are handled only while ``running``; until :meth:`start` (a drain made with ``running=False``), or
    after :meth:`pause`, they wait. After :meth:`stop` nothing is queued any more.
    """

    __slots__ = ("_handle", "_items", "_limit", "_name", "_task", "running", "stopped")

    def __init__(self, handle: Callable[[T], Awaitable[None]], limit: int, name: str, running: bool = True) -> None:
        self._handle = handle
        self._limit = limit
        self._name = name
        self._items: deque[T] | None = None  # None while empty
        self._task: asyncio.Task[None] | None = None  # None while nothing is being handled
        self.running = running
        self.stopped = False

    def put(self, item: T) -> bool:
        """Queue ``item``; False, and nothing queued, when ``limit`` items wait already (or after :meth:`stop`)."""
        if self.stopped:
            return False
        if self._items is None:
            self._items = deque()
        if len(self._items) >= self._limit:
            return False
        self._items.append(item)
        self._kick()
        return True

    def start(self) -> None:
        """Run: handle what waits, and what comes."""
        if not self.stopped:
            self.running = True
            self._kick()

    def _kick(self) -> None:
        if self.running and self._task is None and self._items:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=self._name)

    def pause(self) -> None:
        """Handle nothing more after the current item (items put meanwhile wait)."""
        self.running = False

    async def stop(self) -> None:
        """Handle nothing more and forget what waits; the current item's handling is cancelled, unless this is
        called from it. Safe to call twice."""
        self.running, self.stopped = False, True
        task = self._task
        if task is not None and asyncio.current_task() is not task:
            task.cancel()
            await asyncio.wait([task])
        self._items = None

    async def _run(self) -> None:
        try:
            while self._items and self.running:
                await self._handle(self._items.popleft())
        finally:  # nothing left (no await since the check), paused or stopped: a put from now on starts again
            self._task = None
            if not self._items:
                self._items = None
