"""The ticket log: the durable record of conversations, messages, transitions, tickets and people.

The live routing state is the store's (:mod:`handoff.adapters.store`); this is the history every QA figure
is computed from. :class:`TicketLog` composes one repository per subject, all over one engine and one
session factory:

- ``conversations`` (:class:`~handoff.adapters.tickets.conversations.ConversationLog`): conversations, their
  messages (group-committed by the log's one message writer) and state transitions;
- ``tickets`` (:class:`~handoff.adapters.tickets.ticketing.TicketBook`): tickets, assignments, notes;
- ``people`` (:class:`~handoff.adapters.tickets.people.PeopleBook`): customers, agents' accounts, canned
  responses;
- ``kpis`` (:class:`~handoff.adapters.tickets.kpis.KpiBook`): the facts the QA metrics are measured from;
- ``contacts`` (:class:`~handoff.adapters.tickets.contacts.ContactBook`): contacts per interval, the
  forecast's history;
- ``customers`` (:class:`~handoff.adapters.tickets.privacy.CustomerRecords`): a customer's data as a whole
  (find, export, erase) and the retention sweep;
- ``supervision`` (:class:`~handoff.adapters.tickets.supervision.SupervisionBook`): the supervisors' board
  (transfers per ticket, a tier set by hand);
- ``alerts`` / ``alert_measures`` (:mod:`handoff.adapters.tickets.alerts`): the alerts' history, and the
  figures their rules read from the log;
- ``feedback`` (:class:`~handoff.adapters.tickets.feedback.FeedbackBook`): customers' ratings and votes, and the
  follow-up items they open;
- ``automation`` (:class:`~handoff.adapters.tickets.automation.AutomationBook`): what the automation rules
  did, the tickets they look at, callbacks marked as made.
- ``qa`` (:class:`~handoff.adapters.tickets.quality.QaBook`): what QA samples, reviews and their scores,
  follow-up items' handling.
- ``analytics`` (:class:`~handoff.adapters.tickets.analytics.AnalyticsBook`): the customers' words behind
  hand-offs and low ratings, and the topics found in them.
- ``workload`` (:class:`~handoff.adapters.tickets.workload.WorkloadBook`): what staffing measures: handle
  time, patience.
- ``replay`` (:class:`~handoff.adapters.tickets.replay.ReplayLog`): a period's hand-offs for the routing
  simulator (:mod:`handoff.core.replay`), read only.
- ``inbox`` (:class:`~handoff.adapters.tickets.inbox.InboxBook`): the NLU inbox: customer messages the bot was
  unsure about, and the trainers' decisions.
- ``knowledge`` (:class:`~handoff.adapters.tickets.knowledge.KnowledgeBook`): the knowledge workbench: the
  questions the knowledge base failed, each article's use, and the trainers' decisions on gaps.
- ``mail`` (:class:`~handoff.adapters.tickets.mail.MailBook`): the e-mail channel's mail in and out (threading,
  re-deliveries, the outbox).
- ``identities`` (:class:`~handoff.adapters.tickets.identities.IdentityBook`): channel identities linked to
  customers (an e-mail address, an IM account), with how each was proved.
- ``im`` (:class:`~handoff.adapters.tickets.im.ImBook`): every IM channel's messages in and out (an event taken
  in once, the address's conversation, the outbox).
- ``practice`` (:class:`~handoff.adapters.tickets.practice.PracticeBook`): team training: weak spots' facts,
  practice scenarios, agents' sessions and their reviews.

Every method is async, runs in its own short transaction and returns frozen views
(:mod:`handoff.adapters.tickets.views`), never ORM objects. Times go in as aware datetimes or epoch seconds
(the store's unit) and come out as aware UTC datetimes.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from handoff.adapters.tickets.alerts import AlertBook, AlertMeasures
from handoff.adapters.tickets.analytics import AnalyticsBook
from handoff.adapters.tickets.automation import AutomationBook
from handoff.adapters.tickets.contacts import ContactBook
from handoff.adapters.tickets.conversations import ConversationLog
from handoff.adapters.tickets.database import Sessions, is_sqlite, make_engine, normalize_database_url
from handoff.adapters.tickets.demo import DemoRecords
from handoff.adapters.tickets.feedback import FeedbackBook
from handoff.adapters.tickets.identities import IdentityBook
from handoff.adapters.tickets.im import ImBook
from handoff.adapters.tickets.inbox import InboxBook
from handoff.adapters.tickets.knowledge import KnowledgeBook
from handoff.adapters.tickets.kpis import KpiBook
from handoff.adapters.tickets.mail import MailBook
from handoff.adapters.tickets.message_writer import MessageWriter
from handoff.adapters.tickets.people import PeopleBook
from handoff.adapters.tickets.practice import PracticeBook
from handoff.adapters.tickets.privacy import CustomerRecords
from handoff.adapters.tickets.quality import QaBook
from handoff.adapters.tickets.replay import ReplayLog
from handoff.adapters.tickets.supervision import SupervisionBook
from handoff.adapters.tickets.ticketing import TicketBook
from handoff.adapters.tickets.workload import WorkloadBook

logger = logging.getLogger(__name__)


class TicketLog:
    """The ticket log on one database (SQLite or PostgreSQL): its repositories, composed.

    Build it with ``await TicketLog.open(url)`` after :func:`handoff.adapters.tickets.migrate.migrate`, and
    ``await log.close()`` at shutdown.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        sessions = Sessions(async_sessionmaker(engine, expire_on_commit=False))
        self._writer = MessageWriter(engine)
        self.conversations = ConversationLog(sessions, self._writer)
        self.tickets = TicketBook(sessions)
        self.people = PeopleBook(sessions)
        self.kpis = KpiBook(sessions)
        self.contacts = ContactBook(sessions)
        self.customers = CustomerRecords(sessions)
        self.supervision = SupervisionBook(sessions)
        self.alerts = AlertBook(sessions)
        self.alert_measures = AlertMeasures(sessions)
        self.feedback = FeedbackBook(sessions)
        self.automation = AutomationBook(sessions)
        self.demo = DemoRecords(sessions)  # the demo history's (handoff/cli/demo.py)
        self.qa = QaBook(sessions)
        self.analytics = AnalyticsBook(sessions)
        self.workload = WorkloadBook(sessions)
        self.replay = ReplayLog(sessions)  # the routing simulator's history (read only)
        self.inbox = InboxBook(sessions)  # the NLU inbox (docs/training.md)
        self.knowledge = KnowledgeBook(sessions)  # the knowledge workbench's gaps and use (docs/training.md)
        self.mail = MailBook(sessions)  # the e-mail channel's mail in and out, the outbox
        self.identities = IdentityBook(sessions)  # channel identities linked to customers (docs/channels.md)
        self.im = ImBook(sessions)  # the IM channels' messages in and out, the outbox
        self.practice = PracticeBook(sessions)  # team training (docs/training.md, "Team training")

    @classmethod
    async def open(cls, database_url: str) -> TicketLog:
        """Connect to the database (the schema must be migrated already)."""
        engine = make_engine(database_url)
        backend = "sqlite" if is_sqlite(normalize_database_url(database_url)) else "postgresql"
        logger.info("ticket log opened on %s", backend)
        return cls(engine)

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    async def close(self) -> None:
        """Finish the messages handed in, then close every pooled connection."""
        await self._writer.close()
        await self._engine.dispose()
