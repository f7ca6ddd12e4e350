"""A test double of an IM provider (the transport's far side): it records what the service sends, can be down,
and hands the service customers' events as a provider would (the same event as often as the test likes)."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field

from handoff.core.channels import Rendered
from handoff.service.ports import Deliver, DeliveryFailed, InboundIm


@dataclass
class FakeImProvider:
    """An :class:`~handoff.service.ports.ImTransport` for ``channel`` whose provider is this object."""

    channel: str = "xmpp"
    exclusive: bool = True
    down: bool = False
    sent: list[tuple[str, Rendered]] = field(default_factory=list)
    deliver: Deliver | None = None
    starts: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self, deliver: Deliver) -> None:
        self.deliver = deliver
        self.starts += 1

    async def send(self, address: str, rendered: Rendered) -> str:
        if self.down:
            raise DeliveryFailed("not connected to the XMPP server")
        self.sent.append((address, rendered))
        self._arrived.set()
        return f"p{next(self._ids)}"

    async def close(self) -> None:
        self.deliver = None

    async def writes(self, address: str, text: str, event_id: str, name: str | None = None,
                     button: str | None = None) -> object:
        """The customer at ``address`` writes (the provider delivers ``event_id``)."""
        assert self.deliver is not None, "the transport was not started"
        return await self.deliver(InboundIm(self.channel, address, event_id, text, name, button))

    def texts_to(self, address: str) -> list[str]:
        return [rendered.text for to, rendered in self.sent if to == address]
