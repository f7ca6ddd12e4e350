"""The handoff service: one object the web layer calls, composed of small parts.

::

    HandoffService
    ├── customers    Conversations  start, talk to the bot, come back              (conversations.py)
    ├── desk         Desk           take, answer, note, transfer, hand back,        (desk.py)
    │                               resolve; what the console shows
    ├── accounts     Accounts       sign in and out, sessions, the team, the        (accounts.py)
    │                               admins' management of accounts
    ├── helpdesk     Helpdesk       tickets and canned responses                   (helpdesk.py)
    ├── data         CustomerData   a customer's data: export, delete; retention   (customer_data.py)
    ├── identities   Identities     channel identities linked to customers: the    (identities.py)
    │                               shop's claims, verified e-mail, IM link codes
    ├── board        Board          the read model: queue, summaries, positions    (board.py)
    ├── feedback     CustomerFeedback  ratings asked at the end; ratings, votes    (feedback.py)
    ├── supervision  Supervision    the supervisors' live board; watch, whisper,   (supervision.py)
    │                               reassign, escalate
    ├── alerts       Alerts         alert rules evaluated by the sweeper, notices  (alerts.py)
    │                               delivered, their history
    ├── automation   Automation     the supervisors' rules: on arrival, idle       (automation.py)
    │                               customers, first-response SLA, callbacks
    ├── reports      Reports        the QA metrics, today's KPIs, CSV              (reports.py)
    ├── capacity     Capacity       forecast vs actual, staffing plan, what-if,    (capacity.py)
    │                               routing simulator
    ├── quality      Quality        QA review: sample, scorecard reviews, scores    (quality.py)
    ├── follow_ups   FollowUps      follow-up items of low feedback: assign, close  (follow_ups.py)
    ├── insights     Insights       sentiment trends, what sent customers to a      (insights.py)
    │                               person (topics); TopicMap: routing's category
    ├── inbox        TrainingInbox  the NLU inbox: messages the bot was unsure      (inbox.py)
    │                               about, grouped, labelled by trainers; the
    │                               training data written
    ├── models       ModelWorkbench the bot's model versions, retraining behind   (models.py)
    │                               the regression gate, promotion, rollback
    ├── trials       ModelTrials    A/B trials: the arm serving each conversation, (trials.py)
    │                               started and ended on every Rasa server, arms
    │                               compared with significance tests
    ├── knowledge    KnowledgeWorkbench  the questions the knowledge base failed,   (knowledge.py)
    │                               articles published live, their use reviewed
    ├── practice     Practice       team training: weak spots, practice on masked  (practice.py)
    │                               past conversations, reviews, progress
    ├── mail         MailChannel    e-mail in (threaded, once; by the SMTP listener (mail.py)
    │                               or the IMAP poller) and out (the outbox, retried);
    │                               None unless HANDOFF_CHANNELS has email
    └── im           InstantMessaging  the IM channels (xmpp, telegram): a provider's     (im.py)
                                    events in (once), out through the channel's transport
                                    (the outbox, retried); None unless HANDOFF_CHANNELS has one
        and inside:  Escalation     the bot's request -> ticket -> queue           (escalation.py)
                     Dispatch       routing the queue; the sweeper                 (dispatch.py)
                     Changes        what a state change records and announces      (changes.py)
                     Relay          messages into the log and onto the bus         (relay.py)
                     Recovery       the live store rebuilt from the ticket log     (recovery.py)

Who may do what is one table, :mod:`handoff.service.policy`, which every part asks before it reads or acts
for a signed-in person.

Each part gets its collaborators explicitly: the ports (:mod:`handoff.service.ports`: store, ticket log, bot,
knowledge, clock) and the parts it calls. What a state change does is decided by the pure core
(:mod:`handoff.core.transitions`); the parts apply it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from handoff.core.alerting import load_rules as load_alert_rules
from handoff.core.automation import load_rules as load_automation_rules
from handoff.core.channels import IM_CHANNELS, ChannelTable
from handoff.core.errors import SettingsError
from handoff.core.queue import QueueOrder
from handoff.core.routing import Router
from handoff.core.routing.schedule import BusinessHours
from handoff.core.scorecard import load_scorecard
from handoff.core.targets import load_targets
from handoff.service.accounts import Accounts
from handoff.service.alerts import Alerts
from handoff.service.automation import Automation
from handoff.service.board import Board
from handoff.service.capacity import Capacity
from handoff.service.changes import Changes
from handoff.service.conversations import TURN_MARGIN, Conversations
from handoff.service.customer_data import CustomerData
from handoff.service.desk import Desk
from handoff.service.dispatch import Dispatch
from handoff.service.escalation import Escalation
from handoff.service.feedback import CustomerFeedback
from handoff.service.follow_ups import FollowUps
from handoff.service.helpdesk import Helpdesk
from handoff.service.identities import Identities
from handoff.service.im import InstantMessaging
from handoff.service.inbox import TrainingInbox
from handoff.service.insights import Insights, TopicMap
from handoff.service.knowledge import KnowledgeWorkbench
from handoff.service.mail import MailChannel, mail_sender
from handoff.service.models import ModelWorkbench
from handoff.service.ports import (
    Bot,
    Clock,
    ImTransport,
    Knowledge,
    Library,
    MailRelay,
    ModelRegistry,
    SentenceEncoder,
    Sentiment,
    SmtpServer,
    Store,
    TicketLog,
    TrainingData,
)
from handoff.service.practice import Practice
from handoff.service.quality import Quality
from handoff.service.recovery import Recovery
from handoff.service.relay import Relay
from handoff.service.reports import Reports
from handoff.service.rules_file import RulesFile
from handoff.service.staffing import Staffing
from handoff.service.supervision import Supervision
from handoff.service.telemetry import Telemetry, TimedBot
from handoff.service.trials import ModelTrials
from handoff.settings import HandoffSettings

logger = logging.getLogger(__name__)


class HandoffService:
    """The parts, composed; :meth:`start` and :meth:`close` bracket its life."""

    def __init__(self, settings: HandoffSettings, *, store: Store, log: TicketLog, bot: Bot, knowledge: Knowledge,
                 router: Router, hours: BusinessHours, queue_order: QueueOrder | None = None,
                 clock: Clock = time.time, im_transports: Mapping[str, ImTransport] | None = None,
                 library: Library | None = None) -> None:
        self.settings = settings
        self.targets = load_targets(settings.targets_config)  # the team's service-level targets
        self.telemetry = Telemetry()  # this instance's metrics (GET /metrics, docs/operations-metrics.md)
        bot = TimedBot(bot, self.telemetry)
        self._store, self._log, self._bot = store, log, bot
        relay = Relay(store, log, clock, self.telemetry)
        self._recovery = Recovery(store, log, queue_order or QueueOrder(), clock)
        board = Board(settings, store, log, relay, self._recovery)
        changes = Changes(store, log, bot, relay, board, clock)
        encoder = SentenceEncoder(settings.insights_encoder)  # loaded on first use only
        self.inbox = TrainingInbox(settings, log, bot, TrainingData(settings.inbox_file, settings.inbox_domain),
                                   encoder, clock)
        self.feedback = CustomerFeedback(settings, store, log, bot, relay, board, clock, inbox=self.inbox)
        # HANDOFF_MODELS_*: the registry's files; retraining and promotions as subprocesses in the Rasa env
        registry = ModelRegistry(settings.models_registry, settings.models_python,
                                 settings.models_servers or (settings.rasa_url,), str(settings.rasa_token))
        self.models = ModelWorkbench(registry, settings.models_tolerance, settings.inbox_file, clock)
        self.trials = ModelTrials(registry, log, clock)  # A/B trials: which model answers whom, arms compared
        self.knowledge = KnowledgeWorkbench(settings, log, encoder, library, clock)  # None: the workbench is off
        self._dispatch = Dispatch(settings, store, log, relay, board, changes, router, clock)
        topic_map = TopicMap(log, encoder, settings.insights_min_similarity, clock)
        first_response = self.targets.first_response_seconds
        automation_rules = RulesFile(settings.automation_config,
                                     lambda path: load_automation_rules(path, first_response), "automation rules")
        self.automation = Automation(load_automation_rules(settings.automation_config, first_response),
                                     self.targets, store, log, board, changes, self._dispatch,
                                     queue_order or QueueOrder(), clock, automation_rules)
        escalation = Escalation(store, log, board, changes, self._dispatch, hours, queue_order or QueueOrder(), clock,
                                self.automation, self.telemetry, topic_map=topic_map)
        channels = ChannelTable.of(settings.channels)  # HANDOFF_CHANNELS (handoff.core.channels)
        self.identities = Identities(settings, store, log, clock)  # channel identities linked to customers
        self.customers = Conversations(settings, store, log, bot, relay, board, changes, escalation, clock,
                                       feedback=self.feedback, inbox=self.inbox, channels=channels,
                                       identities=self.identities, trials=self.trials)
        self.mail: MailChannel | None = None  # the e-mail channel, when HANDOFF_CHANNELS names it
        if "email" in channels:
            outgoing = MailRelay(SmtpServer(settings.smtp_host, settings.smtp_port, mail_sender(settings),
                                            settings.smtp_user,
                                            str(settings.smtp_password) if settings.smtp_password else None,
                                            settings.smtp_starttls)) if settings.smtp_host else None
            self.mail = MailChannel(settings, log, self.customers, relay, channels, clock, outgoing)
            relay.outbound["email"] = self.mail.outbound
            self.mail.identities = self.identities  # mail from a linked address is its customer's
            self.mail.feedback = self.feedback  # a reply that is just a number 1-5 rates the conversation
            self.identities.mailer = self.mail.verification  # codes that verify an e-mail address
            escalation.on_callback = self.mail.callback_promised
        self.im: InstantMessaging | None = None  # the IM channels, when HANDOFF_CHANNELS names one
        im_channels = [name for name in settings.channels if name in IM_CHANNELS]
        if im_channels:
            transports = dict(im_transports or {})
            missing = [name for name in im_channels if name not in transports]
            if missing:
                raise SettingsError(f"HANDOFF_CHANNELS: no transport for {', '.join(missing)}.")
            self.im = InstantMessaging(settings, store, log, self.customers, relay, channels, clock,
                                       {name: transports[name] for name in im_channels})
            self.im.identities = self.identities  # an IM account linked by a code is its customer's
            self.im.feedback = self.feedback  # an answer to the rating prompt is the customer's rating
            for name in im_channels:
                relay.outbound[name] = self.im.outbound
        self.desk = Desk(store, log, knowledge, relay, board, changes, self._dispatch, self.customers, clock,
                         feedback=self.feedback, identities=self.identities)
        self.accounts = Accounts(store, log, self.desk, self._dispatch, relay, settings.session_ttl, clock)
        self.helpdesk = Helpdesk(log, clock, inbox=self.inbox)
        if self.mail is not None:
            self.helpdesk.callback_mail = self.mail.callback  # an out-of-hours callback made by e-mail
        self.data = CustomerData(settings, store, log, relay, self.customers, clock, identities=self.identities)
        self.board = board
        self.supervision = Supervision(settings, self.targets, store, log, board, changes, self._dispatch, self.desk,
                                       self.customers, clock)
        self.alerts = Alerts(settings, store, log, self.targets, load_alert_rules(settings.alerts_config), clock,
                             hours, RulesFile(settings.alerts_config, load_alert_rules, "alert rules"))
        self.reports = Reports(log, self.targets, hours.tz, clock)
        self.capacity = Capacity(log, Staffing(log, hours, settings.abandon_after, clock), hours, self.targets,
                                 settings.routing_config, clock)
        self.quality = Quality(log, load_scorecard(settings.scorecard_config), clock)  # HANDOFF_SCORECARD
        self.follow_ups = FollowUps(log, clock)
        self.insights = Insights(settings, store, log, self.customers, self.desk, Sentiment(), encoder, topic_map,
                                 clock)
        self.practice = Practice(log, knowledge, encoder, clock)  # team training (docs/training.md)
        self._clock = clock
        self._replay_at: float | None = None  # when to look again for the bot's turns another instance held
        self._stopping = asyncio.Event()
        self._sweeper: asyncio.Task[None] | None = None
        self._closers: list[Callable[[], Awaitable[None]]] = []  # adapters the wiring started for it (listeners)

    def on_close(self, closer: Callable[[], Awaitable[None]]) -> None:
        """Have :meth:`close` call ``closer`` first (a listener the wiring started, such as e-mail's)."""
        self._closers.append(closer)

    async def start(self, *, sweeper: bool = True, recover: bool = True, channels: bool = True) -> None:
        """Rebuild what the live store lacks from the ticket log (it may be new: a restart), answer the
        customer messages the bot never answered (not with ``recover`` False: a one-off command), start the IM
        channels' transports (not with ``channels`` False) and the sweeper (every ``HANDOFF_SWEEP_INTERVAL``
        seconds; tests drive :meth:`sweep` on a fake clock instead)."""
        if recover:
            await self._recovery.rebuild()
            await self._replay()
        if channels and self.im is not None:
            await self.im.start()
        if sweeper:
            self._sweeper = asyncio.create_task(self._run_sweeper())

    async def sweep(self) -> None:
        """One pass of the sweeper: rebuild the live store if it lost its state (Redis restarted empty),
        requeue unanswered assignments and the conversations of agents gone too long, abandon conversations
        customers left, apply the automation rules that are due, once a day delete what is older than the
        retention period, every ``HANDOFF_ALERT_INTERVAL`` evaluate the alert rules, and ask for a rating of
        conversations with the bot gone quiet."""
        if await self._recovery.store_is_new():
            logger.warning("the live store lost its state; rebuilding it from the ticket log")
            await self._recovery.rebuild()
            await self._replay()
        elif self._replay_at is not None and self._clock() >= self._replay_at:
            await self._replay()
        await self.automation.sweep()
        await self._dispatch.sweep()
        await self.data.retention_if_due()
        await self.alerts.tick()
        await self.feedback.sweep()
        await self.insights.run_if_due()
        if self.mail is not None:
            await self.mail.sweep()  # replies the SMTP relay did not take yet, when their next try is due
        if self.im is not None:
            await self.im.sweep()  # IM messages their provider did not take yet, when their next try is due

    async def _replay(self) -> None:
        """The bot's turn on each customer message it never answered (each once, across instances); those
        whose turn another instance holds are looked at again once it has had its time."""
        self._replay_at = None
        for message in await self._recovery.unanswered():
            try:
                done = await self.customers.replay(message)
            except Exception:
                logger.exception("conversation %s: answering message %s again failed", message.conversation_id,
                                 message.id)
                continue
            if not done:
                self._replay_at = self._clock() + self.settings.rasa_timeout + TURN_MARGIN

    async def _run_sweeper(self) -> None:
        """Sweep every ``sweep_interval`` seconds until closed; errors are logged, never fatal."""
        while not self._stopping.is_set():
            try:
                await self.sweep()
            except Exception:
                logger.exception("sweep failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.settings.sweep_interval)

    @property
    def closed(self) -> bool:
        return self._stopping.is_set()

    async def metrics(self, sockets: Mapping[str, int]) -> bytes:
        """This instance's metrics in Prometheus's text format, the live figures read now (``sockets``: the web
        layer's open sockets by kind; the alert rules' states from the alerts part, when there is one)."""
        return await self.telemetry.scrape(self._store, self._clock, sockets, self.alerts)

    async def dispatch(self) -> int:
        """Route the queue now (also done on every event that may free or need an agent)."""
        return await self._dispatch.dispatch()

    async def close(self) -> None:
        """Stop the sweeper, then close the bot client, the store and the ticket log (once)."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        for closer in self._closers:
            await closer()
        if self._sweeper is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        self.accounts.close()
        if self.mail is not None:
            await self.mail.close()
        if self.im is not None:
            await self.im.close()
        await self.alerts.close()
        await self.insights.close()
        await self.models.close()
        await self._bot.close()
        await self._store.close()
        await self._log.close()
