"""The alerts' history: each episode of a rule (``alerts``), what it told its channels (``alert_events``: fire,
repeat, resolve) and how each delivery went (``alert_deliveries``). Written by the one instance that evaluates the
rules (:mod:`handoff.service.alerts`); read by the console's Alerts view and by an instance taking that work over
(the alerts still open are its starting state)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from handoff.adapters.tickets.database import Repository, utc
from handoff.adapters.tickets.models import Alert, AlertDelivery, AlertEvent, Conversation, Feedback, Ticket, Transition

HANDED_TO_PEOPLE = ("queued", "offline")
"""A conversation's move out of the bot's hands counts as a hand-off: into the queue, or out of hours into an
offline ticket a person answers later."""


@dataclass(frozen=True)
class AlertDeliveryView:
    channel: str
    recipient: str
    outcome: str
    attempts: int
    error: str | None
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"channel": self.channel, "recipient": self.recipient, "outcome": self.outcome,
                "attempts": self.attempts, "error": self.error, "at": self.at.isoformat()}


@dataclass(frozen=True)
class AlertEventView:
    id: int
    kind: str
    value: float
    threshold: float
    at: datetime
    deliveries: tuple[AlertDeliveryView, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "value": self.value, "threshold": self.threshold,
                "at": self.at.isoformat(), "deliveries": [d.to_json() for d in self.deliveries]}


@dataclass(frozen=True)
class AlertView:
    """One episode of a rule; ``notified_at``: its last event (fire or repeat while it holds)."""

    id: int
    rule: str
    metric: str
    severity: str
    comparison: str
    threshold: float
    value: float
    last_value: float
    fired_at: datetime
    resolved_at: datetime | None
    notified_at: datetime
    events: tuple[AlertEventView, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "rule": self.rule, "metric": self.metric, "severity": self.severity,
                "comparison": self.comparison, "threshold": self.threshold, "value": self.value,
                "last_value": self.last_value, "fired_at": self.fired_at.isoformat(),
                "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
                "notified_at": self.notified_at.isoformat(), "events": [e.to_json() for e in self.events]}


class AlertBook(Repository):
    """The alerts' history (a repository of :class:`~handoff.adapters.tickets.TicketLog`)."""

    async def fire(self, *, rule: str, metric: str, severity: str, comparison: str, threshold: float,
                   value: float, at: datetime | float) -> tuple[int, int]:
        """A new episode of ``rule`` and its ``fire`` event; ``(alert id, event id)``."""
        moment = utc(at)
        async with self._sessions() as session, session.begin():
            alert = Alert(rule=rule, metric=metric, severity=severity, comparison=comparison, threshold=threshold,
                          value=value, last_value=value, fired_at=moment, resolved_at=None)
            session.add(alert)
            await session.flush()
            event = AlertEvent(alert_id=alert.id, kind="fire", value=value, threshold=threshold, created_at=moment)
            session.add(event)
            await session.flush()
            return alert.id, event.id

    async def event(self, alert_id: int, kind: str, *, value: float, threshold: float,
                    at: datetime | float) -> int:
        """A ``repeat`` or ``resolve`` event of an open episode (``resolve`` closes it); the event's id."""
        moment = utc(at)
        changes: dict[str, Any] = {"last_value": value}
        if kind == "resolve":
            changes["resolved_at"] = moment
        async with self._sessions() as session, session.begin():
            await session.execute(update(Alert).where(Alert.id == alert_id).values(**changes))
            event = AlertEvent(alert_id=alert_id, kind=kind, value=value, threshold=threshold, created_at=moment)
            session.add(event)
            await session.flush()
            return event.id

    async def event_value(self, alert_id: int, value: float) -> None:
        """The last value seen of an open episode (between its notices)."""
        async with self._sessions() as session, session.begin():
            await session.execute(update(Alert).where(Alert.id == alert_id).values(last_value=value))

    async def delivered(self, event_id: int, *, channel: str, recipient: str, outcome: str, attempts: int,
                        error: str | None, at: datetime | float) -> None:
        """How one delivery of an event went (``delivered`` or ``failed``)."""
        async with self._sessions() as session, session.begin():
            session.add(AlertDelivery(event_id=event_id, channel=channel, recipient=recipient, outcome=outcome,
                                      attempts=attempts, error=error, created_at=utc(at)))

    async def open_alerts(self) -> list[AlertView]:
        """The episodes still holding (not resolved), oldest first, without their events."""
        last_event = (select(AlertEvent.alert_id, func.max(AlertEvent.created_at).label("at"))
                      .group_by(AlertEvent.alert_id).subquery())
        query = (select(Alert, last_event.c.at).join(last_event, last_event.c.alert_id == Alert.id)
                 .where(Alert.resolved_at.is_(None)).order_by(Alert.fired_at, Alert.id))
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [_view(alert, utc(at)) for alert, at in rows]

    async def recent(self, limit: int = 50) -> list[AlertView]:
        """The ``limit`` newest episodes, newest first, each with its events and their deliveries."""
        async with self._sessions() as session:
            alerts = (await session.scalars(select(Alert).order_by(Alert.fired_at.desc(), Alert.id.desc())
                                            .limit(limit))).all()
            ids = [alert.id for alert in alerts]
            events = (await session.scalars(select(AlertEvent).where(AlertEvent.alert_id.in_(ids))
                                            .order_by(AlertEvent.created_at, AlertEvent.id))).all()
            deliveries = (await session.scalars(
                select(AlertDelivery).where(AlertDelivery.event_id.in_([e.id for e in events]))
                .order_by(AlertDelivery.id))).all()
        by_event: dict[int, list[AlertDeliveryView]] = {}
        for d in deliveries:
            by_event.setdefault(d.event_id, []).append(AlertDeliveryView(d.channel, d.recipient, d.outcome,
                                                                         d.attempts, d.error, d.created_at))
        by_alert: dict[int, list[AlertEventView]] = {}
        for e in events:
            by_alert.setdefault(e.alert_id, []).append(AlertEventView(e.id, e.kind, e.value, e.threshold,
                                                                      e.created_at, tuple(by_event.get(e.id, ()))))
        result = []
        for alert in alerts:
            own = by_alert.get(alert.id, [])
            notified = max((e.at for e in own if e.kind != "resolve"), default=alert.fired_at)
            result.append(_view(alert, notified, tuple(own)))
        return result


class AlertMeasures(Repository):
    """The figures of the alert metrics that come from the ticket log (the live ones come from the store)."""

    async def csat_scores(self, limit: int) -> list[int]:
        """The newest ``limit`` customer ratings (feedback of kind ``csat``, 1-5), newest first."""
        query = (select(Feedback.score).where(Feedback.kind == "csat")
                 .order_by(Feedback.created_at.desc(), Feedback.id.desc()).limit(limit))
        async with self._sessions() as session:
            return list((await session.scalars(query)).all())

    async def handoffs(self, since: datetime | float) -> tuple[int, int]:
        """``(conversations started since, how many of them the bot handed to people)``."""
        start = utc(since)
        started = select(func.count(Conversation.id)).where(Conversation.created_at >= start)
        handed = (select(func.count(func.distinct(Transition.conversation_id)))
                  .join(Conversation, Conversation.id == Transition.conversation_id)
                  .where(Conversation.created_at >= start, Transition.from_state == "bot",
                         Transition.to_state.in_(HANDED_TO_PEOPLE)))
        async with self._sessions() as session:
            return int(await session.scalar(started) or 0), int(await session.scalar(handed) or 0)

    async def first_responses(self, since: datetime | float) -> list[float]:
        """Seconds from creation to the first agent reply of the tickets created since that got one."""
        query = select(Ticket.created_at, Ticket.first_response_at).where(
            Ticket.created_at >= utc(since), Ticket.first_response_at.is_not(None))
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [(first - created).total_seconds() for created, first in rows if first is not None]


def _view(alert: Alert, notified_at: datetime, events: tuple[AlertEventView, ...] = ()) -> AlertView:
    return AlertView(alert.id, alert.rule, alert.metric, alert.severity, alert.comparison, alert.threshold,
                     alert.value, alert.last_value, alert.fired_at, alert.resolved_at, notified_at, events)
