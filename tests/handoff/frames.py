"""Frames a client received, kept in order so a test waits for the one it expects (sockets in the end-to-end
tests, bus subscribers in the in-process ones), and the predicates tests wait on."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

Frame = dict[str, Any]


class Frames:
    """Every frame a client received, in arrival order; ``_more`` waits until at least one more has come."""

    def __init__(self) -> None:
        self.frames: list[Frame] = []
        self._seen = 0

    async def _more(self) -> None:
        raise NotImplementedError

    async def next(self, predicate: Callable[[Frame], bool], timeout: float) -> Frame:
        """The first frame from now on (in arrival order) that matches."""
        async def read() -> Frame:
            while True:
                while self._seen < len(self.frames):
                    frame = self.frames[self._seen]
                    self._seen += 1
                    if predicate(frame):
                        return frame
                await self._more()

        try:
            return await asyncio.wait_for(read(), timeout)
        except TimeoutError:
            raise AssertionError(f"no matching frame in {timeout} s; received: {self.frames[-10:]}") from None

    async def seen(self, predicate: Callable[[Frame], bool], timeout: float) -> Frame:
        """The first frame ever received that matches (already read or still to come)."""
        for frame in self.frames[:self._seen]:
            if predicate(frame):
                return frame
        return await self.next(predicate, timeout)


def of_type(kind: str, **fields: Any) -> Callable[[Frame], bool]:
    return lambda frame: frame.get("type") == kind and all(frame.get(k) == v for k, v in fields.items())


def message_from(sender: str, contains: str = "") -> Callable[[Frame], bool]:
    def match(frame: Frame) -> bool:
        message = frame.get("message") or {}
        return frame.get("type") == "message" and message.get("sender") == sender and contains in message.get("text", "")
    return match
