"""The shipped "understaffed tomorrow" alert rule: it fires when tomorrow's roster is short of what the measured
demand needs, and resolves when the team grows (handoff/alerts.yml, docs/alerts.md, docs/capacity.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from handoff.adapters.tickets import TicketLog
from handoff.core.alerting import Rule
from handoff.core.model import ConversationId, CustomerId
from tests.conftest import ROOT
from tests.handoff.conftest import OpenService
from tests.handoff.world import SUPERVISOR, FakeClock

# The service's clock starts on Wednesday 2026-11-25 14:00 UTC: tomorrow is a Thursday. On each of the four
# Thursdays before, 20 contacts between 10:00 and 10:30 UTC, each held 1200 s: 13.3 Erlangs, which Erlang C
# answers 80% within 60 s at 85% occupancy with 16 chats at once, 8 agents of 3 chats less 30% shrinkage.
# The seeded team is 4 agents with no shift windows (always on shift).
THURSDAYS = [datetime(2026, 11, 19, 10, 0, tzinfo=UTC) - timedelta(weeks=k) for k in range(4)]
EMBEDDED = pytest.mark.parametrize("profile", ["embedded"])  # the measure reads the ticket log only


async def busy_thursdays(database_url: str) -> None:
    log = await TicketLog.open(database_url)
    try:
        grace = next(a for a in await log.people.list_agents() if a.username == "grace")
        for week, thursday in enumerate(THURSDAYS):
            for n in range(20):
                created = thursday + timedelta(seconds=90 * n)
                conversation, customer = ConversationId(f"busy-{week}-{n}"), CustomerId(f"cu-busy-{n}")
                await log.conversations.create_conversation(conversation, customer, "web", created)
                ticket = await log.tickets.open_ticket(conversation, customer, "web", now=created,
                                                       priority="normal", tier=1, category="orders")
                await log.tickets.ticket_assigned(ticket, grace.agent_id, created + timedelta(seconds=20))
                await log.tickets.close_ticket(ticket, "resolved", created + timedelta(seconds=1220))
    finally:
        await log.close()


async def grow_team(database_url: str, capacity: int) -> None:
    log = await TicketLog.open(database_url)
    try:
        for agent in await log.people.list_agents():
            await log.people.update_agent(agent.agent_id, capacity=capacity)
    finally:
        await log.close()


def shipped_rule(tmp_path: Path) -> Path:
    shipped = yaml.safe_load((ROOT / "handoff" / "alerts.yml").read_text())
    (rule,) = [r for r in shipped["rules"] if r["metric"] == "understaffed_intervals_tomorrow"]
    path = tmp_path / "alerts.yml"
    path.write_text(yaml.safe_dump({"rules": [rule]}))
    return path


@EMBEDDED
async def test_the_shipped_rule_fires_on_a_short_roster_and_resolves_when_it_grows(
        open_service: OpenService, clock: FakeClock, database_url: str, tmp_path: Path) -> None:
    await busy_thursdays(database_url)
    service = await open_service(alerts_config=shipped_rule(tmp_path), alert_interval=10.0)
    await service.sweep()
    assert service.alerts.states() == {"understaffed-tomorrow": True}
    (active,) = (await service.alerts.overview(SUPERVISOR))["active"]
    assert (active["rule"], active["value"], active["threshold"]) == ("understaffed-tomorrow", 1, 0)
    await grow_team(database_url, capacity=10)  # 40 chats less 30%: 28 servers for 16 needed
    clock.advance(60)
    await service.sweep()
    assert service.alerts.states() == {"understaffed-tomorrow": True}  # measured at most once an hour
    clock.advance(3600)
    await service.sweep()
    assert service.alerts.states() == {"understaffed-tomorrow": False}


@EMBEDDED
async def test_too_little_history_is_unknown(open_service: OpenService, database_url: str,
                                             tmp_path: Path) -> None:
    service = await open_service(alerts_config=shipped_rule(tmp_path))
    rule = Rule(name="r", metric="understaffed_intervals_tomorrow", comparison="above", threshold=0.0,
                window_seconds=28 * 86400, min_sample=50)
    assert await service.alerts.measure(rule) is None  # no handled ticket at all
    await busy_thursdays(database_url)
    assert await service.alerts.measure(Rule(**{**rule.__dict__, "name": "other", "min_sample": 81})) is None
    assert await service.alerts.measure(Rule(**{**rule.__dict__, "name": "third", "min_sample": 80})) == 1
