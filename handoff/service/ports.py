"""The service's ports: what its parts need of the world, each handed to them explicitly.

::

    port        what                                           behind it (handoff/adapters/)
    Store       live state: owners, queue, presence, the bus   MemoryStore (embedded), RedisStore (production)
    TicketLog   the durable record: conversations, messages,   TicketLog over SQLAlchemy: SQLite (embedded),
                transitions, tickets, people                   PostgreSQL (production)
    Bot         the assistant: a customer's words in, its      RasaClient (Rasa's REST channel and tracker API)
                replies (Rasa's REST reply format) out
    Knowledge   articles close to a text, for agents           Suggestions (knowledge/, in process)
    Library     the articles' sources and index, for trainers  Library (knowledge/, in process; the files)
    TrainingData  the bot's domain intents, its NLU files      TrainingData (files: read; the inbox's written)
    ModelRegistry the bot's model versions, retraining,        ModelRegistry (files read; the bot's commands
                  promotion                                    run as subprocesses in the Rasa environment)
    Clock       seconds since the epoch                        time.time; a fake clock in the tests
    ImTransport an IM provider: its customers' messages in,    XmppTransport (adapters/xmpp.py: slixmpp)
                the service's out (one per IM channel)

The store has two implementations held to one contract, so it is a :class:`typing.Protocol` here. The ticket
log has one implementation whose database is what varies (the same tests run on SQLite and PostgreSQL), so its
port is its class: a protocol would only be a copy of its signatures. The parts import the log's views
(:class:`MessageView`, :class:`TransitionNote`, :class:`AgentAccount`) from here too, so that this module and
:mod:`handoff.service.wiring` are the only places the service meets the adapters.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from handoff.adapters.knowledge import Library
from handoff.adapters.mail.outbound import MailRelay
from handoff.adapters.mail.parse import ParsedMail, parse_mail
from handoff.adapters.model_registry import ModelRegistry
from handoff.adapters.notify import DeliveryFailed, DeliveryRefused, Mail, SmtpServer, Webhooks, recipient
from handoff.adapters.store.base import Event, Handler, Subscription
from handoff.adapters.text_models import SentenceEncoder, Sentiment
from handoff.adapters.tickets import (
    AgentAccount,
    ConversationView,
    CustomerView,
    MessageView,
    TicketLog,
    TicketView,
    TransitionNote,
    TransitionView,
)
from handoff.adapters.tickets.analytics import StoredRun, StoredTopic
from handoff.adapters.tickets.automation import Candidate as AutomationCandidate
from handoff.adapters.tickets.feedback import Verdict, citation_of, request_of
from handoff.adapters.tickets.identities import IdentityView
from handoff.adapters.tickets.inbox import InboxView
from handoff.adapters.tickets.knowledge import GapQuestion
from handoff.adapters.tickets.practice import ScenarioView, SessionView
from handoff.adapters.tickets.quality import HandledTicket, ReviewView
from handoff.adapters.training_data import TrainingData
from handoff.core.channels import Deliver, InboundIm, Rendered
from handoff.core.model import AgentId, AgentSnapshot, ConversationId, ConversationRecord, Presence, State

__all__ = ["AgentAccount", "Bot", "Clock", "ConversationView", "CustomerView", "Event", "Handler", "Knowledge",
           "MessageView", "SentenceEncoder", "Sentiment", "Store", "StoredRun", "StoredTopic", "Subscription",
           "TicketLog", "TransitionNote", "TransitionView", "Verdict", "citation_of", "request_of"]
__all__ += ["DeliveryFailed", "Mail", "SmtpServer", "Webhooks", "recipient"]  # alert delivery (adapters/notify.py)
__all__ += ["MailRelay", "ParsedMail", "parse_mail"]  # the e-mail channel (adapters/mail/, service/mail.py)
__all__ += ["IdentityView"]  # a channel identity linked to a customer (handoff.service.identities)
__all__ += ["Deliver", "DeliveryRefused", "ImTransport", "InboundIm", "WebhookTransport"]  # IM (service/im.py)
__all__ += ["AutomationCandidate"]  # a ticket an automation rule may act on (handoff.service.automation)
__all__ += ["HandledTicket", "ReviewView"]  # QA review (handoff.service.quality)
__all__ += ["InboxView", "TicketView", "TrainingData"]  # the NLU inbox and its training data (service/inbox.py)
__all__ += ["ModelRegistry"]  # the bot's model versions (service/models.py)
__all__ += ["ScenarioView", "SessionView"]  # team training (service/practice.py)
__all__ += ["GapQuestion", "Library"]  # the knowledge workbench: gaps in the log, the articles (service/knowledge.py)

Clock = Callable[[], float]
"""Seconds since the epoch (``time.time``); the service reads time only through it."""


class ImTransport(Protocol):
    """An IM provider's connection, one per IM channel (:data:`handoff.core.channels.IM_CHANNELS`).

    A session transport (XMPP) holds a connection: :meth:`start` opens it and calls ``deliver`` for each event,
    and only one instance of a deployment runs it (``exclusive``: the service holds a store lease for it). A
    webhook transport (``exclusive`` False) gets its events from an HTTP route that calls ``deliver`` (the
    service's ``receive``) itself; its :meth:`start` only remembers ``deliver``."""

    channel: str
    exclusive: bool

    async def start(self, deliver: Deliver) -> None: ...

    async def send(self, address: str, rendered: Rendered) -> str:
        """Send one message (its text as the channel rendered it; ``rendered.buttons``: buttons the provider
        shows itself) to ``address``; the provider's id of the message sent.

        Raises:
            DeliveryFailed: not sent (not connected, refused); the outbox tries again later.
            DeliveryRefused: refused for good (the customer blocked the bot); the outbox gives it up.
        """

    async def close(self) -> None: ...


@runtime_checkable
class WebhookTransport(ImTransport, Protocol):
    """An IM transport whose provider POSTs its events to a route of the service (Telegram): the route checks the
    caller, then hands the parsed body to :meth:`take`."""

    async def take(self, update: Any) -> None:
        """Take in what the provider posted (an event the channel ignores is dropped).

        Raises:
            Exception: it could not be stored; the route answers 5xx, and the provider sends it again.
        """


class Bot(Protocol):
    """The assistant the service forwards a customer's words to while the bot owns the conversation."""

    async def send(self, conversation_id: str, text: str,
                   metadata: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Say ``text`` as the customer; the bot's replies in Rasa's REST channel format (``text``,
        ``buttons``, ``image``, ``custom``; a hand-off request under ``custom.handoff``).

        Raises:
            UpstreamUnavailable: the bot did not answer.
        """

    async def hand_back(self, conversation_id: str, transcript: Sequence[tuple[str, str, float]],
                        agent_name: str) -> None:
        """Tell the bot what the customer and the agent said while it was not listening (``(sender, text,
        timestamp)``, oldest first), and that it owns the conversation again.

        Raises:
            UpstreamUnavailable: the bot did not take it.
        """

    async def intents(self, conversation_id: str, latest: bool = False) -> list[str]:
        """The intents the bot recognised in the customer's messages, in the order first seen (``latest``: only
        that of the newest message), from its tracker; empty for a conversation it does not know.

        Raises:
            UpstreamUnavailable: the bot did not answer.
        """

    async def parses(self, conversation_id: str, latest: bool = False) -> list[dict[str, Any]]:
        """What the bot's NLU made of the customer's messages (Rasa's ``parse_data``: ``text``, ``intent``,
        ``intent_ranking``), oldest first (``latest``: only the newest message's); empty for a conversation it
        does not know.

        Raises:
            UpstreamUnavailable: the bot did not answer.
        """

    async def close(self) -> None: ...


class Knowledge(Protocol):
    """Knowledge-base articles for agents."""

    async def for_text(self, text: str, k: int = 3) -> list[dict[str, Any]]:
        """Up to ``k`` articles closest to ``text``, best first: ``{article_id, version, title, category,
        score, text}``; empty when the knowledge base is off or unavailable."""


class Store(Protocol):
    """Live state shared by every instance of the handoff service.

    Atomicity is the store's job: :meth:`assign` never puts an agent over capacity and never gives one
    conversation to two agents, also when two service instances race on the same Redis. Durable history
    (messages, transitions, tickets) lives in the ticket log, not here.

    The hold queue is kept in service order: by each record's ``rank`` (computed by the service from its
    priority and the time it was queued, :meth:`handoff.core.queue.QueueOrder.rank`; the store sets it to
    ``queued_at`` when a queued record has none), then by conversation id. So a position, a page of the
    queue or the next conversation to route costs the same whatever the queue's length.
    """

    # conversations -------------------------------------------------------------------------
    async def create_conversation(self, record: ConversationRecord) -> None:
        """Store a new conversation; raises ``Conflict`` if the id exists."""

    async def get_conversation(self, conversation_id: ConversationId) -> ConversationRecord | None: ...

    async def update_conversation(self, conversation_id: ConversationId, expected: Collection[State],
                                  changes: Mapping[str, Any]) -> ConversationRecord:
        """Compare-and-set: apply ``changes`` (field -> value, ``state`` included) only if the current state
        is in ``expected``; return the new record. Raises ``UnknownConversation`` or ``StateConflict``
        (carrying the current state)."""

    async def touch(self, conversation_id: ConversationId) -> None:
        """Restart the record's time to live, if its state has one (the store's ``expire_after``: ended and
        bot-only conversations are forgotten once idle that long; queued and assigned ones never expire).
        Every write restarts it too."""

    async def delete_conversation(self, conversation_id: ConversationId) -> ConversationRecord | None:
        """Forget the conversation's live record and take it out of every index (the queue, its agent's
        assignments and load); return the record it had, or None if there was none."""

    # agents --------------------------------------------------------------------------------
    async def upsert_agent(self, agent: AgentSnapshot) -> None:
        """Set an agent's static fields (capacity, tiers, languages, skills, shift, timezone); keeps
        presence, load and idle_since if the agent is known."""

    async def set_presence(self, agent_id: AgentId, presence: Presence, now: float) -> None: ...

    async def get_agent(self, agent_id: AgentId) -> AgentSnapshot | None: ...

    async def agents(self) -> list[AgentSnapshot]: ...

    async def agent_conversations(self, agent_id: AgentId) -> list[ConversationId]:
        """Conversations assigned to the agent now, oldest assignment first."""

    async def agent_seen(self, agent_id: AgentId, now: float | None) -> None:
        """A sign of life of one of the agent's consoles at ``now`` (a socket opened, pinged or closed), which
        starts or renews their grace; None forgets it (nobody waits for them any more)."""

    async def agents_unseen(self, seen_before: float) -> list[AgentId]:
        """Agents whose last sign of life (:meth:`agent_seen`) is before the given time."""

    # the hold queue and assignment -----------------------------------------------------------
    async def enqueue(self, conversation_id: ConversationId, changes: Mapping[str, Any]) -> ConversationRecord:
        """Atomically move a conversation in state ``bot`` to ``queued`` with ``changes`` applied (priority,
        tier, queued_at, rank...) and put it in the hold queue.

        Raises:
            StateConflict: it is no longer the bot's (another escalation of it came first).
        """

    async def queue(self) -> list[ConversationId]:
        """The hold queue's ids in service order."""

    async def queued(self, offset: int = 0, limit: int | None = None,
                     from_rank: float | None = None) -> list[ConversationRecord]:
        """The queued conversations' records in service order, in one round trip: those ranked ``from_rank``
        or later (all when None), skipping ``offset`` of them, at most ``limit`` (all when None). Fewer than
        ``limit`` only at the end of the queue."""

    async def queue_position(self, conversation_id: ConversationId) -> int | None:
        """The 1-based place of a queued conversation in service order; None if it is not queued."""

    async def assign(self, conversation_id: ConversationId, agent_id: AgentId, now: float) -> bool:
        """Atomically: if the conversation is ``queued`` and the agent is online and under capacity, make it
        ``assigned`` to the agent (assigned_at=now, answered=False), take it out of the queue and add one
        to the agent's load. Return False, changing nothing, otherwise (someone else won the race)."""

    async def mark_answered(self, conversation_id: ConversationId, agent_id: AgentId) -> None: ...

    async def release(self, conversation_id: ConversationId, agent_id: AgentId, to: State, now: float,
                      changes: Mapping[str, Any]) -> ConversationRecord | None:
        """Atomically end the agent's assignment: if the conversation is ``assigned`` to ``agent_id``, move
        it to ``to`` (``bot``, ``resolved``, or ``queued`` for a requeue or transfer) with no agent and
        ``changes`` applied, subtract one from the agent's load (idle_since=now when it reaches 0), and when
        ``to`` is ``queued`` put it back in the hold queue with its original ``queued_at``. Return the new
        record, or None if it was not assigned to that agent (already released elsewhere)."""

    async def expired_assignments(self, assigned_before: float) -> list[tuple[ConversationId, AgentId]]:
        """Assigned, not yet answered, and assigned before the given time: candidates for requeueing."""

    async def left_while_queued(self, left_before: float) -> list[ConversationId]:
        """Queued conversations whose customer left before the given time: candidates for ``abandoned``."""

    # handle-time statistics for wait estimates -----------------------------------------------
    async def record_handle_time(self, seconds: float) -> None: ...

    async def average_handle_time(self, default: float) -> float:
        """Mean of the recent handle times (a bounded window), or ``default`` with no history."""

    # abuse limits ----------------------------------------------------------------------------
    async def hit(self, key: str, window: float, now: float) -> int:
        """Count one hit on ``key`` in the fixed window of ``window`` seconds that holds ``now`` (the windows
        are ``[k * window, (k + 1) * window)``) and return the window's hits so far, this one included. Every
        instance counts in the same counter; a window's counter is forgotten once it has passed."""

    # sessions --------------------------------------------------------------------------------
    async def put_session(self, token: str, data: Mapping[str, Any], ttl: float, owner: str | None = None) -> None:
        """Keep ``data`` under ``token`` for ``ttl`` seconds (none: delete it); ``owner`` files the session
        under its owner, for :meth:`end_sessions`."""

    async def get_session(self, token: str) -> dict[str, Any] | None:
        """The session's data, or None if unknown or expired."""

    async def delete_session(self, token: str) -> None: ...

    async def end_sessions(self, owner: str) -> int:
        """Delete every session filed under ``owner`` (on every instance at once); how many there were."""

    # failures in a row (sign-in throttling) ---------------------------------------------------
    async def add_failure(self, key: str, now: float, forget_after: float) -> int:
        """Count one more failure under ``key`` at ``now`` and return the failures in a row, this one included;
        the count starts again from one when the last failure was more than ``forget_after`` seconds before.
        Atomic: instances failing at once each count."""

    async def failures(self, key: str) -> tuple[int, float]:
        """``(failures in a row, when the last was)`` under ``key``; ``(0, 0.0)`` for none. Whether they are
        older than the ``forget_after`` of :meth:`add_failure` is for the caller to judge."""

    async def clear_failures(self, key: str) -> None:
        """Forget the failures under ``key``."""
    # claims ------------------------------------------------------------------------------------
    async def claim(self, name: str, ttl: float) -> bool:
        """True for the first caller of ``name`` (on any instance) while the claim lasts: ``ttl`` seconds, or
        until the store loses its state when ``ttl`` is 0. Work that must happen once claims it first."""

    async def lease(self, name: str, holder: str, ttl: float) -> bool:
        """Hold ``name`` for ``holder`` for ``ttl`` seconds: True if it was free (never held, or lapsed) or held by
        ``holder`` already (then renewed for ``ttl`` from now), False while another holder has it. Atomic:
        instances racing for a free lease, one wins. Work one instance does for all (the alerts) renews it."""

    # the bus (cross-instance relay) ------------------------------------------------------------
    async def publish(self, channel: str, event: Event) -> None:
        """Deliver ``event`` to every subscriber of ``channel`` on every instance (at most once each)."""

    async def publish_all(self, events: Sequence[tuple[str, Event]]) -> None:
        """:meth:`publish` each ``(channel, event)`` in order, in one round trip where the store has them."""

    async def subscribe(self, channel: str, handler: Handler) -> Subscription:
        """Call ``handler`` with each event published on ``channel`` from now on, in publication order."""

    async def close(self) -> None: ...
