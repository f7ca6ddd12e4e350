"""An in-process handoff service for the specification tests: the real facade and its parts on a real
store and ticket log, a fake Rasa server that speaks Rasa's REST channel and tracker API (reached through the
real :class:`~handoff.adapters.rasa.RasaClient`, without a socket), and a fake clock.

Clients are subscribers on the service's bus, as the gateway's sockets are: an :class:`Inbox` keeps every
frame delivered to a customer or an agent, in order, so a test waits for the one it expects.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from handoff.core.model import AgentId, ConversationRecord, Presence, Role
from handoff.service import HandoffService
from handoff.service.auth import Principal
from handoff.service.conversations import Said
from handoff.service.ports import Subscription
from tests.handoff.frames import Frame, Frames

PASSWORD = "correct-horse-battery"
T0 = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)  # a Wednesday afternoon
WAIT = 5.0  # seconds a test waits for a frame that should come (in process they come at once)
RASA_TOKEN = "rasa-token"
SUPERVISOR = Principal(AgentId("a_overseer"), "overseer", "Test Overseer", Role.SUPERVISOR)
"""Who sees every ticket and conversation, as a supervisor does: the tests' reader of what happened."""


class FakeClock:
    """The service's clock, moved by the test: timeouts and sweeps without real waiting."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def handoff_request(conversation_id: str, text: str, *, code: str = "explicit_request", priority: str = "normal",
                    intent: str = "request_human", confidence: float = 0.97, category: str | None = None,
                    knowledge: list[dict[str, Any]] | None = None, frustration: float = 0.0) -> dict[str, Any]:
    """A hand-off request as the bot sends it (schemas/handoff-request.v2.json)."""
    return {
        "schema": "handoff-request/v2", "conversation_id": conversation_id, "category": category,
        "created_at": "2026-11-25T14:00:00+00:00", "priority": priority,
        "reasons": [{"code": code, "detail": f"{code.replace('_', ' ')}.", "figures": {"confidence": confidence}}],
        "intents": [{"name": intent, "confidence": confidence}],
        "knowledge": knowledge or [],
        "sentiment": {"label": "negative" if frustration else "neutral", "score": -frustration,
                      "frustration": frustration},
        "summary": f'The customer asked for a person. Their last message: "{text}".',
        "last_user_message": text, "slots": {}}


class FakeRasa:
    """A Rasa server in process: ``POST /webhooks/rest/webhook`` (and the A/B trial's candidate channel
    ``/webhooks/candidate/webhook``) answers from a small script,
    ``POST /conversations/{id}/tracker/events`` keeps what it is sent, and ``GET /conversations/{id}/tracker``
    gives the intents it recognised (:meth:`intent_of`).

    The script: a message asking for a "human" or a "person" is handed off (``explicit_request``); one saying
    "furious" is a high-priority complaint; "shipping" is answered from an article; anything else gets a
    plain answer. ``replies_to`` overrides the script for one text; ``down`` makes every call fail; ``hold``,
    while set, keeps every answer waiting until it is released (a turn under way).
    """

    def __init__(self) -> None:
        self.heard: list[tuple[str, str, dict[str, Any]]] = []  # (sender, message, metadata)
        self.tracker: dict[str, list[dict[str, Any]]] = {}
        self.intents: dict[str, list[str]] = {}  # sender -> the intent of each message heard
        self.replies_to: dict[str, list[dict[str, Any]]] = {}
        self.rankings: dict[str, list[tuple[str, float]]] = {}  # text -> the NLU's ranking of it, best first
        self.said: dict[str, list[str]] = {}  # sender -> the text of each message heard
        self.candidate: list[str] = []  # the sender of each message heard on the candidate channel (an A/B trial)
        self.down = False
        self.hold: asyncio.Event | None = None
        self.app = Starlette(routes=[
            Route("/webhooks/rest/webhook", self._webhook, methods=["POST"]),
            Route("/webhooks/candidate/webhook", self._candidate, methods=["POST"]),
            Route("/conversations/{conversation_id}/tracker/events", self._events, methods=["POST"]),
            Route("/conversations/{conversation_id}/tracker", self._tracker, methods=["GET"])])

    @staticmethod
    def intent_of(text: str) -> str:
        """What the script's NLU makes of a message."""
        lowered = text.lower()
        for word, intent in (("human", "request_human"), ("person", "request_human"), ("furious", "complaint"),
                             ("shipping", "ask_shipping"), ("thank", "thank"), ("bye", "goodbye")):
            if word in lowered:
                return intent
        return "greet" if lowered.startswith(("hello", "hi")) else "nlu_fallback"

    def replies(self, sender: str, text: str) -> list[dict[str, Any]]:
        if text in self.replies_to:
            return self.replies_to[text]
        lowered = text.lower()
        if "human" in lowered or "person" in lowered:
            return [{"recipient_id": sender, "text": "I'm passing you to one of my colleagues."},
                    {"recipient_id": sender, "custom": {"handoff": handoff_request(sender, text)}}]
        if "furious" in lowered:
            request = handoff_request(sender, text, code="complaint", priority="high", intent="complaint",
                                      category="orders", frustration=0.9)
            return [{"recipient_id": sender, "text": "I'm sorry. A colleague will take over."},
                    {"recipient_id": sender, "custom": {"handoff": request}}]
        if "shipping" in lowered:
            citation = {"article_id": "shipping-costs", "version": "abc123", "title": "Shipping costs",
                        "category": "shipping", "score": 0.81}
            return [{"recipient_id": sender, "text": "Standard shipping costs $4.95.",
                     "custom": {"citation": citation}}]
        return [{"recipient_id": sender, "text": "I can help with orders, shipping and returns."}]

    async def _candidate(self, request: Request) -> Response:
        """The A/B trial's candidate channel (bot/candidate.py): the same script; who it heard is kept."""
        if not self.down:
            self.candidate.append((await request.json())["sender"])
        return await self._webhook(request)

    async def _webhook(self, request: Request) -> Response:
        if self.down:
            return Response("upstream down", status_code=502)
        body = await request.json()
        self.heard.append((body["sender"], body["message"], body.get("metadata") or {}))
        self.intents.setdefault(body["sender"], []).append(self.intent_of(body["message"]))
        self.said.setdefault(body["sender"], []).append(body["message"])
        if self.hold is not None:
            await self.hold.wait()
        return JSONResponse(self.replies(body["sender"], body["message"]))

    async def _tracker(self, request: Request) -> Response:
        if self.down:
            return Response("upstream down", status_code=502)
        if request.query_params.get("token") != RASA_TOKEN:
            return Response("unauthorized", status_code=401)
        sender = request.path_params["conversation_id"]
        intents, said = self.intents.get(sender, []), self.said.get(sender, [])
        parses = [self.parse(text, name) for name, text in zip(intents, said, strict=True)]
        events = [{"event": "user", "parse_data": parse} for parse in parses]
        latest = parses[-1] if parses else {}
        none = request.query_params.get("include_events") == "NONE"
        return JSONResponse({"latest_message": latest, "events": None if none else events})

    def parse(self, text: str, intent: str) -> dict[str, Any]:
        """Rasa's ``parse_data`` of a message: the script's intent, sure of it (0.95), unless :attr:`rankings`
        names the text; a fallback ranks the script's guesses under Rasa's ``nlu_fallback``."""
        ranked = self.rankings.get(text) or ([("ask_shipping", 0.31), ("order_status", 0.28)]
                                             if intent == "nlu_fallback" else [(intent, 0.95)])
        ranking = [{"name": name, "confidence": confidence} for name, confidence in ranked]
        if intent == "nlu_fallback":
            ranking.insert(0, {"name": "nlu_fallback", "confidence": 0.7})
        return {"text": text, "intent": ranking[0], "intent_ranking": ranking, "entities": []}

    async def _events(self, request: Request) -> Response:
        if self.down:
            return Response("upstream down", status_code=502)
        if request.query_params.get("token") != RASA_TOKEN:
            return Response("unauthorized", status_code=401)
        self.tracker.setdefault(request.path_params["conversation_id"], []).extend(await request.json())
        return JSONResponse({})


class Inbox(Frames):
    """Every frame delivered to one subscriber (as a socket receives them), in order."""

    def __init__(self) -> None:
        super().__init__()
        self.subscriptions: list[Subscription] = []
        self._arrived = asyncio.Event()

    async def deliver(self, frame: Frame) -> None:
        self.frames.append(frame)
        self._arrived.set()

    async def _more(self) -> None:
        self._arrived.clear()
        await self._arrived.wait()

    async def next(self, predicate: Callable[[Frame], bool], timeout: float = WAIT) -> Frame:
        return await super().next(predicate, timeout)

    async def settle(self) -> list[Frame]:
        """Everything delivered so far and not yet read, once the bus has had a moment to deliver."""
        await asyncio.sleep(0.2)  # in production the frames cross Redis
        fresh, self._seen = self.frames[self._seen:], len(self.frames)
        return fresh

    async def close(self) -> None:
        for subscription in self.subscriptions:
            await subscription.close()


@dataclass
class Customer:
    """A customer with a conversation and a socket's view of it."""

    service: HandoffService
    conversation_id: str
    inbox: Inbox = field(default_factory=Inbox)

    @classmethod
    async def start(cls, service: HandoffService, **body: Any) -> Customer:
        record = await service.customers.open(**body)
        customer = cls(service, record.conversation_id)
        customer.inbox.subscriptions = await service.customers.watch(record.conversation_id, customer.inbox.deliver)
        return customer

    async def say(self, text: str, client_id: str | None = None) -> Said:
        """As the socket does: store, then the bot's turn."""
        said = await self.service.customers.says(self.conversation_id, text, client_id or uuid.uuid4().hex)
        await self.service.customers.bot_turn(said)
        return said

    async def record(self) -> ConversationRecord:
        return await self.service.customers.get(self.conversation_id)


@dataclass
class Agent:
    """A signed-in agent with a console's view (their frames and the queue's)."""

    service: HandoffService
    principal: Principal
    token: str
    inbox: Inbox = field(default_factory=Inbox)

    @classmethod
    async def sign_in(cls, service: HandoffService, username: str) -> Agent:
        token, principal = await service.accounts.sign_in(username, PASSWORD)
        agent = cls(service, principal, token)
        agent.inbox.subscriptions = await service.desk.watch(principal, agent.inbox.deliver)
        return agent

    @property
    def id(self) -> str:
        return self.principal.agent_id

    async def say(self, conversation_id: str, text: str) -> None:
        await self.service.desk.says(self.principal, conversation_id, text, uuid.uuid4().hex)

    async def presence(self, presence: str) -> None:
        await self.service.desk.set_presence(self.principal, Presence(presence))
