"""Alerts: each metric measured from a state built by hand, and rules that fire, remind and resolve through a
real webhook receiver (an HTTP server on a free port, checking the signature) and a real SMTP server (aiosmtpd,
a process of its own), on the fake clock; two instances on one Redis notify once."""

from __future__ import annotations

import asyncio
import contextlib
import email
import hashlib
import hmac
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.datastructures import Secret

from handoff.adapters.tickets.database import make_engine
from handoff.adapters.tickets.models import Feedback
from handoff.core.alerting import Rule
from handoff.core.errors import SettingsError
from handoff.service import HandoffService
from tests.conftest import ROOT
from tests.handoff.conftest import OpenService
from tests.handoff.world import SUPERVISOR, Agent, Customer, FakeClock

SECRET = "whsec-test-secret"
WAIT = 10.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Receiver:
    """A webhook receiver: a real HTTP server in a thread that keeps every request and answers 204."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((self.path, dict(self.headers.items()), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    async def wait_for(self, count: int) -> list[dict[str, Any]]:
        """The first ``count`` payloads once they came, each checked against its signature."""
        deadline = time.monotonic() + WAIT
        while len(self.received) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert len(self.received) >= count, f"{len(self.received)} webhooks came, not {count}"
        return [verified(headers, body) for _, headers, body in self.received[:count]]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def verified(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """The payload, after checking ``Handoff-Signature`` as docs/alerts.md tells receivers to."""
    fields = dict(part.split("=", 1) for part in headers["Handoff-Signature"].split(","))
    expected = hmac.new(SECRET.encode(), fields["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(fields["v1"], expected), "bad signature"
    assert abs(time.time() - int(fields["t"])) < 300
    assert headers["Content-Type"] == "application/json"
    return json.loads(body)  # type: ignore[no-any-return]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


class Smtp:
    """A real SMTP server process (aiosmtpd) writing what it receives to a directory."""

    def __init__(self, directory: Path) -> None:
        self.directory, self.port = directory, free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{self.port}",
             "-c", "tests.handoff.service.smtp_recorder.Recorder", str(directory)],
            cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
        deadline = time.monotonic() + WAIT
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                break
            assert self.process.poll() is None and time.monotonic() < deadline, "aiosmtpd did not start"
            time.sleep(0.05)

    async def wait_for(self, count: int) -> list[tuple[list[str], Message]]:
        deadline = time.monotonic() + WAIT
        while len(list(self.directory.glob("*.eml"))) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        found = sorted(self.directory.glob("*.eml"), key=lambda p: int(p.stem))
        assert len(found) >= count, f"{len(found)} e-mails came, not {count}"
        return [(path.with_suffix(".rcpt").read_text().split("\n"), email.message_from_bytes(path.read_bytes()))
                for path in found[:count]]

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[Smtp]:
    directory = tmp_path / "mail"
    directory.mkdir()
    server = Smtp(directory)
    yield server
    server.close()


def rules_file(tmp_path: Path, *rules: dict[str, Any]) -> Path:
    path = tmp_path / "alerts.yml"
    path.write_text(yaml.safe_dump({"rules": list(rules)}))
    return path


async def escalated(service: HandoffService) -> Customer:
    customer = await Customer.start(service, name="Jo", email="jo@example.com")
    await customer.say("a person please")
    return customer


async def rate(database_url: str, conversation_id: str, *scores: int) -> None:
    """Customer ratings written as the feedback part writes them (kind csat, 1-5)."""
    engine = make_engine(database_url)
    async with async_sessionmaker(engine)() as session, session.begin():
        for n, score in enumerate(scores):
            session.add(Feedback(conversation_id=conversation_id, kind="csat", score=score, path="handoff",
                                 channel="web", intents=[], created_at=datetime(2026, 11, 25, 13, n, tzinfo=UTC)))
    await engine.dispose()


def rule(metric: str, **fields: Any) -> Rule:
    return Rule(name="r", metric=metric, comparison="above", threshold=0.0, **fields)


# ---- each metric, measured -------------------------------------------------------------------------------------


async def test_queue_metrics_are_the_waits_in_the_queue_now(service: HandoffService, clock: FakeClock) -> None:
    alerts = service.alerts
    assert [await alerts.measure(rule(m)) for m in ("queue_length", "queue_wait_p90", "queue_wait_max")] == [0, 0, 0]
    for _ in range(3):
        await escalated(service)
        clock.advance(60)
    # waits now: 180, 120, 60 s; the 90th percentile interpolates between the two longest
    assert await alerts.measure(rule("queue_length")) == 3
    assert await alerts.measure(rule("queue_wait_max")) == 180
    assert await alerts.measure(rule("queue_wait_p90")) == pytest.approx(168.0)


async def test_agent_metrics_count_presence_and_load(service: HandoffService) -> None:
    grace = await Agent.sign_in(service, "grace")
    linus = await Agent.sign_in(service, "linus")
    await linus.presence("away")
    assert await service.alerts.measure(rule("agents_online")) == 1
    await escalated(service)
    await service.dispatch()
    assert await service.alerts.measure(rule("agents_offline_with_conversations")) == 0
    await grace.presence("away")  # she keeps her conversation, away
    assert await service.alerts.measure(rule("agents_online")) == 0
    assert await service.alerts.measure(rule("agents_offline_with_conversations")) == 1


async def test_csat_average_is_over_the_last_sample_of_ratings(service: HandoffService, database_url: str) -> None:
    customer = await escalated(service)
    assert await service.alerts.measure(rule("csat_average", sample=3)) is None  # no ratings: unknown
    await rate(database_url, customer.conversation_id, 1, 5, 4, 3)  # the newest three: 5, 4, 3
    assert await service.alerts.measure(rule("csat_average", sample=3)) == 4.0
    assert await service.alerts.measure(rule("csat_average", sample=10)) == 3.25
    assert await service.alerts.measure(rule("csat_average", sample=10, min_sample=5)) is None


async def test_handoff_rate_is_the_share_of_the_windows_conversations_handed_off(
        service: HandoffService, clock: FakeClock) -> None:
    old = await escalated(service)  # started before the window
    clock.advance(7200)
    await escalated(service)
    await escalated(service)
    bot_only = await Customer.start(service)
    await bot_only.say("where is my parcel")
    assert old.conversation_id
    assert await service.alerts.measure(rule("handoff_rate", window_seconds=3600)) == pytest.approx(2 / 3)
    assert await service.alerts.measure(rule("handoff_rate", window_seconds=3600, min_sample=4)) is None
    assert await service.alerts.measure(rule("handoff_rate", window_seconds=9000)) == 0.75


async def test_first_response_sla_is_the_share_answered_within_the_target(
        service: HandoffService, clock: FakeClock) -> None:
    grace = await Agent.sign_in(service, "grace")
    assert await service.alerts.measure(rule("first_response_sla")) is None
    for wait in (10, 400):  # the target is 180 s
        customer = await escalated(service)
        await service.dispatch()
        clock.advance(wait)
        await grace.say(customer.conversation_id, "Hello, I am on it")
    assert await service.alerts.measure(rule("first_response_sla", window_seconds=3600)) == 0.5


# ---- firing, reminding, resolving through real channels -------------------------------------------------------


EMBEDDED = pytest.mark.parametrize("profile", ["embedded"])  # channels do not depend on the store


@EMBEDDED
async def test_a_rule_fires_repeats_and_resolves_by_webhook_and_email(
        open_service: OpenService, clock: FakeClock, tmp_path: Path, receiver: Receiver, smtp: Smtp) -> None:
    closed = free_port()  # nothing listens there: every try fails
    config = rules_file(tmp_path, {
        "name": "queue-busy", "metric": "queue_length", "above": 0, "for": "30s", "repeat": "5m",
        "severity": "critical", "description": "Customers are waiting.",
        "channels": {"webhooks": [f"{receiver.url}/hooks/alerts?token=abc", f"http://127.0.0.1:{closed}/down"],
                     "emails": ["lead@example.com"]}})
    service = await open_service(alerts_config=config, alert_interval=10.0, alert_webhook_secret=Secret(SECRET),
                                 smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_from="alerts@example.com")
    service.alerts.retry_delays = (0.05, 0.05)

    async def sweep_after(seconds: float) -> None:
        clock.advance(seconds)
        await service.sweep()

    await sweep_after(0)
    await escalated(service)
    await sweep_after(10)  # breached: pending
    assert service.alerts.states() == {"queue-busy": False}
    await sweep_after(30)  # held 30 s: fires
    assert service.alerts.states() == {"queue-busy": True}
    (fired,) = await receiver.wait_for(1)
    assert fired["type"] == "alert.fire" and fired["rule"] == "queue-busy" and fired["severity"] == "critical"
    assert (fired["value"], fired["comparison"], fired["threshold"], fired["status"]) == (1, "above", 0, "firing")
    assert receiver.received[0][0] == "/hooks/alerts?token=abc"
    for _ in range(29):
        await sweep_after(10)  # every interval for 290 s: nothing new
    await sweep_after(10)  # 5 minutes since the fire: a reminder
    fired, repeated = await receiver.wait_for(2)
    assert repeated["type"] == "alert.repeat" and repeated["alert_id"] == fired["alert_id"]
    agent = await Agent.sign_in(service, "grace")
    await service.dispatch()  # the queue empties
    await sweep_after(10)
    assert service.alerts.states() == {"queue-busy": False}
    *_, resolved = await receiver.wait_for(3)
    assert resolved["type"] == "alert.resolve" and resolved["status"] == "resolved" and resolved["value"] == 0
    mails = await smtp.wait_for(3)
    assert [recipients for recipients, _ in mails] == [["lead@example.com"]] * 3
    assert [m["Subject"] for _, m in mails] == ["[CRITICAL] queue-busy FIRING", "[CRITICAL] queue-busy STILL FIRING",
                                                "[CRITICAL] queue-busy RESOLVED"]
    assert mails[0][1]["From"] == "alerts@example.com" and mails[0][1]["To"] == "lead@example.com"
    assert "queue_length is 1 conversations; the rule fires above 0." in mails[0][1].get_payload()
    await service.alerts.settled()
    overview = await service.alerts.overview(SUPERVISOR)
    assert overview["active"] == []
    (episode,) = overview["recent"]
    assert episode["rule"] == "queue-busy" and episode["resolved_at"] is not None
    assert [event["kind"] for event in episode["events"]] == ["fire", "repeat", "resolve"]
    for event in episode["events"]:
        outcomes = {(d["channel"], d["recipient"]): (d["outcome"], d["attempts"]) for d in event["deliveries"]}
        assert outcomes == {("webhook", f"{receiver.url}/hooks/alerts"): ("delivered", 1),
                            ("webhook", f"http://127.0.0.1:{closed}/down"): ("failed", 3),
                            ("email", "lead@example.com"): ("delivered", 1)}
    assert agent.id


@EMBEDDED
async def test_a_rule_naming_a_target_fires_against_the_targets_value(
        open_service: OpenService, clock: FakeClock, tmp_path: Path) -> None:
    targets = tmp_path / "targets.yml"
    targets.write_text("queue_wait_seconds: 45\n")
    config = rules_file(tmp_path, {"name": "wait", "metric": "queue_wait_max", "above": "queue_wait_seconds"})
    service = await open_service(alerts_config=config, targets_config=targets, alert_interval=10.0)
    await escalated(service)
    clock.advance(40)
    await service.sweep()
    assert service.alerts.states() == {"wait": False}
    clock.advance(10)
    await service.sweep()
    assert service.alerts.states() == {"wait": True}
    (active,) = (await service.alerts.overview(SUPERVISOR))["active"]
    assert (active["value"], active["threshold"]) == (50, 45)
    (shown,) = service.alerts.rules_view(SUPERVISOR)["rules"]
    assert (shown["target"], shown["threshold"], shown["phase"]) == ("queue_wait_seconds", 45, "firing")


@EMBEDDED
async def test_channels_without_their_settings_stop_start_up(open_service: OpenService, tmp_path: Path) -> None:
    hook = rules_file(tmp_path, {"name": "a", "metric": "queue_length", "above": 0,
                                 "channels": {"webhooks": ["https://hooks.example.com/x"]}})
    with pytest.raises(SettingsError, match="HANDOFF_ALERT_WEBHOOK_SECRET"):
        await open_service(alerts_config=hook)
    mail = rules_file(tmp_path, {"name": "a", "metric": "queue_length", "above": 0,
                                 "channels": {"emails": ["lead@example.com"]}})
    with pytest.raises(SettingsError, match="HANDOFF_SMTP_HOST"):
        await open_service(alerts_config=mail)


@pytest.mark.parametrize("profile", ["production"])
async def test_two_instances_on_one_redis_notify_once(
        open_service: OpenService, clock: FakeClock, tmp_path: Path, receiver: Receiver) -> None:
    config = rules_file(tmp_path, {"name": "queue-busy", "metric": "queue_length", "above": 0,
                                   "channels": {"webhooks": [f"{receiver.url}/a"]}})
    options: dict[str, Any] = {"alerts_config": config, "alert_interval": 10.0,
                               "alert_webhook_secret": Secret(SECRET)}
    one, two = await open_service(**options), await open_service(**options)
    await escalated(one)
    for _ in range(3):
        clock.advance(10)
        await asyncio.gather(one.sweep(), two.sweep())
    await one.alerts.settled()
    await two.alerts.settled()
    assert one.alerts.states() == two.alerts.states() == {"queue-busy": True}  # the other one mirrors it
    await Agent.sign_in(two, "grace")
    await two.dispatch()
    for _ in range(2):
        clock.advance(10)
        await asyncio.gather(two.sweep(), one.sweep())
    await one.alerts.settled()
    await two.alerts.settled()
    assert [payload["type"] for payload in await receiver.wait_for(2)] == ["alert.fire", "alert.resolve"]
    await asyncio.sleep(0.2)
    assert len(receiver.received) == 2
    assert one.alerts.states() == two.alerts.states() == {"queue-busy": False}


@EMBEDDED
async def test_the_rules_file_is_read_again_when_it_changes(
        open_service: OpenService, clock: FakeClock, tmp_path: Path, receiver: Receiver,
        caplog: pytest.LogCaptureFixture) -> None:
    """Edited while the service runs: a rule that keeps its name keeps its state, a new one starts, a bad save
    changes nothing (and says so), and a rule taken out while firing is resolved with a notice."""
    busy = {"name": "queue-busy", "metric": "queue_length", "above": 0, "channels": {"webhooks": [receiver.url]}}
    config = rules_file(tmp_path, busy)
    service = await open_service(alerts_config=config, alert_interval=10.0, alert_webhook_secret=Secret(SECRET))
    service.alerts.retry_delays = ()
    await escalated(service)
    await service.sweep()
    assert service.alerts.states() == {"queue-busy": True}
    (fired,) = await receiver.wait_for(1)

    rules_file(tmp_path, busy, {"name": "long-queue", "metric": "queue_length", "above": 5})
    clock.advance(10)
    await service.sweep()
    assert service.alerts.states() == {"queue-busy": True, "long-queue": False}  # still the same episode
    assert len(receiver.received) == 1

    config.write_text("rules:\n  - name: [not, a, name\n")
    clock.advance(10)
    await service.sweep()
    assert service.alerts.states() == {"queue-busy": True, "long-queue": False}
    assert "is not valid YAML" in caplog.text and "The alert rules stay as they were until the file is fixed." in caplog.text

    rules_file(tmp_path, {"name": "long-queue", "metric": "queue_length", "above": 5})
    clock.advance(10)
    await service.sweep()
    assert service.alerts.states() == {"long-queue": False}
    _, resolved = await receiver.wait_for(2)
    assert (resolved["type"], resolved["rule"], resolved["alert_id"]) == ("alert.resolve", "queue-busy",
                                                                          fired["alert_id"])
    await service.alerts.settled()
    overview = await service.alerts.overview(SUPERVISOR)
    assert overview["active"] == [] and [a["rule"] for a in overview["recent"]] == ["queue-busy"]
    assert [rule["name"] for rule in service.alerts.rules_view(SUPERVISOR)["rules"]] == ["long-queue"]


@EMBEDDED
async def test_a_delivery_still_retrying_when_the_service_stops_is_recorded_as_interrupted(
        open_service: OpenService, tmp_path: Path) -> None:
    closed = free_port()  # nothing listens there: every try fails
    config = rules_file(tmp_path, {"name": "queue-busy", "metric": "queue_length", "above": 0,
                                   "channels": {"webhooks": [f"http://127.0.0.1:{closed}/down"]}})
    options: dict[str, Any] = {"alerts_config": config, "alert_interval": 10.0,
                               "alert_webhook_secret": Secret(SECRET)}
    service = await open_service(**options)
    service.alerts.retry_delays, service.alerts.close_grace = (60.0,), 0.2  # waiting to try again when it stops
    await escalated(service)
    await service.sweep()
    assert service.alerts.states() == {"queue-busy": True}
    await asyncio.sleep(0.3)  # the first try has failed
    await service.close()

    again = await open_service(**options)
    [episode] = (await again.alerts.overview(SUPERVISOR))["recent"]
    [delivery] = [d for event in episode["events"] for d in event["deliveries"]]
    assert (delivery["outcome"], delivery["attempts"]) == ("interrupted", 1)
    assert delivery["error"].startswith("the service stopped after 1 tries (")
