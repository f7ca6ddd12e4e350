"""A month of realistic history for a fresh machine (``python -m handoff demo-history``, docs/demo-history.md).

Customers, the bot and the seeded team (data/demo) play a month of conversations through the service's own
facade (:class:`~handoff.service.HandoffService`): customers open conversations and write, the bot answers or
asks for a person, the service queues and routes, agents reply, transfer, hand back and resolve, customers who
wait too long leave and the sweeper abandons them, hand-offs out of hours become offline tickets, and
customers rate (through ``service.feedback``). Only the time is simulated: a fake
clock that the simulation moves from one event to the next, so the ticket log holds a month of timestamps.

The bot is simulated (:class:`DemoBot`, behind the service's Bot port): the real Rasa takes a few hundred
milliseconds a turn, far too slow for thousands of conversations. It answers as the real one does (Rasa's
REST channel format): knowledge-base answers with their citation (``article_id``, ``version``, ``title``,
``category``, ``score``: the real articles of data/knowledge), the domain's responses, and hand-off requests
of the contract (schemas/handoff-request.v2.json) with the real reason codes. Customers say the training
examples of data/nlu and the articles' questions.

The live store is an in-process one, thrown away at the end (every conversation has ended by then); the demo
customers' e-mail addresses are at ``demo.invalid``, which is how ``--clear`` finds exactly their data.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import random
import re
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

from handoff.adapters.store import MemoryStore
from handoff.adapters.tickets.demo import DEMO_DOMAIN
from handoff.core.errors import BadRequest, HandoffError
from handoff.core.model import Presence, State
from handoff.service import HandoffService
from handoff.service.auth import Principal, widget_signature
from handoff.service.ports import MessageView
from handoff.settings import ROOT
from knowledge.documents import Article
from knowledge.ingest import load_sources

logger = logging.getLogger(__name__)

NLU = ROOT / "data" / "nlu"
KNOWLEDGE = ROOT / "data" / "knowledge"
DOMAIN = ROOT / "bot" / "domain"
CANNED = ROOT / "data" / "demo" / "canned.yml"
HOURS = {"timezone": "UTC", "hours": {day: "08:00-20:00" for day in ("mon", "tue", "wed", "thu", "fri")}
         | {"sat": "09:00-17:00"}}
"""When the simulated team takes hand-offs (the demo's business hours: a hand-off outside them becomes an
offline ticket with a callback); handoff/routing.yml's own hours (open all day) are not used."""
SHIFTS: dict[str, dict[int, tuple[float, float]]] = {
    # username -> weekday (0 = Monday) -> (from, to) in hours of the day, UTC
    "grace": {d: (8.0, 16.5) for d in range(5)},
    "linus": {d: (11.5, 20.0) for d in range(5)} | {5: (9.0, 17.0)},
    "ada": {d: (9.0, 13.0) for d in (0, 1, 2, 3, 4)},
    "admin": {5: (12.0, 17.0)},
}
"""Who is online when (the seeded team's usernames); other agents of the log stay offline."""
HOURLY = (0.1, 0.05, 0.03, 0.03, 0.05, 0.1, 0.3, 0.6, 1.0, 1.4, 1.7, 1.9, 2.0, 1.9, 1.7, 1.5, 1.4, 1.3, 1.3, 1.4,
          1.3, 1.0, 0.6, 0.3)
"""Relative arrivals by hour of the day (UTC): quiet at night, busiest around midday."""
WEEKDAY = (1.15, 1.1, 1.05, 1.05, 1.0, 0.6, 0.45)
REASONS = (("explicit_request", 34), ("low_knowledge_score", 14), ("repeated_fallback", 10), ("complaint", 10),
           ("negative_sentiment", 8), ("order_lookup_failed", 8), ("out_of_scope", 6), ("low_nlu_confidence", 5),
           ("ambiguous_intent", 3), ("no_answer", 2))
"""The hand-off reasons of the contract, and how often the demo's bot gives each."""
REASON_DETAIL = {
    "explicit_request": "The customer asked for a person.",
    "low_knowledge_score": "The best knowledge-base match was too weak to answer from.",
    "repeated_fallback": "The bot did not understand the customer twice in a row.",
    "complaint": "The customer made a complaint.",
    "negative_sentiment": "The customer sounds frustrated.",
    "order_lookup_failed": "The order system could not find or check the order.",
    "out_of_scope": "The customer asked about something the bot does not cover.",
    "low_nlu_confidence": "The bot was not confident what the customer meant.",
    "ambiguous_intent": "Two readings of the message were equally likely.",
    "no_answer": "The bot had no answer for the question.",
}
HANDOFF_RESPONSE = {"explicit_request": "utter_handoff_explicit", "negative_sentiment": "utter_handoff_frustrated",
                    "complaint": "utter_handoff_frustrated"}
CUSTOMER_INTENT = {"explicit_request": "request_human", "complaint": "complaint", "out_of_scope": "out_of_scope"}
FIRST_NAMES = ("Alex", "Sam", "Jo", "Maria", "Chen", "Priya", "Tom", "Fatima", "Lena", "Omar", "Sofia", "Jonas",
               "Aisha", "Lucas", "Mei", "Noah", "Emma", "Ravi", "Olga", "Diego", "Hannah", "Kenji", "Zoe", "Ali")
LAST_NAMES = ("Smith", "Müller", "Garcia", "Nguyen", "Kowalski", "Rossi", "Johansson", "Okafor", "Tanaka",
              "Dubois", "Silva", "Novak", "Brown", "Costa", "Schmidt", "Hughes", "Larsen", "Patel")
MARKUP = re.compile(r"\[([^\]]+)\](\([^)]*\)|\{[^}]*\})")


@dataclass(frozen=True)
class Texts:
    """What the demo's people say: the training examples by intent, the articles, the bot's responses, the
    agents' canned replies."""

    examples: dict[str, list[str]]
    articles: list[Article]
    responses: dict[str, str]
    canned: dict[str, str]

    @classmethod
    def load(cls) -> Texts:
        examples: dict[str, list[str]] = {}
        for path in sorted(NLU.glob("*.yml")):
            for item in (yaml.safe_load(path.read_text()) or {}).get("nlu", []):
                if "intent" in item and isinstance(item.get("examples"), str):
                    lines = [MARKUP.sub(r"\1", line[2:].strip()) for line in item["examples"].splitlines()
                             if line.strip().startswith("- ")]
                    examples[item["intent"]] = [line for line in lines if line]
        responses: dict[str, str] = {}
        for path in sorted(DOMAIN.glob("*.yml")):
            for name, variants in ((yaml.safe_load(path.read_text()) or {}).get("responses") or {}).items():
                if variants and isinstance(variants[0], dict) and "text" in variants[0]:
                    responses[name] = str(variants[0]["text"])
        canned = {str(c["shortcut"]): str(c["text"])
                  for c in (yaml.safe_load(CANNED.read_text()) or {}).get("canned", [])}
        articles = [a for a in load_sources(KNOWLEDGE) if a.questions]
        if not articles or not examples:
            raise BadRequest("The demo history needs the knowledge base (data/knowledge) and the training data "
                             "(data/nlu).")
        return cls(examples, articles, responses, canned)


class DemoBot:
    """The service's Bot port, answering as the real bot does, from the turn the simulation planned: the
    simulation sets :attr:`next` for a conversation before the customer's message."""

    def __init__(self) -> None:
        self.next: dict[str, list[dict[str, Any]]] = {}
        self.handed_back: set[str] = set()
        self.said: dict[str, list[str]] = {}  # conversation -> the intents of its customer's messages, in order

    async def send(self, conversation_id: str, text: str,
                   metadata: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return [{"recipient_id": conversation_id, **reply} for reply in self.next.pop(conversation_id, [])]

    async def hand_back(self, conversation_id: str, transcript: Sequence[tuple[str, str, float]],
                        agent_name: str) -> None:
        self.handed_back.add(conversation_id)  # the real bot writes the transcript into its tracker

    async def intents(self, conversation_id: str, latest: bool = False) -> list[str]:
        said = self.said.get(conversation_id, [])
        return said[-1:] if latest else list(dict.fromkeys(said))

    async def parses(self, conversation_id: str, latest: bool = False) -> list[dict[str, Any]]:
        """The planned intents as the NLU's parse: sure of each (the simulation plans no uncertainty; its
        hand-offs for reasons of understanding still reach the NLU inbox)."""
        said = self.said.get(conversation_id, [])
        return [{"intent": {"name": name, "confidence": 1.0}, "intent_ranking": [{"name": name, "confidence": 1.0}]}
                for name in (said[-1:] if latest else said)]

    async def close(self) -> None:
        self.next.clear()
        self.said.clear()


def citation(article: Article, score: float) -> dict[str, Any]:
    return {"article_id": article.id, "version": article.version, "title": article.title,
            "category": article.category, "score": round(score, 4)}


@dataclass
class Plan:
    """One conversation as the simulation will play it."""

    article: Article
    turns: int  # questions the bot answers before the end (or the hand-off)
    reason: str | None  # the hand-off's reason, None when the bot contains it
    patience: float  # seconds the customer waits in the queue before leaving
    rates: bool
    thanks: bool


@dataclass
class Outcome:
    """What the simulation did, for its report."""

    conversations: int = 0
    handoffs: int = 0
    offline: int = 0
    resolved: int = 0
    handed_back: int = 0
    transferred: int = 0
    abandoned: int = 0
    ratings: int = 0
    votes: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        return (f"{self.conversations} conversations, {self.handoffs} hand-offs ({self.offline} offline), "
                f"{self.resolved} resolved, {self.handed_back} handed back, {self.transferred} transfers, "
                f"{self.abandoned} abandoned, {self.ratings} ratings, {self.votes} votes in {self.seconds:.1f} s")


@dataclass(order=True)
class Event:
    at: float
    order: int
    act: Callable[[], Awaitable[None]] = field(compare=False)


class Simulation:
    """The month, event by event on the fake clock."""

    def __init__(self, service: HandoffService, store: MemoryStore, bot: DemoBot, texts: Texts,
                 team: dict[str, Principal], rng: random.Random, start: float, clock: list[float],
                 widget_secret: str) -> None:
        self.service, self.store, self.bot, self.texts, self.team = service, store, bot, texts, team
        self.rng, self.start, self.clock = rng, start, clock
        self.widget_secret = widget_secret
        self.events: list[Event] = []
        self.order = itertools.count()
        self.working: set[tuple[str, str]] = set()  # (conversation, agent) the simulation plays
        self.on_shift: dict[str, bool] = {}
        self.queued_at: dict[str, float] = {}
        self.waited: dict[str, float] = {}  # conversation -> seconds its customer waited for an agent
        self.transfers: dict[str, int] = {}
        self.plans: dict[str, Plan] = {}
        self.outcome = Outcome()
        self.feedback = service.feedback
        self.customers: list[tuple[str, str, str]] = []  # (external id, name, email) of returning customers

    # ---- the event queue ------------------------------------------------------------------------------

    def at(self, when: float, act: Callable[[], Awaitable[None]]) -> None:
        heapq.heappush(self.events, Event(when, next(self.order), act))

    def now(self) -> float:
        return self.clock[0]

    async def run(self, progress: Callable[[int], None]) -> None:
        done = 0
        while self.events:
            event = heapq.heappop(self.events)
            self.clock[0] = max(self.clock[0], event.at)
            try:
                await event.act()
            except HandoffError as exc:  # someone else moved it first: the person simply moves on
                logger.debug("demo: %s", exc)
            await self.notice_assignments()
            done += 1
            if done % 50 == 0:
                progress(self.outcome.conversations)

    async def wind_up(self) -> None:
        """After the last event: whoever still waits leaves (abandoned by the sweeper), whatever is still
        assigned its agent resolves, so that no conversation is left queued or assigned in the ticket log."""
        for _ in range(3):
            for record in await self.store.queued():
                await self.service.customers.presence(record.conversation_id, connected=False)
            self.clock[0] += self.service.settings.abandon_after + 1
            await self.service.sweep()
            for principal in self.team.values():
                for conversation_id in await self.store.agent_conversations(principal.agent_id):
                    await self.service.desk.resolve(principal, conversation_id)
                    self.outcome.resolved += 1
            if not await self.store.queued():
                return

    async def notice_assignments(self) -> None:
        """Routing gave an agent a conversation (the console's ``assigned`` frame): they answer it soon."""
        for principal in self.team.values():
            for conversation_id in await self.store.agent_conversations(principal.agent_id):
                key = (conversation_id, principal.agent_id)
                if key in self.working:
                    continue
                self.working.add(key)
                queued = self.queued_at.pop(conversation_id, None)
                if queued is not None:
                    self.waited[conversation_id] = self.waited.get(conversation_id, 0.0) + self.now() - queued
                self.at(self.now() + self.accept_delay(), self.agent_flow(conversation_id, principal))

    def accept_delay(self) -> float:
        """Seconds until the agent's first reply: mostly quick; now and then longer than the accept timeout
        (the sweeper requeues it then)."""
        if self.rng.random() < 0.03:
            return self.service.settings.accept_timeout + self.rng.uniform(5, 60)
        return self.rng.uniform(8, 45)

    # ---- the month's plan -----------------------------------------------------------------------------

    def schedule(self, days: range, conversations: int) -> None:
        """``conversations`` arriving over ``days`` (days since the start), and the team's shifts."""
        day0 = datetime.fromtimestamp(self.start, UTC)
        slots = [(d, h, WEEKDAY[(day0 + timedelta(days=d)).weekday()] * HOURLY[h]) for d in days for h in range(24)]
        weights = [w for _, _, w in slots]
        for d, h, _ in self.rng.choices(slots, weights, k=conversations):
            self.at(self.start + d * 86400 + h * 3600 + self.rng.uniform(0, 3600), self.conversation)
        for d in days:
            weekday = (day0 + timedelta(days=d)).weekday()
            for username, principal in self.team.items():
                if (shift := SHIFTS.get(username, {}).get(weekday)) is not None:
                    begin = self.start + d * 86400 + shift[0] * 3600 + self.rng.uniform(-600, 600)
                    self.at(begin, self.presence(principal, Presence.ONLINE))
                    self.at(begin + (shift[1] - shift[0]) * 3600, self.presence(principal, Presence.AWAY))

    def plan(self) -> Plan:
        rng = self.rng
        article = rng.choice(self.texts.articles)
        reason = rng.choices([r for r, _ in REASONS], [w for _, w in REASONS])[0] if rng.random() < 0.3 else None
        return Plan(article, turns=rng.choices((1, 2, 3), (60, 30, 10))[0] if reason is None
                    else rng.choices((0, 1, 2), (35, 45, 20))[0], reason=reason,
                    patience=rng.lognormvariate(math.log(240), 0.8), rates=rng.random() < 0.45,
                    thanks=rng.random() < 0.5)

    # ---- the people ---------------------------------------------------------------------------------

    def presence(self, principal: Principal, presence: Presence) -> Callable[[], Awaitable[None]]:
        """The start (online) or the end (away) of the agent's shift."""
        async def act() -> None:
            self.on_shift[principal.agent_id] = presence is Presence.ONLINE
            await self.service.desk.set_presence(principal, presence)
        return act

    def come_back(self, principal: Principal) -> Callable[[], Awaitable[None]]:
        """Set away by the accept timeout, the agent is back a few minutes later (if still on shift)."""
        async def act() -> None:
            if self.on_shift.get(principal.agent_id):
                await self.service.desk.set_presence(principal, Presence.ONLINE)
        return act

    def identity(self) -> dict[str, Any]:
        """A new customer, or (one in four) one who came before, signed by the shop like the widget's."""
        rng = self.rng
        if self.customers and rng.random() < 0.25:
            external_id, name, email = rng.choice(self.customers)
        else:
            name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
            external_id = f"demo-{secrets.token_hex(5)}"
            email = f"{name.lower().replace(' ', '.')}.{external_id[5:9]}@{DEMO_DOMAIN}"
            self.customers.append((external_id, name, email))
        expires = int(self.now()) + 3600
        return {"name": name, "email": email, "external_id": external_id, "expires": expires,
                "signature": widget_signature(self.widget_secret, external_id, expires)}

    async def conversation(self) -> None:
        record = await self.service.customers.open(channel="web", **self.identity())
        conversation_id = record.conversation_id
        plan = self.plan()
        self.plans[conversation_id] = plan
        self.outcome.conversations += 1
        await self.customer_turn(conversation_id, 0)

    async def say(self, conversation_id: str, text: str, replies: list[dict[str, Any]] | None = None,
                  intent: str = "ask_question") -> None:
        if replies is not None:
            self.bot.next[conversation_id] = replies
        self.bot.said.setdefault(conversation_id, []).append(intent)
        said = await self.service.customers.says(conversation_id, text, secrets.token_hex(8))
        await self.service.customers.bot_turn(said)

    async def customer_turn(self, conversation_id: str, turn: int) -> None:
        """The customer's next question (answered from the article), the hand-off, or the end."""
        plan, rng, texts = self.plans[conversation_id], self.rng, self.texts
        if turn < plan.turns:
            article = plan.article if turn == 0 else rng.choice(self.related(plan.article))
            await self.say(conversation_id, rng.choice(article.questions), self.answer(article))
            if turn == 0 and plan.reason is None and rng.random() < 0.15:
                await self.vote(conversation_id)
            self.at(self.now() + rng.uniform(20, 120), self.next_turn(conversation_id, turn + 1))
            return
        if plan.reason is not None:
            intent = CUSTOMER_INTENT.get(plan.reason)
            text = rng.choice(texts.examples[intent]) if intent in texts.examples else rng.choice(
                plan.article.questions)
            await self.say(conversation_id, text, self.handoff(conversation_id, plan, text))
            record = await self.service.customers.get(conversation_id)
            self.outcome.handoffs += 1
            if record.state is State.OFFLINE:
                self.outcome.offline += 1
            elif record.state is State.QUEUED:
                self.queued_at[conversation_id] = self.now()
                self.at(self.now() + plan.patience, self.leave_queue(conversation_id))
            return
        if plan.thanks:
            await self.say(conversation_id, rng.choice(texts.examples.get("thank", ["thanks"])),
                           [{"text": texts.responses.get("utter_you_are_welcome", "You're welcome!")}], "thank")
        if plan.rates:
            await self.rate(conversation_id, rng.choices((5, 4, 3, 2, 1), (55, 25, 10, 5, 5))[0])

    def next_turn(self, conversation_id: str, turn: int) -> Callable[[], Awaitable[None]]:
        async def act() -> None:
            await self.customer_turn(conversation_id, turn)
        return act

    def related(self, article: Article) -> list[Article]:
        same = [a for a in self.texts.articles if a.category == article.category and a.id != article.id]
        return same or self.texts.articles

    def answer(self, article: Article) -> list[dict[str, Any]]:
        """The real bot's answer from an article: the text, then the citation (a reply of its own, as Rasa's
        REST channel sends a response's custom payload)."""
        template = self.texts.responses.get("utter_kb_answer", "{answer}\n\nSource: {title}")
        return [{"text": template.format(answer=article.answer, title=article.title)},
                {"custom": {"citation": citation(article, self.rng.uniform(0.62, 0.93))}}]

    def handoff(self, conversation_id: str, plan: Plan, text: str) -> list[dict[str, Any]]:
        """The real bot's hand-off: its response, then the request (schemas/handoff-request.v2.json)."""
        rng, reason, article = self.rng, plan.reason or "explicit_request", plan.article
        intent = CUSTOMER_INTENT.get(reason) or rng.choice(sorted(self.texts.examples))
        confidence = round(rng.uniform(0.3, 0.6) if reason in ("low_nlu_confidence", "ambiguous_intent")
                           else rng.uniform(0.75, 0.99), 4)
        frustration = round(rng.uniform(0.6, 0.95), 2) if reason in ("complaint", "negative_sentiment") else 0.0
        figures: dict[str, Any] = {"intent": intent, "confidence": confidence}
        if reason == "low_knowledge_score":
            figures["score"] = round(rng.uniform(0.2, 0.45), 3)
        priority = "high" if reason in ("complaint", "negative_sentiment") or rng.random() < 0.1 else "normal"
        knowledge = [citation(article, rng.uniform(0.2, 0.55))] if reason != "explicit_request" else []
        request = {
            "schema": "handoff-request/v2", "conversation_id": conversation_id,
            "created_at": datetime.fromtimestamp(self.now(), UTC).isoformat(timespec="seconds"),
            "priority": priority,
            "reasons": [{"code": reason, "detail": REASON_DETAIL[reason], "figures": figures}],
            "intents": [{"name": intent, "confidence": confidence}], "knowledge": knowledge,
            "category": article.category,
            "sentiment": {"label": "negative" if frustration else "neutral", "score": -frustration,
                          "frustration": frustration},
            "summary": (f"The customer wrote about {article.title.lower()}. Their last message: \"{text}\". "
                        f"Handed off because: {REASON_DETAIL[reason].rstrip('.').lower()}."),
            "last_user_message": text, "slots": {}}
        response = self.texts.responses.get(HANDOFF_RESPONSE.get(reason, "utter_handoff"), "")
        return [{"text": response}, {"custom": {"handoff": request}}]

    def leave_queue(self, conversation_id: str) -> Callable[[], Awaitable[None]]:
        """The customer gives up waiting: their widget closes, and the sweeper abandons the conversation once
        ``HANDOFF_ABANDON_AFTER`` has passed."""
        async def act() -> None:
            if (await self.service.customers.get(conversation_id)).state is not State.QUEUED:
                return
            await self.service.customers.presence(conversation_id, connected=False)
            self.at(self.now() + self.service.settings.abandon_after + 1, self.sweep_for_abandon(conversation_id))
        return act

    def sweep_for_abandon(self, conversation_id: str) -> Callable[[], Awaitable[None]]:
        async def act() -> None:
            await self.service.sweep()
            if (await self.service.customers.get(conversation_id)).state is State.ABANDONED:
                self.outcome.abandoned += 1
                self.queued_at.pop(conversation_id, None)
        return act

    def agent_flow(self, conversation_id: str, agent: Principal) -> Callable[[], Awaitable[None]]:
        """The agent's work on an assigned conversation: a greeting, a few exchanges, then the end."""
        async def first() -> None:
            record = await self.service.customers.get(conversation_id)
            if record.state is not State.ASSIGNED or record.agent_id != agent.agent_id:
                # not answered in time: the sweeper requeues it (and sets the agent away; they come back)
                self.working.discard((conversation_id, agent.agent_id))
                await self.service.sweep()
                self.at(self.now() + self.rng.uniform(60, 300), self.come_back(agent))
                return
            if self.now() - (record.assigned_at or self.now()) > self.service.settings.accept_timeout:
                await self.service.sweep()  # the accept timeout passed first: requeued, the agent set away
                self.working.discard((conversation_id, agent.agent_id))
                self.at(self.now() + self.rng.uniform(60, 300), self.come_back(agent))
                return
            greeting = self.texts.canned.get("hello", "Hi, thanks for waiting!")
            await self.service.desk.says(agent, conversation_id, f"{greeting} This is {agent.name.split()[0]}.",
                                         secrets.token_hex(8))
            self.at(self.now() + self.rng.uniform(30, 150), exchange(self.rng.choice((1, 2, 3))))

        def exchange(left: int) -> Callable[[], Awaitable[None]]:
            async def act() -> None:
                plan = self.plans.setdefault(conversation_id, self.plan())  # one from before the simulation
                await self.service.customers.says(conversation_id, self.rng.choice(plan.article.questions),
                                                  secrets.token_hex(8))
                reply = self.rng.choice([plan.article.answer, *self.texts.canned.values()])
                await self.service.desk.says(agent, conversation_id, reply, secrets.token_hex(8))
                if left > 1:
                    self.at(self.now() + self.rng.uniform(40, 200), exchange(left - 1))
                else:
                    self.at(self.now() + self.rng.uniform(20, 120), finish)
            return act

        async def finish() -> None:
            self.working.discard((conversation_id, agent.agent_id))
            record = await self.service.customers.get(conversation_id)
            if record.state is not State.ASSIGNED or record.agent_id != agent.agent_id:
                return
            roll = self.rng.random()
            if roll < 0.08 and self.transfers.get(conversation_id, 0) == 0:
                self.transfers[conversation_id] = 1
                self.outcome.transferred += 1
                if record.ticket_id is not None and self.rng.random() < 0.5:
                    await self.service.desk.note(agent, conversation_id, "Needs someone with more experience "
                                                 "of this; passing it on.")
                await self.service.desk.transfer(agent, conversation_id, tier=min(3, (record.tier or 1) + 1))
                self.queued_at[conversation_id] = self.now()
                patience = self.plans.setdefault(conversation_id, self.plan()).patience
                self.at(self.now() + patience, self.leave_queue(conversation_id))
                return
            if roll < 0.2:
                await self.service.desk.hand_back(agent, conversation_id)
                self.outcome.handed_back += 1
                return
            closing = self.texts.canned.get("bye", "Anything else?")
            await self.service.desk.says(agent, conversation_id, closing, secrets.token_hex(8))
            await self.service.desk.resolve(agent, conversation_id)
            self.outcome.resolved += 1
            if self.plans.setdefault(conversation_id, self.plan()).rates:
                await self.rate(conversation_id, self.score_after_agent(conversation_id))

        return first

    def score_after_agent(self, conversation_id: str) -> int:
        """Mostly 4 and 5; lower after a long wait or a transfer."""
        waited = self.waited.get(conversation_id, 0.0)
        penalty = min(2.0, waited / 600) + (0.8 if self.transfers.get(conversation_id) else 0.0)
        score = self.rng.gauss(4.5 - penalty, 0.8)
        return max(1, min(5, round(score)))

    async def rate(self, conversation_id: str, score: int) -> None:
        """The customer answers the rating request: the one the service made (an agent resolved it, the customer
        thanked the bot), or else the one its sweeper makes once the conversation has gone quiet."""
        if (await self.feedback.state(conversation_id))["request"] is None:
            await self.feedback.ask(conversation_id, "quiet")
        comment = "" if score >= 4 or self.rng.random() < 0.5 else self.rng.choice(
            ("I had to wait too long.", "I had to explain everything twice.", "Still not sorted out."))
        await self.feedback.rate(conversation_id, score, comment)
        self.outcome.ratings += 1

    async def vote(self, conversation_id: str) -> None:
        """A helpful / not helpful vote on the bot's answer (the message carrying the citation)."""
        cited: list[MessageView] = [m for m in await self.service.customers.history(conversation_id)
                                    if m.sender == "bot" and m.payload and "citation" in (m.payload.get("custom")
                                                                                          or {})]
        if cited:
            helpful = self.rng.random() < 0.75
            await self.feedback.vote(conversation_id, cited[-1].id, helpful,
                                     "" if helpful else "That did not answer my question.")
            self.outcome.votes += 1
