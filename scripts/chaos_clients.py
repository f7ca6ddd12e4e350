"""The scripted people of ``make chaos``: customers on the widget's socket, agents on the console's socket.

They speak docs/handoff-protocol.md as the widget and the console do: a message carries the sender's own
``client_id``, is resent with the same id until acknowledged, and after a reconnect the client catches up by
message id (customers: ``after=`` on the socket; agents: each of their conversations over REST). Every
acknowledgement and every message seen goes into one :class:`Ledger`, which the run compares with the ticket
log afterwards. A client whose instance is gone tries the other one, as a load balancer would send it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import websockets

CLOSE_UNAUTHORIZED, CLOSE_UNKNOWN = 4401, 4404
MAX_PENDING = 3  # messages a customer waits on before they stop saying anything new
QUESTIONS = ["how much is shipping?", "what is your return policy?", "how do I reset my password?",
             "where is my order 12345", "do you ship abroad?", "can I pay with paypal?"]


@dataclass
class Acked:
    conversation_id: str
    sender: str  # customer or agent
    client_id: str
    message_id: int
    phase: str
    at: float


@dataclass
class Ledger:
    """What the clients were told: acknowledged messages, and every message id each side saw."""

    phase: str = "start"
    acked: dict[tuple[str, str], Acked] = field(default_factory=dict)  # (conversation, client_id) -> ack
    seen_by_customer: dict[str, set[int]] = field(default_factory=dict)  # conversation -> ids
    seen_by_agents: set[int] = field(default_factory=set)
    forgotten: set[str] = field(default_factory=set)  # conversations the service said it does not know
    errors: dict[str, int] = field(default_factory=dict)  # error frames and refusals by code
    sent: dict[tuple[str, str], str] = field(default_factory=dict)  # (conversation, client_id) -> phase sent in
    reconnects: int = 0

    def ack(self, conversation_id: str, sender: str, client_id: str, message_id: int) -> None:
        """Told the message is stored; it counts in the phase it was first sent in."""
        key = (conversation_id, client_id)
        if key not in self.acked:
            self.acked[key] = Acked(conversation_id, sender, client_id, message_id,
                                    self.sent.get(key, self.phase), time.monotonic())

    def send(self, conversation_id: str, client_id: str) -> None:
        self.sent.setdefault((conversation_id, client_id), self.phase)

    def error(self, code: str) -> None:
        self.errors[code] = self.errors.get(code, 0) + 1


class Instances:
    """The handoff instances' base URLs; a client sticks to one until it fails, then tries the next."""

    def __init__(self, urls: list[str]) -> None:
        self.urls = urls

    def pick(self, preferred: int) -> str:
        return self.urls[preferred % len(self.urls)]


async def _frames(connection: websockets.ClientConnection) -> Any:
    async for raw in connection:
        yield json.loads(raw)


class Client(Protocol):
    instance: int
    stopping: bool
    ledger: Ledger


async def stay_connected(client: Client, url: Callable[[], str],
                         serve: Callable[[websockets.ClientConnection], Awaitable[None]],
                         closed_with: Callable[[int], Awaitable[None]]) -> None:
    """Connect, serve, and connect again until the client stops; an instance that does not answer sends the
    client to the next one, as a load balancer would."""
    while not client.stopping:
        try:
            async with websockets.connect(url(), open_timeout=10) as connection:
                await serve(connection)
        except websockets.ConnectionClosed as closed:
            if closed.rcvd is not None:
                await closed_with(closed.rcvd.code)
        except (OSError, TimeoutError, websockets.InvalidHandshake):
            client.instance += 1
        if not client.stopping:
            client.ledger.reconnects += 1
            await asyncio.sleep(random.uniform(0.5, 1.5))


class Customer:
    """One customer: starts a conversation, says something every few seconds, reconnects when cut off."""

    def __init__(self, number: int, instances: Instances, ledger: Ledger, wants_person: bool,
                 interval: float) -> None:
        self.number, self.instances, self.ledger = number, instances, ledger
        self.instance = number % len(instances.urls)
        self.wants_person, self.interval = wants_person, interval
        self.conversation_id, self.token = "", ""
        self.pending: dict[str, str] = {}  # client_id -> text, sent but not acknowledged
        self.said = 0
        self.connected = False
        self.stopping = False
        self.last_id = 0

    async def start(self) -> None:
        while True:
            try:
                async with httpx.AsyncClient(base_url=self.instances.pick(self.instance), timeout=10) as http:
                    response = await http.post("/api/conversations", json={"name": f"Chaos {self.number}"})
                if response.status_code == 201:
                    data = response.json()
                    self.conversation_id, self.token = data["conversation_id"], data["customer_token"]
                    self.ledger.seen_by_customer[self.conversation_id] = set()
                    return
            except httpx.HTTPError:
                pass
            self.instance += 1
            await asyncio.sleep(1)

    def _next_text(self) -> str:
        self.said += 1
        if self.wants_person and self.said == 2:
            return "I want to talk to a person please"
        return f"{random.choice(QUESTIONS)} (#{self.said})"

    def _saw(self, message: dict[str, Any]) -> None:
        self.ledger.seen_by_customer[self.conversation_id].add(int(message["id"]))
        self.last_id = max(self.last_id, int(message["id"]))

    async def forget(self) -> None:
        """The service no longer knows the conversation: as the widget does, start a new one (what waited for
        an acknowledgement is gone with it)."""
        self.ledger.forgotten.add(self.conversation_id)
        self.pending.clear()
        self.last_id, self.said = 0, 0
        await self.start()

    async def run(self) -> None:
        await self.start()
        await stay_connected(self, self._url, self._serve, self._closed)

    def _url(self) -> str:
        self.connected = False
        return (f"{self.instances.pick(self.instance).replace('http://', 'ws://')}/ws/customer?conversation_id="
                f"{self.conversation_id}&token={self.token}&after={self.last_id}")

    async def _closed(self, code: int) -> None:
        if code == CLOSE_UNKNOWN:
            self.ledger.error("close_4404")
            await self.forget()

    async def _serve(self, connection: websockets.ClientConnection) -> None:
        sender = asyncio.create_task(self._talk(connection))
        try:
            async for frame in _frames(connection):
                kind = frame.get("type")
                if kind == "hello":
                    self.connected = True
                    for message in frame["messages"]:
                        self._saw(message)
                    for client_id, text in list(self.pending.items()):  # resend what was not acknowledged
                        await connection.send(json.dumps({"type": "message", "client_id": client_id, "text": text}))
                elif kind == "message":
                    self._saw(frame["message"])
                elif kind == "ack":
                    self.pending.pop(frame["client_id"], None)
                    self.ledger.ack(self.conversation_id, "customer", frame["client_id"], int(frame["id"]))
                elif kind == "error":
                    self.ledger.error(str(frame.get("code")))
                    if frame.get("code") == "unknown_conversation":
                        await self.forget()
                        return
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender

    async def _talk(self, connection: websockets.ClientConnection) -> None:
        while not self.stopping:
            await asyncio.sleep(self.interval * random.uniform(0.7, 1.3))
            if self.stopping or not self.connected:
                continue
            if len(self.pending) >= MAX_PENDING:  # refused again and again: resend, say nothing new
                for old_id, text in list(self.pending.items()):
                    await connection.send(json.dumps({"type": "message", "client_id": old_id, "text": text}))
                continue
            client_id = f"cu{self.number}-{self.said + 1}"
            self.pending[client_id] = self._next_text()
            self.ledger.send(self.conversation_id, client_id)
            await connection.send(json.dumps({"type": "message", "client_id": client_id,
                                              "text": self.pending[client_id]}))
            for old_id, text in list(self.pending.items()):  # an error frame: try again with the same id
                if old_id != client_id:
                    await connection.send(json.dumps({"type": "message", "client_id": old_id, "text": text}))

    async def catch_up(self) -> None:
        """What the widget does on reload: read everything after the last id it has (REST, any instance)."""
        for attempt in range(len(self.instances.urls) * 3):
            with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
                async with httpx.AsyncClient(base_url=self.instances.pick(self.instance + attempt), timeout=10,
                                             headers={"Authorization": f"Bearer {self.token}"}) as http:
                    response = await http.get(f"/api/conversations/{self.conversation_id}/messages",
                                              params={"after": self.last_id})
                if response.status_code == 200:
                    for message in response.json()["messages"]:
                        self._saw(message)
                    return
            await asyncio.sleep(1)


class Agent:
    """One agent: online on the console's socket; answers each customer message in their conversations and
    resolves a conversation after a few answers. Signs in again when the session is gone."""

    def __init__(self, username: str, password: str, number: int, instances: Instances, ledger: Ledger,
                 resolve_after: int = 3) -> None:
        self.username, self.password, self.instances, self.ledger = username, password, instances, ledger
        self.instance, self.token, self.resolve_after = number, "", resolve_after
        self.answered: dict[str, int] = {}  # conversation -> replies acknowledged
        self.pending: dict[str, tuple[str, str]] = {}  # client_id -> (conversation, text)
        self.resolving: set[asyncio.Task[None]] = set()
        self.stopping = False

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.instances.pick(self.instance), timeout=10,
                                 headers={"Authorization": f"Bearer {self.token}"})

    async def sign_in(self) -> None:
        while not self.stopping:
            with contextlib.suppress(httpx.HTTPError, KeyError):
                async with self.http() as http:
                    response = await http.post("/api/auth/login",
                                               json={"username": self.username, "password": self.password})
                    if response.status_code == 200:
                        self.token = response.json()["token"]
                        await http.put("/api/me/presence", json={"presence": "online"},
                                       headers={"Authorization": f"Bearer {self.token}"})
                        return
            self.instance += 1
            await asyncio.sleep(1)

    async def run(self) -> None:
        await self.sign_in()
        await stay_connected(self, lambda: f"{self.instances.pick(self.instance).replace('http://', 'ws://')}"
                                           f"/ws/agent?token={self.token}", self._serve, self._closed)

    async def _closed(self, code: int) -> None:
        if code == CLOSE_UNAUTHORIZED:
            self.ledger.error("close_4401")
            await self.sign_in()

    async def _reply(self, connection: websockets.ClientConnection, conversation_id: str, to: int) -> None:
        client_id = f"{self.username}-{conversation_id}-{to}"  # one reply per customer message, resent alike
        if client_id in self.pending or (conversation_id, client_id) in self.ledger.acked:
            return
        self.pending[client_id] = (conversation_id, f"Thanks, I am looking at it ({to}).")
        self.ledger.send(conversation_id, client_id)
        await connection.send(json.dumps({"type": "message", "conversation_id": conversation_id,
                                          "client_id": client_id, "text": self.pending[client_id][1]}))

    async def _catch_up(self, connection: websockets.ClientConnection, conversation_id: str) -> None:
        """As the console does on (re)connect: the conversation's messages over REST; answer the last one."""
        async with self.http() as http:
            response = await http.get(f"/api/agent/conversations/{conversation_id}")
        if response.status_code != 200:
            return
        messages = response.json().get("messages", [])
        self.ledger.seen_by_agents.update(int(m["id"]) for m in messages)
        last = next((m for m in reversed(messages) if m["sender"] == "customer"), None)
        if last is not None:
            await self._reply(connection, conversation_id, int(last["id"]))

    async def _serve(self, connection: websockets.ClientConnection) -> None:
        async for frame in _frames(connection):
            kind = frame.get("type")
            if kind == "hello":
                for client_id, (conversation_id, text) in list(self.pending.items()):
                    await connection.send(json.dumps({"type": "message", "conversation_id": conversation_id,
                                                      "client_id": client_id, "text": text}))
                for summary in frame.get("conversations", []):
                    await self._catch_up(connection, summary["conversation_id"])
            elif kind == "assigned":
                await self._catch_up(connection, frame["conversation"]["conversation_id"])
            elif kind == "message":
                message = frame["message"]
                self.ledger.seen_by_agents.add(int(message["id"]))
                if message["sender"] == "customer":
                    await self._reply(connection, frame["conversation_id"], int(message["id"]))
            elif kind == "ack" and frame.get("client_id") in self.pending:
                conversation_id, _ = self.pending.pop(frame["client_id"])
                self.ledger.ack(conversation_id, "agent", frame["client_id"], int(frame["id"]))
                self.answered[conversation_id] = self.answered.get(conversation_id, 0) + 1
                if self.answered[conversation_id] == self.resolve_after:
                    self.resolving.add(asyncio.create_task(self._resolve(conversation_id)))
            elif kind == "error":
                self.ledger.error(str(frame.get("code")))
                if frame.get("code") not in ("unavailable", "error"):  # refused for good (not theirs any more)
                    self.pending.pop(str(frame.get("client_id")), None)

    async def _resolve(self, conversation_id: str) -> None:
        with contextlib.suppress(httpx.HTTPError):
            async with self.http() as http:
                await http.post(f"/api/agent/conversations/{conversation_id}/resolve")


def progress_line(ledger: Ledger, customers: list[Customer], started: float) -> str:
    connected = sum(c.connected for c in customers)
    pending = sum(len(c.pending) for c in customers)
    by = ledger.errors
    errors = ", ".join(f"{k} {v}" for k, v in sorted(by.items())) or "none"
    return (f"[{time.monotonic() - started:6.0f} s] {ledger.phase}: {connected}/{len(customers)} customers "
            f"connected, {len(ledger.acked)} messages acknowledged, {pending} awaiting an ack, "
            f"{ledger.reconnects} reconnects, errors: {errors}")

