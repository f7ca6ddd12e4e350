"""Metrics for operations, in Prometheus's format (docs/operations-metrics.md): what the service did since this
instance started (counters, the bot's latency) and what the live state is at the moment of the scrape.

Each :class:`Telemetry` has a registry of its own (not the client library's global one), so that two services
in one process (tests, a benchmark) count apart. The parts that count get it from the facade: the relay counts
messages, the escalation hand-offs, :class:`TimedBot` the bot's answers. The live figures (the queue, agents,
sockets, alert states) are read when Prometheus asks, by :meth:`Telemetry.scrape`, and handed to a collector
that only reports them: the client library's ``collect()`` is synchronous, the store is not.

With several instances, the counters and socket counts are each instance's own (sum them in PromQL); the
queue, the agents and the alerts are shared state, so every instance reports the same figures (take ``max``).
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from handoff.core.errors import UpstreamUnavailable
from handoff.core.model import Presence
from handoff.service.ports import Bot, Clock, Store

BOT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0)
"""Seconds: Rasa answers a turn in a few hundred milliseconds; ``HANDOFF_RASA_TIMEOUT`` (30 s) is the end."""
SOCKET_KINDS = ("customer", "agent")
SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


@cache
def reason_codes() -> frozenset[str]:
    """The reason codes the hand-off request contracts know, and the service's own (the bot down, the bot with
    no cited answer on e-mail)."""
    codes = {"bot_unavailable", "bot_uncited", "handoff_requested"}
    for path in SCHEMAS.glob("handoff-request.v*.json"):
        reasons = json.loads(path.read_text())["properties"]["reasons"]["items"]["properties"]["code"]
        codes.update(reasons.get("enum", []))
    return frozenset(codes)


def reason_label(code: object) -> str:
    """A hand-off's reason as a label value: a known code, else ``other`` (a label's values must stay few)."""
    return code if isinstance(code, str) and code in reason_codes() else "other"


@dataclass
class LiveFigures:
    """The live state as last read, for the collector to report."""

    queue_length: int = 0
    oldest_wait: float = 0.0
    agents: dict[str, int] = field(default_factory=dict)
    assigned: int = 0
    sockets: dict[str, int] = field(default_factory=dict)
    alerts: dict[str, bool] = field(default_factory=dict)


class LiveCollector(Collector):
    """Reports :class:`LiveFigures` as gauges."""

    def __init__(self) -> None:
        self.figures = LiveFigures()

    def collect(self) -> Iterator[Metric]:
        f = self.figures
        yield GaugeMetricFamily("handoff_queue_length", "Conversations waiting in the hold queue now (shared "
                                "state: every instance reports the same).", value=f.queue_length)
        yield GaugeMetricFamily("handoff_queue_oldest_wait_seconds", "How long the conversation queued longest "
                                "has waited, 0 when the queue is empty (shared state).", value=f.oldest_wait)
        agents = GaugeMetricFamily("handoff_agents", "Agents by presence (shared state).", labels=["presence"])
        for presence in Presence:
            agents.add_metric([presence.value], f.agents.get(presence.value, 0))
        yield agents
        yield GaugeMetricFamily("handoff_conversations_assigned", "Conversations assigned to agents now (shared "
                                "state).", value=f.assigned)
        sockets = GaugeMetricFamily("handoff_sockets_open", "WebSockets open on this instance, by kind (sum "
                                    "over instances).", labels=["kind"])
        for kind in SOCKET_KINDS:
            sockets.add_metric([kind], f.sockets.get(kind, 0))
        yield sockets
        alerts = GaugeMetricFamily("handoff_alert_firing", "1 while the alert rule fires, else 0 (shared "
                                   "state).", labels=["rule"])
        for rule, firing in sorted(f.alerts.items()):
            alerts.add_metric([rule], 1.0 if firing else 0.0)
        yield alerts


class Telemetry:
    """One service's metrics: its counters and histogram, and the live figures read at scrape time."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.messages = Counter("handoff_messages", "Messages stored, by who sent them (customer, bot, agent, "
                                "system).", ["sender"], registry=self.registry)
        self.handoffs = Counter("handoff_handoffs", "Hand-offs from the bot to people, by the strongest reason "
                                "and the outcome (queued, or offline: out of hours).", ["reason", "outcome"],
                                registry=self.registry)
        self.bot_latency = Histogram("handoff_bot_latency_seconds", "How long the bot took to answer a "
                                     "customer's message.", registry=self.registry, buckets=BOT_BUCKETS)
        self.bot_failures = Counter("handoff_bot_failures", "Customer messages the bot did not answer (Rasa "
                                    "down, an error, a timeout).", registry=self.registry)
        self.http = Counter("handoff_http_requests", "HTTP requests answered, by route template, method and "
                            "status.", ["route", "method", "status"], registry=self.registry)
        self.live = LiveCollector()
        self.registry.register(self.live)

    def message(self, sender: str) -> None:
        self.messages.labels(sender).inc()

    def handoff(self, reason: object, outcome: str) -> None:
        self.handoffs.labels(reason_label(reason), outcome).inc()

    async def scrape(self, store: Store, clock: Clock, sockets: Mapping[str, int],
                     alerts: object | None = None) -> bytes:
        """The exposition text, the live figures read now: the queue and agents from ``store``, ``sockets``
        (open sockets by kind on this instance), and the alert rules' states from ``alerts`` (the service's
        alerts part, if it has one: its ``states()``, or awaited, a mapping of rule name to firing)."""
        queued = await store.queued()
        agents = await store.agents()
        now = clock()
        figures = LiveFigures(
            queue_length=len(queued),
            oldest_wait=max((now - (r.queued_at or now) for r in queued), default=0.0),
            assigned=sum(agent.load for agent in agents),
            sockets={kind: sockets.get(kind, 0) for kind in SOCKET_KINDS},
            alerts=await alert_states(alerts))
        for agent in agents:
            figures.agents[agent.presence.value] = figures.agents.get(agent.presence.value, 0) + 1
        self.live.figures = figures
        return generate_latest(self.registry)


async def alert_states(alerts: object | None) -> dict[str, bool]:
    """``{rule: firing}`` from the alerts part's ``states()`` (plain or awaitable); empty without one."""
    states = getattr(alerts, "states", None)
    if states is None:
        return {}
    found: Any = states()
    if inspect.isawaitable(found):
        found = await found
    return {str(rule): bool(firing) for rule, firing in dict(found).items()}


class TimedBot:
    """The :class:`~handoff.service.ports.Bot` port, measured: each answer's latency, each failure counted."""

    def __init__(self, bot: Bot, telemetry: Telemetry) -> None:
        self._bot = bot
        self._telemetry = telemetry

    async def send(self, conversation_id: str, text: str,
                   metadata: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        started = time.perf_counter()
        try:
            replies = await self._bot.send(conversation_id, text, metadata)
        except UpstreamUnavailable:
            self._telemetry.bot_failures.inc()
            raise
        self._telemetry.bot_latency.observe(time.perf_counter() - started)
        return replies

    async def hand_back(self, conversation_id: str, transcript: Sequence[tuple[str, str, float]],
                        agent_name: str) -> None:
        await self._bot.hand_back(conversation_id, transcript, agent_name)

    async def intents(self, conversation_id: str, latest: bool = False) -> list[str]:
        return await self._bot.intents(conversation_id, latest)

    async def parses(self, conversation_id: str, latest: bool = False) -> list[dict[str, Any]]:
        return await self._bot.parses(conversation_id, latest)

    async def close(self) -> None:
        await self._bot.close()
