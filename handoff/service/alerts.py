"""Alerts: the rules of ``handoff/alerts.yml`` measured and evaluated by the sweeper, their notices delivered.

Every ``HANDOFF_ALERT_INTERVAL`` seconds (on the service's clock) the sweeper calls :meth:`Alerts.tick`. One
instance does the work for all: the holder of the store's ``alerts`` lease (:meth:`Store.lease`, renewed at
each tick, lapsing after three intervals without one). It measures each rule's metric, steps the rule's state
machine (:func:`handoff.core.alerting.step`), writes each notice (fire, repeat, resolve) to the ticket log and
delivers it in the background (never blocking the sweeper), retrying failed tries after
:attr:`Alerts.retry_delays`, and recording every delivery's outcome. The other instances mirror the alerts
still open in the log, so :meth:`Alerts.states` is the same everywhere; an instance taking the lease over
starts from them (nothing fires twice; a rule pending on the old holder starts its ``for`` again).

Metrics (:data:`handoff.core.alerting.METRICS`) come from the live store (the queue, agents' presence and load)
and from the ticket log (ratings, hand-offs, first responses).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import statistics
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from handoff.core.alerting import METRICS, AlertState, Notice, Phase, Rule, step
from handoff.core.errors import SettingsError
from handoff.core.model import Presence
from handoff.core.routing.schedule import BusinessHours
from handoff.core.staffing import Target
from handoff.core.targets import Targets
from handoff.service import policy
from handoff.service.auth import Principal
from handoff.service.ports import Clock, DeliveryFailed, Mail, SmtpServer, Store, TicketLog, Webhooks, recipient
from handoff.service.rules_file import RulesFile
from handoff.service.staffing import Staffing
from handoff.settings import HandoffSettings

logger = logging.getLogger(__name__)

LEASE = "alerts"
RECENT = 50  # episodes the history shows
STAFFING_REFRESH = 3600.0  # seconds a staffing figure is reused: history and roster change slowly, and each
# measurement reads four weeks of tickets (the simulated month's sweeper would pay it thousands of times)


def channels_of(settings: HandoffSettings, rules: tuple[Rule, ...]) -> tuple[Webhooks | None, Mail | None]:
    """The delivery channels the rules need, from the settings.

    Raises:
        SettingsError: a rule names webhooks but no signing secret is set, or e-mail but no SMTP server.
    """
    webhooks = mail = None
    if any(rule.webhooks for rule in rules):
        if settings.alert_webhook_secret is None:
            raise SettingsError("HANDOFF_ALERT_WEBHOOK_SECRET is not set, but alert rules send webhooks: set a "
                                "random value (e.g. `openssl rand -hex 32`) and give it to the receivers.")
        webhooks = Webhooks(str(settings.alert_webhook_secret))
    if any(rule.emails for rule in rules):
        if settings.smtp_host is None:
            raise SettingsError("HANDOFF_SMTP_HOST is not set, but alert rules send e-mail.")
        mail = Mail(SmtpServer(settings.smtp_host, settings.smtp_port, settings.smtp_from, settings.smtp_user,
                               str(settings.smtp_password) if settings.smtp_password else None,
                               settings.smtp_starttls))
    return webhooks, mail


def _quantile(values: list[float], fraction: float) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[round(fraction * 100) - 1]


class Alerts:
    """The rules, their states on this instance, and the work of the instance holding the lease."""

    retry_delays: tuple[float, ...] = (2.0, 10.0, 60.0)
    """Seconds before each retry of a failed delivery (real time: delivery is I/O)."""
    close_grace: float = 3.0
    """Seconds a stopping service waits for the deliveries under way before it interrupts them."""

    def __init__(self, settings: HandoffSettings, store: Store, log: TicketLog, targets: Targets,
                 rules: tuple[Rule, ...], clock: Clock, hours: BusinessHours | None = None,
                 rules_file: RulesFile[tuple[Rule, ...]] | None = None) -> None:
        self.rules = rules
        self._rules_file = rules_file  # read again when it changes (:meth:`tick`)
        self._retired: list[Rule] = []  # rules taken out of the file while firing: resolved at the next evaluation
        self._staffing = Staffing(log, hours or BusinessHours(), settings.abandon_after, clock)
        self._staffed: dict[str, tuple[float, float | None]] = {}  # rule -> (when measured, value)
        self._settings, self._store, self._log, self._targets, self._clock = settings, store, log, targets, clock
        self._webhooks, self._mail = channels_of(settings, rules)
        self._instance = uuid.uuid4().hex
        self._states = {rule.name: AlertState() for rule in rules}
        self._open: dict[str, int] = {}  # rule -> id of its open episode in the ticket log
        self._leading = False
        self._next = 0.0
        self._deliveries: set[asyncio.Task[None]] = set()

    def states(self) -> dict[str, bool]:
        """Each rule's name -> whether it is firing now (for /metrics and the console's badge)."""
        return {name: state.phase is Phase.FIRING for name, state in self._states.items()}

    async def tick(self) -> None:
        """Evaluate the rules if an interval has passed since the last time (the sweeper calls it each pass).
        Never raises: a failure is logged and the next interval tries again."""
        now = self._clock()
        self._reload()
        if not (self.rules or self._retired) or now < self._next:
            return
        self._next = now + self._settings.alert_interval
        try:
            await self.evaluate()
        except Exception:
            logger.exception("evaluating the alert rules failed; trying again in %s s", self._settings.alert_interval)

    def _reload(self) -> None:
        """Take up the rules file's new version, if it changed and reads well (:class:`RulesFile`), and its
        channels can be built (a webhook needs the signing secret, an e-mail the SMTP server). A rule that keeps
        its name keeps its state (a firing alert stays firing, or resolves at the next step against its new
        threshold); a rule taken out while firing is resolved, with a notice, at the next evaluation."""
        if self._rules_file is None or (rules := self._rules_file.changed()) is None:
            return
        kept = {rule.name for rule in rules}
        retired = [rule for rule in (*self.rules, *self._retired) if rule.name not in kept]
        try:
            self._webhooks, self._mail = channels_of(self._settings, (*rules, *retired))
        except SettingsError as exc:
            logger.error("%s The alert rules stay as they were.", exc)
            return
        self.rules, self._retired = rules, retired
        self._states = {name: state for name, state in self._states.items()
                        if name in kept or name in {rule.name for rule in retired}}
        self._states.update({rule.name: AlertState() for rule in rules if rule.name not in self._states})
        logger.info("alert rules now: %s", ", ".join(sorted(kept)) or "none")

    async def _retire(self, rule: Rule) -> None:
        """A rule taken out of the file: its open alert (if any) resolved, and its channels told so."""
        state = self._states.pop(rule.name, AlertState())
        alert_id = self._open.pop(rule.name, None)
        if alert_id is None:
            return
        now, limit, value = self._clock(), rule.limit(self._targets), state.value or 0.0
        event_id = await self._log.alerts.event(alert_id, Notice.RESOLVE.value, value=value, threshold=limit, at=now)
        logger.info("alert %s resolved: its rule was taken out of %s", rule.name, self._settings.alerts_config)
        self._states[rule.name] = state  # for the notice's payload, then gone
        payload = self._payload(rule, Notice.RESOLVE, alert_id, event_id, value, limit, now)
        del self._states[rule.name]
        self._deliver(rule, Notice.RESOLVE, event_id, payload)

    async def evaluate(self) -> None:
        """One evaluation: every rule stepped and its notices sent by the lease's holder; the others mirror
        the open alerts."""
        lease = max(3 * self._settings.alert_interval, 10.0)
        if not await self._store.lease(LEASE, self._instance, lease):
            self._leading = False
            self._retired = []  # the lease's holder resolves them
            await self._mirror()
            return
        if not self._leading:
            await self._mirror()  # taking over: start from what the previous holder left open
            self._leading = True
            logger.info("this instance evaluates the alert rules now")
        retired, self._retired = self._retired, []
        for rule in retired:
            await self._retire(rule)
        for rule in self.rules:
            try:
                value = await self.measure(rule)
            except Exception:
                logger.exception("alert %s: measuring %s failed", rule.name, rule.metric)
                continue
            await self._step(rule, value)

    async def _mirror(self) -> None:
        opened = {alert.rule: alert for alert in await self._log.alerts.open_alerts()}
        self._open = {rule: alert.id for rule, alert in opened.items()}
        self._states = {rule.name: AlertState() for rule in self.rules}
        for name, alert in opened.items():
            if name in self._states:
                self._states[name] = AlertState(Phase.FIRING, since=alert.fired_at.timestamp(),
                                                notified=alert.notified_at.timestamp(), value=alert.last_value)

    async def _step(self, rule: Rule, value: float | None) -> None:
        limit, now = rule.limit(self._targets), self._clock()
        before = self._states[rule.name]
        after, notice = step(rule, before, value, limit, now)
        self._states[rule.name] = after
        if notice is None:
            if after.phase is Phase.FIRING and value is not None and value != before.value:
                await self._log.alerts.event_value(self._open[rule.name], value)
            return
        assert value is not None  # step notifies only on a value
        if notice is Notice.FIRE:
            alert_id, event_id = await self._log.alerts.fire(
                rule=rule.name, metric=rule.metric, severity=rule.severity, comparison=rule.comparison,
                threshold=limit, value=value, at=now)
            self._open[rule.name] = alert_id
        else:
            alert_id = self._open.pop(rule.name) if notice is Notice.RESOLVE else self._open[rule.name]
            event_id = await self._log.alerts.event(alert_id, notice.value, value=value, threshold=limit, at=now)
        logger.log(logging.WARNING if notice is Notice.FIRE else logging.INFO, "alert %s %s: %s %s %s %s",
                   rule.name, notice.value, rule.metric, round(value, 3), rule.comparison, limit)
        self._deliver(rule, notice, event_id, self._payload(rule, notice, alert_id, event_id, value, limit, now))

    # ---- measuring ----------------------------------------------------------------------------------------

    async def measure(self, rule: Rule) -> float | None:
        """The rule's metric now; None when unknown (too few ratings, conversations or tickets)."""
        now, metric = self._clock(), rule.metric
        if metric.startswith("queue_"):
            waits = [max(0.0, now - (record.queued_at or now)) for record in await self._store.queued()]
            if metric == "queue_length":
                return float(len(waits))
            return max(waits, default=0.0) if metric == "queue_wait_max" else _quantile(sorted(waits), 0.9)
        if metric.startswith("agents_"):
            agents = await self._store.agents()
            if metric == "agents_online":
                return float(sum(agent.presence is Presence.ONLINE for agent in agents))
            return float(sum(agent.presence is not Presence.ONLINE and agent.load > 0 for agent in agents))
        if metric == "csat_average":
            scores = await self._log.alert_measures.csat_scores(rule.sample)
            return statistics.fmean(scores) if len(scores) >= rule.min_sample else None
        if metric == "handoff_rate":
            started, handed = await self._log.alert_measures.handoffs(now - rule.window_seconds)
            return handed / started if started >= rule.min_sample and started else None
        if metric == "first_response_sla":
            responses = await self._log.alert_measures.first_responses(now - rule.window_seconds)
            if len(responses) < rule.min_sample or not responses:
                return None
            return sum(r <= self._targets.first_response_seconds for r in responses) / len(responses)
        if metric == "understaffed_intervals_tomorrow":
            return await self._understaffed(rule, now)
        raise AssertionError(f"metric {metric} has no measure")

    async def _understaffed(self, rule: Rule, now: float) -> float | None:
        when, value = self._staffed.get(rule.name, (-math.inf, None))
        if now - when < STAFFING_REFRESH:
            return value
        target = Target(service_level=self._targets.sla_attainment, within=self._targets.queue_wait_seconds)
        value = await self._staffing.understaffed_tomorrow(
            target, min_tickets=rule.min_sample, history_days=max(1, math.ceil(rule.window_seconds / 86400)))
        self._staffed[rule.name] = (now, value)
        return value  # parse_rule admits only METRICS

    # ---- delivering -----------------------------------------------------------------------------------------

    def _payload(self, rule: Rule, notice: Notice, alert_id: int, event_id: int, value: float, limit: float,
                 now: float) -> dict[str, Any]:
        state = self._states[rule.name]
        return {"type": f"alert.{notice.value}", "event_id": event_id, "alert_id": alert_id, "rule": rule.name,
                "severity": rule.severity, "status": "resolved" if notice is Notice.RESOLVE else "firing",
                "metric": rule.metric, "unit": METRICS[rule.metric].unit, "comparison": rule.comparison,
                "threshold": limit, "target": rule.target, "value": round(value, 6), "at": now,
                "since": state.since, "description": rule.description}

    def _deliver(self, rule: Rule, notice: Notice, event_id: int, payload: dict[str, Any]) -> None:
        webhooks, mail = self._webhooks, self._mail
        for url in rule.webhooks:
            assert webhooks is not None  # channels_of made it
            self._background(event_id, "webhook", recipient(url), functools.partial(webhooks.send, url, payload))
        subject, text = mail_text(payload)
        for address in rule.emails:
            assert mail is not None
            self._background(event_id, "email", address, functools.partial(mail.send, address, subject, text))

    def _background(self, event_id: int, channel: str, to: str, send: Callable[[], Awaitable[None]]) -> None:
        task = asyncio.create_task(self._try(event_id, channel, to, send))
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def _try(self, event_id: int, channel: str, to: str, send: Callable[[], Awaitable[None]]) -> None:
        """Deliver, retrying after each of :attr:`retry_delays`, then record how it went: ``delivered``,
        ``failed``, or ``interrupted`` when the service stopped (:meth:`close`) before it was done."""
        attempts, error, outcome = 0, None, "failed"
        try:
            for delay in (*self.retry_delays, None):
                attempts += 1
                try:
                    await send()
                except DeliveryFailed as exc:
                    error = str(exc)
                    logger.warning("alert event %s: %s delivery to %s failed (try %d): %s", event_id, channel, to,
                                   attempts, error)
                else:
                    error, outcome = None, "delivered"
                    break
                if delay is not None:
                    await asyncio.sleep(delay)
        except asyncio.CancelledError:
            outcome, error = "interrupted", f"the service stopped after {attempts} tries ({error or 'under way'})"
            logger.warning("alert event %s: %s delivery to %s interrupted: %s", event_id, channel, to, error)
            await self._record(event_id, channel, to, attempts, outcome, error)
            raise
        await self._record(event_id, channel, to, attempts, outcome, error)

    async def _record(self, event_id: int, channel: str, to: str, attempts: int, outcome: str,
                      error: str | None) -> None:
        try:
            await self._log.alerts.delivered(event_id, channel=channel, recipient=to, attempts=attempts,
                                             outcome=outcome, error=error, at=self._clock())
        except Exception:
            logger.exception("alert event %s: recording the %s delivery's outcome failed", event_id, channel)

    async def settled(self) -> None:
        """Wait for the deliveries under way (tests; a shutdown that wants them done)."""
        while self._deliveries:
            await asyncio.gather(*self._deliveries, return_exceptions=True)

    # ---- what supervisors see -------------------------------------------------------------------------------

    async def overview(self, principal: Principal) -> dict[str, Any]:
        """The alerts firing now and the recent history (newest first), with each notice's deliveries."""
        policy.check(principal.role, policy.Action.READ_ALERTS)
        active = await self._log.alerts.open_alerts()
        recent = await self._log.alerts.recent(RECENT)
        return {"active": [alert.to_json() for alert in active], "recent": [alert.to_json() for alert in recent],
                "interval_seconds": self._settings.alert_interval}

    def rules_view(self, principal: Principal) -> dict[str, Any]:
        """The rules, with their thresholds now and each one's phase on this instance."""
        policy.check(principal.role, policy.Action.READ_ALERTS)
        return {"rules": [{**rule.to_json(self._targets), "phase": self._states[rule.name].phase.value,
                           "value": self._states[rule.name].value} for rule in self.rules],
                "metrics": {name: {"description": m.description, "unit": m.unit} for name, m in METRICS.items()}}

    async def close(self) -> None:
        """Give deliveries under way :attr:`close_grace` seconds, then stop those still retrying (recorded as
        ``interrupted``), and close the webhook client."""
        if self._deliveries:
            await asyncio.wait(set(self._deliveries), timeout=self.close_grace)
        for task in list(self._deliveries):
            task.cancel()
        await asyncio.gather(*self._deliveries, return_exceptions=True)
        if self._webhooks is not None:
            await self._webhooks.close()


def mail_text(payload: dict[str, Any]) -> tuple[str, str]:
    """An alert notice's e-mail: subject and plain text."""
    status = {"alert.fire": "FIRING", "alert.repeat": "STILL FIRING", "alert.resolve": "RESOLVED"}[payload["type"]]
    subject = f"[{payload['severity'].upper()}] {payload['rule']} {status}"
    lines = [f"Alert {payload['rule']} ({payload['severity']}): {status.lower()}.",
             payload["description"] or "", "",
             f"{payload['metric']} is {payload['value']:g} {payload['unit']}; the rule fires {payload['comparison']} "
             f"{payload['threshold']:g}" + (f" (target {payload['target']})" if payload["target"] else "") + ".",
             f"Alert {payload['alert_id']}, notice {payload['event_id']}."]
    return subject, "\n".join(lines) + "\n"
